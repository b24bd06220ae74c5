"""Small hand-built ONNX graphs for the network tests, and running them on qconv and on ONNX Runtime.

A float graph is written with ``onnx.helper`` and quantized by ONNX Runtime
(``quantize_static``, QDQ or QOperator), or a quantized graph is written node
by node (:func:`qdq_model`) for the patterns ``quantize_static`` never writes.
:func:`run_both` runs a model with the golden accelerator and with ONNX
Runtime (the independent reference) on one input.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from model.config import AcceleratorConfig
from model.network import RequantRule, execute, golden_accelerator, import_model, prepare
from model.network.report import compare, quantized_output
from sim.onnx_reference import reference_tensors

F32 = np.float32
FORMATS = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}


def init(name: str, value) -> onnx.TensorProto:
    """An initializer; Python floats and float arrays become float32."""
    a = np.asarray(value)
    if a.dtype.kind == "f":
        a = a.astype(F32)
    return numpy_helper.from_array(a, name)


def _inferred(model: onnx.ModelProto) -> dict:
    """Tensor name -> inferred value info (intermediates and outputs)."""
    g = onnx.shape_inference.infer_shapes(model).graph
    return {v.name: v for v in (*g.value_info, *g.output) if v.type.tensor_type.HasField("shape")}


def float_model(nodes, inits, input_shape, output="y", opset=17, output_shape=None) -> onnx.ModelProto:
    """A float32 model with input ``x`` of ``input_shape`` and output ``output`` (shape inferred if not given)."""
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if output_shape is None:
        inferred = _inferred(model)
        if output in inferred:
            model.graph.output[0].CopyFrom(inferred[output])
    return model


def qdq_model(nodes, inits, input_shape, output="y", opset=17, output_type=TensorProto.FLOAT) -> onnx.ModelProto:
    """A hand-written quantized model (``com.microsoft`` imported for QOperator contrib ops)."""
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info(output, output_type, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    inferred = _inferred(model)
    if output in inferred:
        model.graph.output[0].CopyFrom(inferred[output])
    return model


class _Reader(CalibrationDataReader):
    def __init__(self, name, images):
        self._items = iter([{name: images[i:i + 1]} for i in range(len(images))])

    def get_next(self):
        return next(self._items, None)


def quantize(model: onnx.ModelProto, form: str, calibration: np.ndarray, per_channel: bool = True) -> onnx.ModelProto:
    """``quantize_static`` in ``form`` ("qdq" or "qoperator"): uint8 activations, int8 weights."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "quantized.onnx"
        onnx.save(model, src)
        quantize_static(str(src), str(dst), _Reader(model.graph.input[0].name, calibration.astype(F32)), quant_format=FORMATS[form],
                        per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
        return onnx.load(dst)


def run_both(model: onnx.ModelProto, x: np.ndarray, rule: RequantRule = RequantRule.ONNXRUNTIME,
             config: AcceleratorConfig | None = None, expose: bool = True):
    """``(graph, execution, reference tensors, comparisons)`` of ``model`` on ``x``.

    With ``expose`` every tensor is compared (and exposing them must not change
    ONNX Runtime's output); without, only the output of the plain model.
    """
    config = config or AcceleratorConfig()
    graph = import_model(model)
    execution = execute(graph, x.astype(F32), prepare(graph, config, rule), golden_accelerator(config))
    ref = reference_tensors(model, x.astype(F32), [n.output for n in graph.nodes])
    if expose:
        assert ref.consistent, "exposing intermediate tensors changed ONNX Runtime's output"
        reference = ref.tensors
    else:
        reference = {graph.output.tensor: quantized_output(graph, ref.output), graph.output.name: ref.output}
    return graph, execution, reference, compare(graph, execution, reference)


def q(name: str, x: str, scale: float, zero, out: str) -> list:
    """Initializers and a QuantizeLinear node ``out = Q(x)`` (the zero point's dtype picks uint8/int8)."""
    return [helper.make_node("QuantizeLinear", [x, f"{name}_s", f"{name}_z"], [out], name=name)], \
        [init(f"{name}_s", scale), numpy_helper.from_array(np.asarray(zero), f"{name}_z")]


def dq(name: str, x: str, scale, zero, out: str, axis: int | None = None) -> list:
    """Initializers and a DequantizeLinear node ``out = DQ(x)``."""
    attrs = {} if axis is None else {"axis": axis}
    return [helper.make_node("DequantizeLinear", [x, f"{name}_s", f"{name}_z"], [out], name=name, **attrs)], \
        [init(f"{name}_s", scale), numpy_helper.from_array(np.asarray(zero), f"{name}_z")]
