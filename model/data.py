"""Seeded random operands for a layer, in the value range of a bit width."""

from __future__ import annotations

import numpy as np

from model.layer import ConvLayer
from model.validate import check_int

__all__ = ["random_operands", "random_requant", "value_range"]


def value_range(bits: int) -> tuple[int, int]:
    """Inclusive range of stored values: signed ``bits``-bit, or 0..1 when binary (``bits=1``)."""
    check_int("bits", bits, 1, 16)
    return (0, 1) if bits == 1 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def random_operands(layer: ConvLayer, bits: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly random input (NCHW) and weights (MCRS) covering the whole range of ``bits``.

    Binary layers (``bits=1``) get 0/1 bits (+1 -> 1, -1 -> 0). Returns int64 arrays.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, not {type(rng).__name__}")
    lo, hi = value_range(bits)
    x = rng.integers(lo, hi, size=layer.input_shape, endpoint=True, dtype=np.int64)
    w = rng.integers(lo, hi, size=layer.weight_shape, endpoint=True, dtype=np.int64)
    return x, w


def random_requant(layer: ConvLayer, bits: int, rng: np.random.Generator, relu: bool):
    """Seeded requantization parameters (:class:`model.program.RequantParams`) for ``layer``'s outputs.

    The per-channel scales spread typical accumulators of random ``bits``-wide operands over the
    output range (``bits`` wide; 2 for a binary layer), with a random bias and zero point.
    """
    from model.program import RequantParams
    from model.quant.requantize import quantize_multiplier

    out_bits = max(bits, 2)
    typical = (layer.reduction ** 0.5) * (1 if bits == 1 else 2 ** (2 * bits - 2))
    scale = 2.0 ** (out_bits - 1) / typical * rng.uniform(0.25, 1.0, layer.M)
    multiplier, shift = quantize_multiplier(scale)
    bias = rng.integers(-int(typical) // 2, int(typical) // 2 + 1, layer.M)
    zero_point = int(rng.integers(-(2 ** (out_bits - 1)) // 4, 2 ** (out_bits - 1) // 4 + 1))
    return RequantParams(bias, multiplier, shift, zero_point, out_bits, relu)
