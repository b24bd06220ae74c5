"""Requantization: int32 accumulators to ``bits``-wide outputs by a fixed-point multiplier and shift.

The real rescale factor of a layer's output channel ``m`` is
``real[m] = input_scale * weight_scale[m] / output_scale``. It is stored as a
Q31 multiplier ``M`` in ``[2**30, 2**31)`` and a shift: ``real ~ M * 2**-(31 + shift)``
(:func:`quantize_multiplier`). The stage (:func:`requantize`) is then pure
integer arithmetic with one rounding::

    v   = acc + bias                                  |v| < 2**31 (int32)
    p   = v * M                                       exact, |p| < 2**62 (int64)
    y   = round(p / 2**(31 + shift))                  shift_right_rounded, named mode (half_even)
    out = clamp(y + zero_point, lo, hi)               lo = -2**(bits-1), or max(lo, zero_point) with ReLU
                                                      hi = 2**(bits-1) - 1

This is gemmlowp/TFLite's ``SaturatingRoundingDoublingHighMul`` followed by
``RoundingDivideByPOT``, with the two roundings merged into one (exact and
with no saturation case, since ``M < 2**31``). The rounding is that of
:mod:`model.quant.rounding`; the RTL mirrors exactly these lines.
"""

from __future__ import annotations

import numpy as np

from model.quant.rounding import DEFAULT_ROUNDING, round_to_int, shift_right_rounded
from model.validate import check_int

__all__ = ["MULTIPLIER_FRACTION_BITS", "SHIFT_RANGE", "quantize_multiplier", "requantize"]

#: The multiplier is a Q31 fraction: ``M / 2**31`` lies in ``[0.5, 1)``.
MULTIPLIER_FRACTION_BITS = 31
#: Allowed ``shift`` (right shift beyond the 31 fraction bits); the total shift ``31 + shift`` is 0..62.
SHIFT_RANGE = (-31, 31)
_INT32 = (-(2**31), 2**31 - 1)


def quantize_multiplier(real) -> tuple[np.ndarray, np.ndarray]:
    """Q31 multiplier and shift of a real rescale factor: ``real ~ multiplier * 2**-(31 + shift)``.

    Parameters
    ----------
    real : array_like
        Factors, each 0 (giving multiplier 0, shift 0) or in ``[2**-32, 2**31)``.

    Returns
    -------
    multiplier : ndarray
        int64 in ``[2**30, 2**31 - 1]`` (0 for a zero factor).
    shift : ndarray
        int64 in :data:`SHIFT_RANGE`. The relative error of the pair is at most ``2**-31``.
    """
    real = np.asarray(real, dtype=np.float64)
    if np.any(~np.isfinite(real)) or np.any(real < 0):
        raise ValueError(f"real multiplier must be finite and >= 0, not {float(real[~np.isfinite(real) | (real < 0)].flat[0])!r}")
    mantissa, exponent = np.frexp(real)  # real = mantissa * 2**exponent, mantissa in [0.5, 1)
    multiplier = round_to_int(mantissa * 2.0**MULTIPLIER_FRACTION_BITS).astype(np.int64)
    carry = multiplier == 2**MULTIPLIER_FRACTION_BITS
    multiplier = np.where(carry, 2 ** (MULTIPLIER_FRACTION_BITS - 1), multiplier)
    shift = np.where(real > 0, -(exponent + carry), 0).astype(np.int64)
    if shift.size and (shift.min() < SHIFT_RANGE[0] or shift.max() > SHIFT_RANGE[1]):
        bad = real.flat[int(np.argmax((shift < SHIFT_RANGE[0]) | (shift > SHIFT_RANGE[1])))]
        raise ValueError(f"real multiplier must be 0 or in [2**-32, 2**31), not {float(bad)!r}")
    return multiplier, shift


def _per_channel(name: str, value, acc: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
    ndim = acc.ndim
    shape_along = acc.shape[axis] if ndim and -ndim <= axis < ndim else None
    a = np.asarray(value)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, not dtype {a.dtype}")
    if a.ndim > 1:
        raise ValueError(f"{name} must be a scalar or 1-D (one entry per channel), not shape {a.shape}")
    if a.size and (a.min() < lo or a.max() > hi):
        bad = a.min() if a.min() < lo else a.max()
        raise ValueError(f"{name} must be in {lo}..{hi}, not {int(bad)}")
    if a.ndim == 1:
        axis = check_int("axis", axis, -ndim, ndim - 1) % ndim if ndim else check_int("axis", axis, 0, -1)
        if a.size != shape_along:
            raise ValueError(f"{name} has {a.size} entries but acc has {shape_along} channels along axis {axis}")
        shape = [1] * ndim
        shape[axis] = a.size
        a = a.reshape(shape)
    return a.astype(np.int64)


def requantize(acc, multiplier, shift, zero_point: int, bits: int, relu: bool = False, *, bias=None,
               axis: int = 1, rounding: str = DEFAULT_ROUNDING) -> np.ndarray:
    """The requantization stage (the formula of the module notes), bit-exact.

    Parameters
    ----------
    acc : ndarray
        Integer accumulators, e.g. NMEF from :func:`model.conv.conv2d_int`.
    multiplier : int or 1-D array of int
        Q31 multipliers, 0..2**31-1, one per channel along ``axis`` or one for all.
    shift : int or 1-D array of int
        Shifts in :data:`SHIFT_RANGE`, like ``multiplier``.
    zero_point : int
        Output zero point, in the signed ``bits``-bit range.
    bits : int
        Output width, 2..16 (signed two's complement).
    relu : bool
        Clamp below at ``zero_point`` (real 0) as well.
    bias : int or 1-D array of int, optional
        Added to ``acc`` first (int32).
    axis : int
        Channel axis of ``acc`` for 1-D parameters (1 for NMEF).
    rounding : str
        Named rounding mode (see :mod:`model.quant.rounding`).

    Returns
    -------
    ndarray
        int64 in ``[lo, hi]``, the shape of ``acc``.

    Raises
    ------
    ValueError
        If a parameter is out of range or ``acc + bias`` leaves the int32 range.
    """
    check_int("bits", bits, 2, 16)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    check_int("zero_point", zero_point, lo, hi)
    acc = np.asarray(acc)
    if not np.issubdtype(acc.dtype, np.integer):
        raise TypeError(f"acc must hold integers, not dtype {acc.dtype}")
    multiplier = _per_channel("multiplier", multiplier, acc, axis, 0, 2**MULTIPLIER_FRACTION_BITS - 1)
    shift = _per_channel("shift", shift, acc, axis, *SHIFT_RANGE)
    v = acc.astype(np.int64)
    if bias is not None:
        v = v + _per_channel("bias", bias, acc, axis, *_INT32)
    if v.size and (v.min() < _INT32[0] or v.max() > _INT32[1]):
        bad = v.min() if v.min() < _INT32[0] else v.max()
        raise ValueError(f"acc + bias must be in the int32 range {_INT32[0]}..{_INT32[1]}, not {int(bad)}")
    y = shift_right_rounded(v * multiplier, MULTIPLIER_FRACTION_BITS + shift, rounding)
    floor = max(lo, zero_point) if relu else lo
    return np.clip(y, floor - zero_point, hi - zero_point) + zero_point
