"""Quantization plans of the digits CNN: which fake quantizer each layer's weights and inputs go through.

Each plan is a :class:`model.quant.network.QuantPlan`. Weight quantizers work
per filter (``axis=0`` of MCRS); activation quantizers are asymmetric per
tensor on ranges calibrated from the float network (:func:`activation_ranges`).
Every quantizer returns the forward value and its straight-through mask.
"""

from __future__ import annotations

import numpy as np

from model.quant.calibration import calibrate_rows
from model.quant.network import FLOAT, LAYERS, Parameters, QuantPlan, forward
from model.quant.nonuniform import binarize, log_quantize, ternarize
from model.quant.ste import fake_quantize_ste, sign_ste

__all__ = ["layer_inputs", "activation_ranges", "weight_quantizer", "uniform_plan", "ternary_plan", "binary_plan",
           "power_of_two_plan"]


def layer_inputs(params: Parameters, x: np.ndarray, plan: QuantPlan = FLOAT) -> list[np.ndarray]:
    """The input of every layer, and last the logits, of a forward pass."""
    logits, cache = forward(params, x, plan)
    return [x] + [c["out"] for c in cache[:-1]] + [logits]


def activation_ranges(params: Parameters, x: np.ndarray, bits: int, method: str = "mse") -> list[tuple[float, float]]:
    """Calibrated real range of each layer's input (the image keeps [0, 1]) and, last, of the logits."""
    ranges = [(0.0, 1.0)]
    for a in layer_inputs(params, x)[1:]:
        lo, hi = calibrate_rows(a.reshape(1, -1), bits, "asymmetric", method)
        ranges.append((float(lo[0]), float(hi[0])))
    return ranges


def weight_quantizer(bits: int, scheme: str, granularity: str, calibration: str = "mse"):
    """Fake quantizer of MCRS weights with one grid per filter (or per tensor), calibrated on the weights."""
    return lambda w: fake_quantize_ste(w, bits, scheme, granularity, axis=0, calibration=calibration)


def _activation_quantizer(bits: int, lo: float, hi: float):
    return lambda x: fake_quantize_ste(x, bits, "asymmetric", clip=(lo, hi))


def _activations(bits: int, ranges) -> tuple:
    return tuple(_activation_quantizer(bits, lo, hi) for lo, hi in ranges[:len(LAYERS)])


def uniform_plan(weight_bits, scheme: str, granularity: str, act_bits: int, ranges,
                 calibration: str = "mse") -> QuantPlan:
    """Fake-quantized weights (``weight_bits``: an int or one per layer) and activations on calibrated ranges."""
    if isinstance(weight_bits, int):
        weight_bits = (weight_bits,) * len(LAYERS)
    return QuantPlan(weights=tuple(weight_quantizer(b, scheme, granularity, calibration) for b in weight_bits),
                     activations=_activations(act_bits, ranges))


def _ternary_weights(w: np.ndarray):
    return ternarize(w, axis=0).dequantize(), np.ones_like(w)


def _binary_weights(w: np.ndarray):
    _, mask = sign_ste(w)
    return binarize(w, axis=0).dequantize(), mask


def _binary_image(x: np.ndarray):
    return np.where(x >= 0.5, 1.0, -1.0), np.ones_like(x)


def binary_plan() -> QuantPlan:
    """XNOR network: +-alpha weights per filter, +-1 activations (image thresholded at 1/2), no ReLU."""
    return QuantPlan(weights=(_binary_weights,) * len(LAYERS), activations=(_binary_image, sign_ste, sign_ste),
                     relu=False)


def ternary_plan(act_bits: int, ranges) -> QuantPlan:
    """Ternary weights per filter (threshold rule, straight-through gradient) and uniform activations."""
    return QuantPlan(weights=(_ternary_weights,) * len(LAYERS), activations=_activations(act_bits, ranges))


def _power_of_two_weights(bits: int):
    return lambda w: (log_quantize(w, bits, base=2.0).dequantize(), np.ones_like(w))


def power_of_two_plan(weight_bits: int, act_bits: int, ranges) -> QuantPlan:
    """Power-of-two (logarithmic, base 2) weights and uniform activations."""
    return QuantPlan(weights=(_power_of_two_weights(weight_bits),) * len(LAYERS),
                     activations=_activations(act_bits, ranges))
