"""Quantization: uniform, non-uniform, ternary and binary quantizers, calibration, QAT and integer-only inference.

Sign convention (everywhere): ``q = round(x / scale) + zero_point``, so
``x ~ scale * (q - zero_point)``. Rounding is named and defined once in
:mod:`model.quant.rounding` (round-half-to-even by default).

Modules: :mod:`~model.quant.rounding`, :mod:`~model.quant.grid` (the uniform
grid), :mod:`~model.quant.calibration`, :mod:`~model.quant.uniform`
(:func:`quantize`), :mod:`~model.quant.nonuniform` (log / power-of-two,
ternary, binary), :mod:`~model.quant.ste` (straight-through estimators),
:mod:`~model.quant.requantize`, :mod:`~model.quant.integer_conv`,
:mod:`~model.quant.mixed_precision`, and the digits CNN:
:mod:`~model.quant.network`, :mod:`~model.quant.training`,
:mod:`~model.quant.portable_math` (``exp``/``log``/``cos`` with the same bits on every CPU),
:mod:`~model.quant.plans` (which quantizer each layer uses),
:mod:`~model.quant.integer_network`, :mod:`~model.quant.binary_network`,
:mod:`~model.quant.settings`, :mod:`~model.quant.trained` (the study's networks, trained once and
cached), :mod:`~model.quant.experiment` (the study).
"""

from model.quant.calibration import CALIBRATIONS, calibrate_rows
from model.quant.grid import SCHEMES, integer_range
from model.quant.integer_conv import fold_input_zero_point, pad_with_zero_point, zero_point_conv
from model.quant.mixed_precision import choose_bits
from model.quant.nonuniform import LogQuantized, ScaledSigns, binarize, log_quantize, ternarize
from model.quant.requantize import quantize_multiplier, requantize
from model.quant.rounding import DEFAULT_ROUNDING, ROUNDING_MODES, round_to_int, shift_right_rounded
from model.quant.ste import fake_quantize_ste, sign_ste
from model.quant.uniform import GRANULARITIES, QuantizedTensor, fake_quantize, quantize

__all__ = [
    "CALIBRATIONS", "DEFAULT_ROUNDING", "GRANULARITIES", "ROUNDING_MODES", "SCHEMES",
    "LogQuantized", "QuantizedTensor", "ScaledSigns",
    "binarize", "calibrate_rows", "choose_bits", "fake_quantize", "fake_quantize_ste", "fold_input_zero_point",
    "integer_range", "log_quantize", "pad_with_zero_point", "quantize", "quantize_multiplier", "requantize",
    "round_to_int", "shift_right_rounded", "sign_ste", "ternarize", "zero_point_conv",
]
