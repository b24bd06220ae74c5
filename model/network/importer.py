"""Import a quantized ONNX model, QDQ or QOperator, as an integer :class:`~model.network.graph.Graph`.

Everything is checked here, before anything runs; what is not supported is a
:class:`ModelError` (a ``ValueError``) naming the node, the op, the attribute
and what is supported -- never a silent approximation.

**QDQ** (what ``onnxruntime.quantization.quantize_static`` writes): each float
op reads ``DequantizeLinear`` outputs and its result goes (through at most one
Relu or Clip) into one ``QuantizeLinear``; the group becomes one integer node
whose output is the ``QuantizeLinear`` output. Weights and biases are
``DequantizeLinear`` of constants (int8/uint8 weights per tensor or per output
channel, int32 biases). This is the pattern ONNX Runtime itself fuses into
``QLinearConv``, ``QGemm``, ``QLinearMatMul``, ``QLinearAdd``,
``QLinearAveragePool``, ``QLinearGlobalAveragePool``, ``QLinearConcat`` (and
it drops the Q/DQ pair around MaxPool, Flatten and Reshape when the grid is
unchanged), so each node gets that kernel's arithmetic. A Relu/Clip between
DequantizeLinear and QuantizeLinear alone runs in float, as in ONNX Runtime.

**QOperator**: ``QLinearConv``, ``QLinearMatMul``, ``QLinearAdd``,
``QGemm``, ``QLinearAveragePool``, ``QLinearGlobalAveragePool``,
``QLinearConcat``, ``QuantizeLinear``/``DequantizeLinear``, and MaxPool,
Flatten, Reshape on integer tensors.

Activations are quantized per tensor (uint8 or int8); the network has one
input (float32, quantized by a ``QuantizeLinear``, or integer) and one output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from model.network.graph import (ActivationNode, AddNode, ConcatNode, ConvKind, ConvNode, Graph, Grid, InputSpec,
                                 ModelForm, Node, OutputSpec, PoolKind, PoolNode, QuantizeNode, ReshapeNode)
from model.network.host_ops import QType, dequantize, quantize

__all__ = ["ModelError", "FLOAT_OPS", "QOPERATOR_OPS", "QUANTIZE_RECIPE", "import_model", "load_model"]

#: Float ops a QDQ model may hold between DequantizeLinear and QuantizeLinear.
FLOAT_OPS = ("Conv", "Gemm", "MatMul", "Add", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool",
             "Flatten", "Reshape", "Concat")
#: Quantized operators of the QOperator form (``com.microsoft`` ones included).
QOPERATOR_OPS = ("QLinearConv", "QLinearMatMul", "QLinearAdd", "QGemm", "QLinearAveragePool",
                 "QLinearGlobalAveragePool", "QLinearConcat")
_QDQ = ("QuantizeLinear", "DequantizeLinear")
_SUPPORTED = (*_QDQ, *QOPERATOR_OPS, *FLOAT_OPS, "Constant")
_ACTIVATIONS = ("Relu", "Clip")
_QTYPES = {onnx.TensorProto.UINT8: QType.UINT8, onnx.TensorProto.INT8: QType.INT8}

#: How to quantize a float model for qconv (one line, quoted in the float-model error and docs/networks.md).
QUANTIZE_RECIPE = ("from onnxruntime.quantization import quantize_static, QuantFormat, QuantType; "
                   "quantize_static('model.onnx', 'model_int8.onnx', calibration_reader, "
                   "quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, "
                   "weight_type=QuantType.QInt8, reduce_range=True)")


class ModelError(ValueError):
    """The ONNX model cannot be run as it is (unsupported, float, corrupt or inconsistent)."""


def _node_name(node) -> str:
    return node.name or node.output[0]


def _where(node) -> str:
    return f"node {_node_name(node)!r} ({node.op_type})"


def _refuse(node, what: str) -> ModelError:
    return ModelError(f"{_where(node)}: {what}")


def load_model(source) -> onnx.ModelProto:
    """Read and validate an ONNX model (a path, serialized bytes or a ModelProto).

    Raises
    ------
    ModelError
        If the file is missing or corrupt, or the ONNX checker rejects the model.
    """
    if isinstance(source, onnx.ModelProto):
        model = source
    else:
        try:
            data = Path(source).read_bytes() if not isinstance(source, bytes) else source
            model = onnx.load_model_from_string(data)
        except OSError as err:
            raise ModelError(f"cannot read the model: {err}") from None
        except DecodeError as err:
            raise ModelError(f"{source if not isinstance(source, bytes) else 'model'} is not a valid ONNX file: {err}") \
                from None
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"the ONNX checker rejects the model: {first}") from None
    return model


@dataclass(frozen=True)
class _Dequantized:
    """A float tensor that is ``DequantizeLinear`` of an integer tensor (``source``) or of a constant (``value``)."""

    source: str | None
    value: np.ndarray | None
    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int64
    qtype: QType
    axis: int
    node: object


class _Importer:
    """One pass over a validated model (see the module notes)."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        g = model.graph
        self.consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for node in g.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = self._constant(node)
        self.producer = {o: n for n in g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.ranks = self._ranks(model)
        self.grids: dict[str, Grid] = {}
        self.dequantized: dict[str, _Dequantized] = {}
        self.nodes: list[Node] = []
        self.claimed: set[int] = set()
        self.uses_qdq = self.uses_qoperator = False

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _constant(node) -> np.ndarray:
        for a in node.attribute:
            if a.name == "value":
                return numpy_helper.to_array(a.t)
        raise _refuse(node, "only Constant nodes with a 'value' tensor are supported")

    @staticmethod
    def _ranks(model) -> dict[str, int]:
        inferred = onnx.shape_inference.infer_shapes(model)
        g = inferred.graph
        ranks = {}
        for vi in (*g.input, *g.value_info, *g.output):
            t = vi.type.tensor_type
            if t.HasField("shape"):
                ranks[vi.name] = len(t.shape.dim)
        return ranks

    @staticmethod
    def _attrs(node) -> dict:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def _check_attrs(self, node, allowed: dict) -> dict:
        """Attributes of ``node``; each must be a key of ``allowed`` (name -> check returning an error or None)."""
        attrs = self._attrs(node)
        for name, value in attrs.items():
            if name not in allowed:
                raise _refuse(node, f"attribute {name}={value!r} is not supported; supported attributes: "
                                    f"{', '.join(sorted(allowed)) or 'none'}")
            problem = allowed[name](value)
            if problem:
                raise _refuse(node, f"attribute {name}={value!r} is not supported; {problem}")
        return attrs

    def _const(self, node, index: int, what: str) -> np.ndarray:
        name = node.input[index] if index < len(node.input) else ""
        if name not in self.consts:
            raise _refuse(node, f"{what} ({name or 'missing'!r}) must be a constant initializer")
        return self.consts[name]

    def _scalar_grid(self, node, scale_index: int, zero_index: int) -> Grid:
        """A per-tensor grid from a node's scale and (optional) zero-point inputs."""
        scale = np.asarray(self._const(node, scale_index, "the scale"))
        has_zero = zero_index < len(node.input) and node.input[zero_index]
        zero = np.asarray(self._const(node, zero_index, "the zero point")) if has_zero else np.zeros((), np.uint8)
        if scale.size != 1 or zero.size != 1:
            raise _refuse(node, f"activations must be quantized per tensor (one scale and zero point), "
                                f"not with {scale.size} scales; per-channel quantization is supported for weights only")
        if scale.dtype != np.float32:
            raise _refuse(node, f"the scale must be float32, not {scale.dtype}")
        qtype = self._qtype(node, zero.dtype)
        try:
            return Grid(float(scale.reshape(())), int(zero.reshape(())), qtype)
        except ValueError as err:
            raise _refuse(node, str(err)) from None

    def _qtype(self, node, dtype) -> QType:
        try:
            return QType(np.dtype(dtype).name)
        except ValueError:
            raise _refuse(node, f"quantized type {np.dtype(dtype).name} is not supported; supported: uint8, int8") \
                from None

    def _integer(self, node, name: str) -> Grid:
        if name not in self.grids:
            raise _refuse(node, f"input {name!r} is not a quantized tensor (the output of a QuantizeLinear or a "
                                f"QLinear* node)")
        return self.grids[name]

    def _add(self, node: Node) -> None:
        if node.output in self.grids:
            raise ModelError(f"tensor {node.output!r} is written twice")
        self.grids[node.output] = node.grid
        self.nodes.append(node)

    def _single_use(self, node, tensor: str) -> None:
        users = self.consumers.get(tensor, [])
        outputs = {o.name for o in self.model.graph.output}
        if len(users) != 1 or tensor in outputs:
            raise _refuse(node, f"its float output {tensor!r} must feed exactly one node (the QuantizeLinear, or a "
                                f"Relu/Clip and then the QuantizeLinear), not {len(users)} node(s)"
                                f"{' and the graph output' if tensor in outputs else ''}")

    # -- the walk --------------------------------------------------------------------------------------

    def run(self) -> Graph:
        g = self.model.graph
        self._refuse_unsupported(g)
        spec = self._input_spec(g)
        for node in g.node:
            op = node.op_type
            if op == "Constant":
                continue
            if op == "DequantizeLinear":
                self._dequantize(node)
            elif op == "QuantizeLinear":
                self._quantize(node, spec)
            elif op in QOPERATOR_OPS:
                self.uses_qoperator = True
                self._add(getattr(self, f"_q_{op}")(node))
            elif op in ("MaxPool", "Flatten", "Reshape") and node.input[0] in self.grids:
                self.uses_qoperator = True
                self._add(self._layout(node, self.grids[node.input[0]], node.input[0], self.grids[node.input[0]],
                                       node.output[0]))
            # float ops are taken up by the QuantizeLinear that quantizes their result
        for node in g.node:
            if node.op_type in FLOAT_OPS and id(node) not in self.claimed and not (
                    node.op_type in ("MaxPool", "Flatten", "Reshape") and node.input[0] in self.grids):
                raise _refuse(node, f"its output {node.output[0]!r} is not quantized: a float op must read "
                                    f"DequantizeLinear outputs and feed one QuantizeLinear (optionally through "
                                    f"Relu/Clip)")
        output = self._output_spec(g)
        form = (ModelForm.MIXED if self.uses_qdq and self.uses_qoperator
                else ModelForm.QOPERATOR if self.uses_qoperator else ModelForm.QDQ)
        metadata = {p.key: p.value for p in self.model.metadata_props}
        return Graph(input=spec, nodes=tuple(self.nodes), output=output, grids=dict(self.grids), form=form,
                     metadata=metadata)

    def _refuse_unsupported(self, g) -> None:
        for node in g.node:
            known_domain = node.domain in ("", "ai.onnx") or (node.domain == "com.microsoft" and node.op_type in QOPERATOR_OPS)
            if node.op_type not in _SUPPORTED or not known_domain:
                raise _refuse(node, f"op {node.domain + '.' if node.domain else ''}{node.op_type} is not supported; "
                                    f"supported: {', '.join(_SUPPORTED)}")
        if not any(n.op_type in (*_QDQ, *QOPERATOR_OPS) for n in g.node):
            raise ModelError(f"this is a float model (no QuantizeLinear, DequantizeLinear or QLinear* node); qconv runs "
                             f"quantized models. Quantize it with ONNX Runtime: {QUANTIZE_RECIPE}")
        if len(g.output) != 1:
            raise ModelError(f"the model has {len(g.output)} outputs ({', '.join(o.name for o in g.output)}); "
                             f"qconv runs models with exactly one output")

    def _input_spec(self, g) -> InputSpec:
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ModelError(f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                             f"qconv runs models with exactly one input")
        vi = inputs[0]
        t = vi.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
        if t.elem_type == onnx.TensorProto.FLOAT:
            return InputSpec(vi.name, shape, None)
        if t.elem_type in _QTYPES:
            raise ModelError(f"input {vi.name!r} is an integer tensor without quantization parameters; qconv needs a "
                             f"float32 input followed by QuantizeLinear")
        raise ModelError(f"input {vi.name!r} has element type {onnx.TensorProto.DataType.Name(t.elem_type)}; "
                         f"supported: FLOAT")

    def _output_spec(self, g) -> OutputSpec:
        name = g.output[0].name
        if name in self.grids:
            return OutputSpec(name, name, False)
        dq = self.dequantized.get(name)
        if dq is not None and dq.source is not None:
            return OutputSpec(name, dq.source, True)
        raise ModelError(f"output {name!r} is neither a quantized tensor nor a DequantizeLinear of one")

    # -- QuantizeLinear / DequantizeLinear --------------------------------------------------------------

    def _dequantize(self, node) -> None:
        self._check_attrs(node, {"axis": lambda v: None})
        axis = self._attrs(node).get("axis", 1)
        x = node.input[0]
        scale = np.asarray(self._const(node, 1, "the scale"))
        zero = np.asarray(self._const(node, 2, "the zero point")) if len(node.input) > 2 and node.input[2] \
            else np.zeros(scale.shape, np.uint8)
        if scale.dtype != np.float32:
            raise _refuse(node, f"the scale must be float32, not {scale.dtype}")
        if x in self.consts:
            value = self.consts[x]
            qtype = None if value.dtype == np.int32 else self._qtype(node, value.dtype)
            self.dequantized[node.output[0]] = _Dequantized(None, value, scale.astype(np.float32),
                                                            zero.astype(np.int64), qtype, axis, node)
            return
        grid = self._integer(node, x)
        if scale.size != 1:
            raise _refuse(node, "activations must be dequantized per tensor")
        self.dequantized[node.output[0]] = _Dequantized(x, None, scale.reshape(()), zero.reshape(()).astype(np.int64),
                                                        grid.qtype, axis, node)

    def _quantize(self, node, spec: InputSpec) -> None:
        self._check_attrs(node, {"axis": lambda v: None, "saturate": lambda v: None if v == 1 else "only 1"})
        grid = self._scalar_grid(node, 1, 2)
        x, out = node.input[0], node.output[0]
        if x == spec.name:
            self._add(QuantizeNode(name=_node_name(node), op="QuantizeLinear", inputs=(x,), output=out, grid=grid))
            return
        self.uses_qdq = True
        if x in self.dequantized:
            raise _refuse(node, f"it quantizes a DequantizeLinear output ({x!r}) directly; such Q/DQ pairs are "
                                f"rewritten by ONNX Runtime's optimizer, so their result is not defined node by node "
                                f"-- remove the pair (or put an op between them)")
        producer = self.producer.get(x)
        if producer is None or producer.op_type not in FLOAT_OPS:
            raise _refuse(node, f"its input {x!r} is neither the network input nor the result of a supported "
                                f"float op ({', '.join(FLOAT_OPS)})")
        act = None
        core = producer
        if producer.op_type in _ACTIVATIONS:
            self._single_use(producer, x)
            act = self._activation_bounds(producer)
            self.claimed.add(id(producer))
            inner = producer.input[0]
            if inner in self.dequantized:  # DequantizeLinear -> Relu/Clip -> QuantizeLinear: the float path
                dq = self._activation_input(producer, inner)
                self._add(ActivationNode(name=_node_name(producer), op=producer.op_type, inputs=(dq.source,),
                                         output=out, grid=grid, input_grid=self.grids[dq.source], lo=act[0], hi=act[1]))
                return
            core = self.producer.get(inner)
            if core is None or core.op_type not in ("Conv", "Gemm", "MatMul", "Add"):
                raise _refuse(producer, f"a {producer.op_type} before QuantizeLinear must follow Conv, Gemm, MatMul "
                                        f"or Add, or read a DequantizeLinear output directly")
            self._single_use(core, inner)
        else:
            self._single_use(core, x)
        self.claimed.add(id(core))
        self._add(getattr(self, f"_f_{core.op_type}")(core, grid, out, act))

    def _activation_bounds(self, node) -> tuple[float, float]:
        if node.op_type == "Relu":
            self._check_attrs(node, {})
            return 0.0, float("inf")
        attrs = self._check_attrs(node, {"min": lambda v: None, "max": lambda v: None})
        lo, hi = attrs.get("min", -np.inf), attrs.get("max", np.inf)
        for index, name in ((1, "min"), (2, "max")):
            if index < len(node.input) and node.input[index]:
                value = np.asarray(self._const(node, index, f"the {name} bound"))
                if value.size != 1:
                    raise _refuse(node, f"the {name} bound must be a scalar")
                lo, hi = (float(value.reshape(())), hi) if name == "min" else (lo, float(value.reshape(())))
        return float(np.float32(lo)), float(np.float32(hi))

    def _activation_input(self, node, name: str) -> _Dequantized:
        dq = self.dequantized.get(name)
        if dq is None or dq.source is None:
            raise _refuse(node, f"its input {name!r} must be a DequantizeLinear of a quantized tensor")
        return dq

    def _weights(self, node, index: int, axis: int, what: str) -> _Dequantized:
        name = node.input[index]
        dq = self.dequantized.get(name)
        if dq is None or dq.value is None or dq.qtype is None:
            raise _refuse(node, f"the {what} ({name!r}) must be a DequantizeLinear of an int8/uint8 constant")
        if dq.scale.size != 1 and (dq.axis % dq.value.ndim != axis % dq.value.ndim):
            raise _refuse(dq.node, f"per-channel {what} must be quantized along axis {axis}, not axis {dq.axis}")
        return dq

    def _bias(self, node, index: int, filters: int) -> np.ndarray:
        if index >= len(node.input) or not node.input[index]:
            return np.zeros(filters, np.int64)
        dq = self.dequantized.get(node.input[index])
        if dq is None or dq.value is None or dq.value.dtype != np.int32 or np.any(dq.zero_point != 0):
            raise _refuse(node, f"the bias ({node.input[index]!r}) must be a DequantizeLinear of an int32 constant "
                                f"with zero point 0 (as quantize_static writes)")
        return self._bias_values(node, dq.value, filters)

    @staticmethod
    def _bias_values(node, value: np.ndarray, filters: int) -> np.ndarray:
        if value.shape != (filters,) or value.dtype != np.int32:
            raise _refuse(node, f"the bias must be int32 of shape ({filters},), not {value.dtype} {value.shape}")
        return value.astype(np.int64)

    # -- accelerator nodes --------------------------------------------------------------------------------

    def _conv_attrs(self, node, weights: np.ndarray) -> dict:
        if weights.ndim != 4:
            raise _refuse(node, f"only 2-D convolutions are supported (weights of rank 4), not rank {weights.ndim}")
        ones = lambda v: None if all(int(d) == 1 for d in v) else "only dilation 1"  # noqa: E731
        attrs = self._check_attrs(node, {
            "auto_pad": lambda v: None if v in (b"NOTSET", b"VALID") else "only NOTSET or VALID (give explicit pads)",
            "dilations": ones, "group": lambda v: None if v >= 1 else "groups must be >= 1",
            "kernel_shape": lambda v: None if tuple(v) == weights.shape[2:] else f"must equal the weights' {weights.shape[2:]}",
            "pads": lambda v: None if len(v) == 4 and min(v) >= 0 else "four non-negative values (top, left, bottom, right)",
            "strides": lambda v: None if len(v) == 2 and min(v) >= 1 else "two values >= 1",
        })
        groups = int(attrs.get("group", 1))
        if weights.shape[0] % groups:
            raise _refuse(node, f"M={weights.shape[0]} filters are not a multiple of group={groups}")
        top, left, bottom, right = (int(p) for p in attrs.get("pads", (0, 0, 0, 0)))
        return {"stride": tuple(int(s) for s in attrs.get("strides", (1, 1))), "pads": (top, left, bottom, right),
                "groups": groups}

    def _conv_node(self, node, x: str, input_grid: Grid, w: np.ndarray, w_scale, w_zero, bias,
                   grid: Grid, out: str, act, kind: ConvKind, attrs: dict) -> ConvNode:
        filters = w.shape[0]
        per_filter = lambda a, dtype: np.broadcast_to(np.asarray(a).reshape(-1), (filters,)).astype(dtype)  # noqa: E731
        if np.asarray(w_scale).size not in (1, filters) or np.asarray(w_zero).size not in (1, filters):
            raise _refuse(node, f"the weights need one scale and zero point per tensor or per output channel ({filters})")
        return ConvNode(name=_node_name(node), op=node.op_type, inputs=(x,), output=out, grid=grid,
                        input_grid=input_grid, weights=np.asarray(w, np.int64), weight_zero_point=per_filter(w_zero, np.int64),
                        weight_scale=per_filter(w_scale, np.float32), bias=bias, clamp=_clamp(grid, act),
                        kind=kind, **attrs)

    def _f_Conv(self, node, grid: Grid, out: str, act) -> ConvNode:
        x = self._activation_input(node, node.input[0])
        w = self._weights(node, 1, 0, "weights")
        attrs = self._conv_attrs(node, w.value)
        bias = self._bias(node, 2, w.value.shape[0])
        return self._conv_node(node, x.source, self.grids[x.source], w.value, w.scale, w.zero_point, bias,
                               grid, out, act, ConvKind.CONV, attrs)

    def _matrix(self, node, weights: np.ndarray, transposed: bool) -> np.ndarray:
        """(K, N) or transposed (N, K) weights as M, K, 1, 1."""
        if weights.ndim != 2:
            raise _refuse(node, f"the weight matrix must be 2-D, not of shape {weights.shape}")
        if self.ranks.get(node.input[0], 2) != 2:
            raise _refuse(node, f"the input must be 2-D (N, K), not of rank {self.ranks[node.input[0]]}")
        m = weights if transposed else weights.T
        return m.reshape(m.shape[0], m.shape[1], 1, 1)

    def _gemm_attrs(self, node) -> bool:
        attrs = self._check_attrs(node, {
            "alpha": lambda v: None if v == 1.0 else "only alpha=1", "beta": lambda v: None if v == 1.0 else "only beta=1",
            "transA": lambda v: None if v == 0 else "only transA=0", "transB": lambda v: None})
        return bool(attrs.get("transB", 0))

    def _f_Gemm(self, node, grid: Grid, out: str, act) -> ConvNode:
        trans_b = self._gemm_attrs(node)
        x = self._activation_input(node, node.input[0])
        w = self._weights(node, 1, 0 if trans_b else 1, "weights")
        weights = self._matrix(node, w.value, trans_b)
        bias = self._bias(node, 2, weights.shape[0])
        return self._conv_node(node, x.source, self.grids[x.source], weights, w.scale, w.zero_point, bias,
                               grid, out, act, ConvKind.MATMUL, {})

    def _f_MatMul(self, node, grid: Grid, out: str, act) -> ConvNode:
        self._check_attrs(node, {})
        x = self._activation_input(node, node.input[0])
        w = self._weights(node, 1, 1, "weights")
        weights = self._matrix(node, w.value, False)
        return self._conv_node(node, x.source, self.grids[x.source], weights, w.scale, w.zero_point,
                               np.zeros(weights.shape[0], np.int64), grid, out, act, ConvKind.MATMUL, {})

    def _q_weights(self, node, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Constant weights, their scale and zero point at inputs ``index .. index+2`` of a QLinear node."""
        w = self._const(node, index, "the weights")
        scale = np.asarray(self._const(node, index + 1, "the weight scale"))
        zero = np.asarray(self._const(node, index + 2, "the weight zero point"))
        self._qtype(node, w.dtype)
        if zero.dtype != w.dtype or scale.dtype != np.float32:
            raise _refuse(node, f"the weight zero point must be {w.dtype} and the scale float32, not "
                                f"{zero.dtype} and {scale.dtype}")
        return w, scale, zero.astype(np.int64)

    def _q_QLinearConv(self, node) -> ConvNode:
        grid_in = self._integer(node, node.input[0])
        if self._scalar_grid(node, 1, 2) != grid_in:
            raise _refuse(node, "x_scale/x_zero_point must be those of its input tensor's QuantizeLinear")
        w, w_scale, w_zero = self._q_weights(node, 3)
        attrs = self._conv_attrs(node, w)
        grid = self._scalar_grid(node, 6, 7)
        bias = (self._bias_values(node, self._const(node, 8, "the bias"), w.shape[0])
                if len(node.input) > 8 and node.input[8] else np.zeros(w.shape[0], np.int64))
        return self._conv_node(node, node.input[0], grid_in, w, w_scale, w_zero, bias, grid, node.output[0],
                               None, ConvKind.CONV, attrs)

    def _q_QLinearMatMul(self, node) -> ConvNode:
        self._check_attrs(node, {})
        grid_in = self._checked_input_grid(node, 0, 1, 2)
        w, w_scale, w_zero = self._q_weights(node, 3)
        weights = self._matrix(node, w, False)
        grid = self._scalar_grid(node, 6, 7)
        return self._conv_node(node, node.input[0], grid_in, weights, w_scale, w_zero,
                               np.zeros(weights.shape[0], np.int64), grid, node.output[0], None, ConvKind.MATMUL, {})

    def _q_QGemm(self, node) -> ConvNode:
        trans_b = self._gemm_attrs(node)
        grid_in = self._checked_input_grid(node, 0, 1, 2)
        w, w_scale, w_zero = self._q_weights(node, 3)
        weights = self._matrix(node, w, trans_b)
        if len(node.input) < 9 or not node.input[7]:
            raise _refuse(node, "a QGemm without y_scale has a float output; qconv needs a quantized output")
        grid = self._scalar_grid(node, 7, 8)
        bias = (self._bias_values(node, self._const(node, 6, "the bias"), weights.shape[0]) if node.input[6]
                else np.zeros(weights.shape[0], np.int64))
        return self._conv_node(node, node.input[0], grid_in, weights, w_scale, w_zero, bias, grid,
                               node.output[0], None, ConvKind.MATMUL, {})

    def _checked_input_grid(self, node, tensor: int, scale: int, zero: int) -> Grid:
        grid = self._integer(node, node.input[tensor])
        if self._scalar_grid(node, scale, zero) != grid:
            raise _refuse(node, f"the scale/zero point of input {node.input[tensor]!r} must be those of its "
                                f"QuantizeLinear")
        return grid

    # -- host nodes -------------------------------------------------------------------------------------------

    def _f_Add(self, node, grid: Grid, out: str, act) -> AddNode:
        self._check_attrs(node, {})
        a, b = (self._activation_input(node, i) for i in node.input)
        grids = (self.grids[a.source], self.grids[b.source])
        return AddNode(name=_node_name(node), op="Add", inputs=(a.source, b.source), output=out, grid=grid,
                       input_grids=grids, fused=_onnxruntime_fuses(act, grid), act=act, clamp=_clamp(grid, act))

    def _q_QLinearAdd(self, node) -> AddNode:
        self._check_attrs(node, {})
        ga = self._checked_input_grid(node, 0, 1, 2)
        gb = self._checked_input_grid(node, 3, 4, 5)
        grid = self._scalar_grid(node, 6, 7)
        return AddNode(name=_node_name(node), op=node.op_type, inputs=(node.input[0], node.input[3]),
                       output=node.output[0], grid=grid, input_grids=(ga, gb), fused=True, act=None,
                       clamp=_clamp(grid, None))

    def _pool_attrs(self, node, kind: PoolKind) -> dict:
        if kind is PoolKind.GLOBAL_AVERAGE:
            self._check_attrs(node, {"channels_last": lambda v: None if v == 0 else "only channels_last=0"})
            return {}
        if len(node.output) > 1 and node.output[1]:
            raise _refuse(node, "the Indices output is not supported")
        two = lambda v: None if len(v) == 2 else "2-D pooling only"  # noqa: E731
        allowed = {
            "auto_pad": lambda v: None if v in (b"NOTSET", b"VALID") else "only NOTSET or VALID (give explicit pads)",
            "ceil_mode": lambda v: None if v == 0 else "only ceil_mode=0",
            "kernel_shape": two, "strides": two,
            "pads": lambda v: None if len(v) == 4 and min(v) >= 0 else "four non-negative values",
            "dilations": lambda v: None if all(int(d) == 1 for d in v) else "only dilation 1",
            "channels_last": lambda v: None if v == 0 else "only channels_last=0",
        }
        if kind is PoolKind.MAX:
            allowed["storage_order"] = lambda v: None if v == 0 else "only storage_order=0"
        else:
            allowed["count_include_pad"] = lambda v: None
        attrs = self._check_attrs(node, allowed)
        if "kernel_shape" not in attrs:
            raise _refuse(node, "kernel_shape is required")
        return {"kernel": tuple(int(k) for k in attrs["kernel_shape"]),
                "stride": tuple(int(s) for s in attrs.get("strides", (1, 1))),
                "pads": tuple(int(p) for p in attrs.get("pads", (0, 0, 0, 0))),
                "count_include_pad": bool(attrs.get("count_include_pad", 0))}

    def _pool(self, node, kind: PoolKind, x: str, grid_in: Grid, grid: Grid, out: str) -> PoolNode:
        return PoolNode(name=_node_name(node), op=node.op_type, inputs=(x,), output=out, grid=grid, kind=kind,
                        input_grid=grid_in, **self._pool_attrs(node, kind))

    def _no_act(self, node, act) -> None:
        if act is not None:
            raise _refuse(node, "a Relu/Clip after it is not supported (only after Conv, Gemm, MatMul and Add)")

    def _f_pool(self, node, kind, grid, out, act) -> PoolNode:
        self._no_act(node, act)
        x = self._activation_input(node, node.input[0])
        return self._pool(node, kind, x.source, self.grids[x.source], grid, out)

    def _f_MaxPool(self, node, grid, out, act):
        return self._f_pool(node, PoolKind.MAX, grid, out, act)

    def _f_AveragePool(self, node, grid, out, act):
        return self._f_pool(node, PoolKind.AVERAGE, grid, out, act)

    def _f_GlobalAveragePool(self, node, grid, out, act):
        return self._f_pool(node, PoolKind.GLOBAL_AVERAGE, grid, out, act)

    def _q_QLinearAveragePool(self, node) -> PoolNode:
        grid_in = self._checked_input_grid(node, 0, 1, 2)
        return self._pool(node, PoolKind.AVERAGE, node.input[0], grid_in, self._scalar_grid(node, 3, 4), node.output[0])

    def _q_QLinearGlobalAveragePool(self, node) -> PoolNode:
        grid_in = self._checked_input_grid(node, 0, 1, 2)
        return self._pool(node, PoolKind.GLOBAL_AVERAGE, node.input[0], grid_in, self._scalar_grid(node, 3, 4),
                          node.output[0])

    def _layout(self, node, grid_in: Grid, x: str, grid: Grid, out: str) -> Node:
        if node.op_type == "MaxPool":
            return self._pool(node, PoolKind.MAX, x, grid_in, grid, out)
        if node.op_type == "Flatten":
            attrs = self._check_attrs(node, {"axis": lambda v: None})
            return ReshapeNode(name=_node_name(node), op="Flatten", inputs=(x,), output=out, grid=grid,
                               input_grid=grid_in, flatten_axis=int(attrs.get("axis", 1)))
        attrs = self._check_attrs(node, {"allowzero": lambda v: None})
        shape = np.asarray(self._const(node, 1, "the target shape"))
        if shape.ndim != 1 or not np.issubdtype(shape.dtype, np.integer):
            raise _refuse(node, "the target shape must be a 1-D integer constant")
        return ReshapeNode(name=_node_name(node), op="Reshape", inputs=(x,), output=out, grid=grid, input_grid=grid_in,
                           shape=tuple(int(s) for s in shape), allowzero=bool(attrs.get("allowzero", 0)))

    def _f_layout(self, node, grid, out, act) -> Node:
        self._no_act(node, act)
        x = self._activation_input(node, node.input[0])
        return self._layout(node, self.grids[x.source], x.source, grid, out)

    _f_Flatten = _f_Reshape = _f_layout

    def _f_Concat(self, node, grid, out, act) -> ConcatNode:
        self._no_act(node, act)
        attrs = self._check_attrs(node, {"axis": lambda v: None})
        xs = [self._activation_input(node, i) for i in node.input]
        return ConcatNode(name=_node_name(node), op="Concat", inputs=tuple(x.source for x in xs), output=out, grid=grid,
                          input_grids=tuple(self.grids[x.source] for x in xs), axis=int(attrs["axis"]))

    def _q_QLinearConcat(self, node) -> ConcatNode:
        attrs = self._check_attrs(node, {"axis": lambda v: None})
        grid = self._scalar_grid(node, 0, 1)
        triples = node.input[2:]
        if len(triples) % 3 or not triples:
            raise _refuse(node, "inputs must be Y_scale, Y_zero_point, then (tensor, scale, zero point) triples")
        grids = tuple(self._checked_input_grid(node, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i) for i in range(len(triples) // 3))
        return ConcatNode(name=_node_name(node), op=node.op_type, inputs=tuple(triples[::3]), output=node.output[0],
                          grid=grid, input_grids=grids, axis=int(attrs["axis"]))


def _clamp(grid: Grid, act) -> tuple[int, int]:
    """Output range left by a fused Relu/Clip with real bounds ``act``: ``(quantize(lo), quantize(hi))``.

    Exact: quantization is monotone, so ``quantize(clip(v)) == clip(quantize(v), quantize(lo), quantize(hi))``.
    """
    lo, hi = grid.qtype.lo, grid.qtype.hi
    if act is None:
        return lo, hi
    bound = lambda v: int(quantize(np.float32(v), grid.scale, grid.zero_point, grid.qtype)) if np.isfinite(v) else None  # noqa: E731
    qlo, qhi = bound(act[0]), bound(act[1])
    return (lo if qlo is None else qlo), (hi if qhi is None else qhi)


def _onnxruntime_fuses(act, grid: Grid) -> bool:
    """Whether ONNX Runtime drops a Relu/Clip before a QuantizeLinear (so the Add before it is fused).

    A Relu goes when the zero point is the type's lowest value; a Clip when
    its bounds take in every real value the grid represents.
    """
    if act is None:
        return True
    lo_real, hi_real = (float(dequantize(np.array(q), grid.scale, grid.zero_point)) for q in (grid.qtype.lo, grid.qtype.hi))
    if act == (0.0, float("inf")):
        return grid.zero_point == grid.qtype.lo
    return act[0] <= lo_real and act[1] >= hi_real


def import_model(source) -> Graph:
    """Import a quantized ONNX model (path, bytes or ModelProto) as an integer :class:`Graph`.

    Raises
    ------
    ModelError
        For a corrupt or invalid file, a float model (the message gives the
        ``quantize_static`` recipe), an unsupported op or attribute, or a
        graph whose float ops are not all quantized; the message names the
        node, the op and what is supported.
    """
    return _Importer(load_model(source)).run()
