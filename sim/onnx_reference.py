"""ONNX Runtime as the independent reference: quantizing float models and every tensor of a quantized one.

ONNX Runtime (CPU) is only used here and in the tests; :mod:`model` never
imports it. :func:`quantize_model` is ``quantize_static`` with the settings of
the issue (QDQ, per-channel int8 weights, uint8 activations, MinMax
calibration); :func:`reference_tensors` runs a model with the chosen
intermediate tensors added to its outputs (which does not change what ONNX
Runtime computes: its fusions keep a QuantizeLinear output that is also a
graph output) and checks that the final output equals a plain session's.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

__all__ = ["session", "quantize_model", "Reference", "reference_tensors", "time_inference"]

_PROVIDERS = ["CPUExecutionProvider"]


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    """A CPU session at ONNX Runtime's default optimisation level (what a user gets), warnings silenced."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=_PROVIDERS)


class _Images(CalibrationDataReader):
    """Calibration batches of one image each."""

    def __init__(self, name: str, images: np.ndarray):
        self._items = iter([{name: images[i:i + 1].astype(np.float32)} for i in range(len(images))])

    def get_next(self):
        return next(self._items, None)


def quantize_model(model: onnx.ModelProto, calibration: np.ndarray, path: Path) -> Path:
    """Quantize a float model with ONNX Runtime's ``quantize_static`` on ``calibration`` images; write ``path``.

    QDQ format, per-channel symmetric int8 weights, uint8 activations, MinMax
    calibration: the recipe of ``docs/networks.md``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        float_path = Path(tmp) / "float.onnx"
        onnx.save(model, float_path)
        quantize_static(str(float_path), str(path), _Images(model.graph.input[0].name, calibration),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, reduce_range=True)
    quantized = onnx.load(path)
    del quantized.metadata_props[:]
    onnx.helper.set_model_props(quantized, {p.key: p.value for p in model.metadata_props})
    onnx.save(quantized, path)
    return path


@dataclass(frozen=True)
class Reference:
    """ONNX Runtime on one input: the requested tensors, the output of a plain session, and whether they agree.

    ``consistent`` is False when exposing the intermediate tensors changed
    the output (ONNX Runtime then fused differently, e.g. int8 activations it
    converts to uint8 only when no one else reads them): only ``output`` is
    what ONNX Runtime computes for the model as given.
    """

    tensors: dict[str, np.ndarray]
    output: np.ndarray
    consistent: bool


def reference_tensors(model: onnx.ModelProto, x: np.ndarray, names: list[str]) -> Reference:
    """ONNX Runtime's value of each tensor in ``names`` (added to the graph outputs) and of the output, on ``x``."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    present = {o.name for o in exposed.graph.output}
    for name in names:
        if name not in present:
            exposed.graph.output.append(onnx.helper.make_value_info(name, onnx.TypeProto()))
    feed = {model.graph.input[0].name: x}
    outputs = [o.name for o in exposed.graph.output]
    tensors = dict(zip(outputs, session(exposed).run(outputs, feed)))
    plain = session(model).run(None, feed)[0]
    exposed_out = tensors[model.graph.output[0].name]
    return Reference(tensors, plain, bool(np.array_equal(plain, exposed_out) and plain.dtype == exposed_out.dtype))


def time_inference(model: onnx.ModelProto, x: np.ndarray, repeats: int = 5) -> tuple[np.ndarray, float]:
    """ONNX Runtime's output on ``x`` and its median wall time over ``repeats`` runs (after one warm-up)."""
    s = session(model)
    feed = {model.graph.input[0].name: x}
    out = s.run(None, feed)[0]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        s.run(None, feed)
        times.append(time.perf_counter() - start)
    return out, float(np.median(times))
