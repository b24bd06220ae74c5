"""Non-uniform quantizers: logarithmic (power-of-two), ternary and binary.

* **Logarithmic**: ``x ~ sign * base**e`` with ``e`` one of ``2**(bits-1) - 1``
  consecutive exponents ending at the one of ``max|x|`` (one code is zero).
  The exponent is ``log_base |x|`` rounded with the named rounding mode, so
  rounding happens in the log domain. With ``base=2`` (the power-of-two
  quantizer) a product with such a weight is a shift; any other base needs
  a table of ``base**e``: neither is a plain integer multiply, so these
  codes do not run on the accelerator's multipliers.
* **Ternary** ``{-1, 0, +1} * alpha`` per channel: zero where
  ``|x| <= threshold * mean|x|`` (the TWN rule), ``alpha`` the mean ``|x|`` of
  the rest (the least-squares scale for that support).
* **Binary** ``+-1 * alpha`` per channel: ``sign(x)`` (``sign(0) = +1``) and
  ``alpha = mean|x|`` (the least-squares scale for those signs). Stored as
  bits ``+1 -> 1, -1 -> 0`` like :func:`model.conv.conv2d_binary` takes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.quant.rounding import DEFAULT_ROUNDING, round_to_int
from model.validate import check_int

__all__ = ["LogQuantized", "ScaledSigns", "log_quantize", "ternarize", "binarize"]


@dataclass(frozen=True, eq=False)
class LogQuantized:
    """``x ~ sign * base**exponent`` (0 where ``sign`` is 0).

    Attributes
    ----------
    sign : ndarray
        int8 in {-1, 0, +1}.
    exponent : ndarray
        int64 in ``[min_exponent, max_exponent]`` (``min_exponent`` where ``sign`` is 0).
    base : float
    min_exponent, max_exponent : int
    """

    sign: np.ndarray
    exponent: np.ndarray
    base: float
    min_exponent: int
    max_exponent: int

    def dequantize(self) -> np.ndarray:
        """``sign * base**exponent``, float64."""
        return self.sign * np.power(self.base, self.exponent.astype(np.float64))


@dataclass(frozen=True, eq=False)
class ScaledSigns:
    """Ternary or binary values ``q * alpha`` with one ``alpha`` per channel.

    Attributes
    ----------
    q : ndarray
        int8 in {-1, 0, +1} (ternary) or {-1, +1} (binary).
    alpha : ndarray
        float64 scale, shape ``(1, .., L, .., 1)`` broadcastable to ``q`` along the channel axis.
    """

    q: np.ndarray
    alpha: np.ndarray

    def dequantize(self) -> np.ndarray:
        """``q * alpha``, float64."""
        return self.q * self.alpha

    @property
    def bits(self) -> np.ndarray:
        """Storage bits of binary values for :func:`model.conv.conv2d_binary`: +1 -> 1, -1 -> 0 (uint8)."""
        if np.any(self.q == 0):
            raise ValueError("ternary values hold 0, which has no binary code; only binary values are stored as bits")
        return (self.q > 0).astype(np.uint8)


def log_quantize(x, bits: int, base: float = 2.0, rounding: str = DEFAULT_ROUNDING) -> LogQuantized:
    """Logarithmic quantization: one sign bit and ``bits - 1`` exponent bits (one exponent code means zero).

    Parameters
    ----------
    x : array_like
        Real values, finite. Exact zeros (pruned weights, ReLU outputs) get
        the zero code, without warnings.
    bits : int
        2..16.
    base : float
        Ratio of neighbouring levels, > 1 (2 = power-of-two quantizer).
    rounding : str
        Rounding of ``log_base |x|`` (see :mod:`model.quant.rounding`).

    Returns
    -------
    LogQuantized
        ``sign`` 0 for zeros and for values whose rounded exponent is below ``min_exponent``.
    """
    check_int("bits", bits, 2, 16)
    if not base > 1.0:
        raise ValueError(f"base must be > 1, not {base!r}")
    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(x)
    amax = float(mag.max(initial=0.0))
    if amax == 0.0:
        zeros = np.zeros(x.shape, np.int64)
        return LogQuantized(zeros.astype(np.int8), zeros, float(base), 0, 0)
    logb = np.log(base)
    max_exponent = int(round_to_int(np.log(amax) / logb, rounding))
    min_exponent = max_exponent - (2 ** (bits - 1) - 2)
    nonzero = mag > 0
    # log(0) = -inf is never taken: zeros get the placeholder log(1) = 0 and are dropped by ``keep``
    exponent = round_to_int(np.log(np.where(nonzero, mag, 1.0)) / logb, rounding)
    keep = nonzero & (exponent >= min_exponent)
    exponent = np.where(keep, np.clip(exponent, min_exponent, max_exponent), min_exponent).astype(np.int64)
    sign = np.where(keep, np.sign(x), 0).astype(np.int8)
    return LogQuantized(sign, exponent, float(base), min_exponent, max_exponent)


def _channel_rows(x: np.ndarray, axis: int) -> tuple[np.ndarray, list[int]]:
    if x.ndim == 0:
        raise ValueError("per-channel ternary/binary quantization needs an array of at least 1 dimension")
    axis = check_int("axis", axis, -x.ndim, x.ndim - 1) % x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1), shape


def ternarize(x, axis: int = 0, threshold: float = 0.7) -> ScaledSigns:
    """Ternary ``{-1, 0, +1} * alpha`` per channel along ``axis`` (see the module notes).

    Parameters
    ----------
    x : array_like
        Real values, at least 1-D.
    axis : int
        Channel axis.
    threshold : float
        Zero band half-width as a fraction of the channel's mean ``|x|``, in [0, 1).
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), not {threshold!r}")
    x = np.asarray(x, dtype=np.float64)
    rows, shape = _channel_rows(x, axis)
    band = threshold * np.abs(rows).mean(axis=1, keepdims=True)
    support = np.abs(rows) > band
    count = support.sum(axis=1)
    alpha = np.where(count > 0, (np.abs(rows) * support).sum(axis=1) / np.maximum(count, 1), 0.0)
    q = np.where(np.abs(x) > band.reshape(shape), np.sign(x), 0).astype(np.int8)
    return ScaledSigns(q, alpha.reshape(shape))


def binarize(x, axis: int = 0) -> ScaledSigns:
    """Binary ``+-1 * alpha`` per channel along ``axis``, ``alpha = mean|x|`` (see the module notes)."""
    x = np.asarray(x, dtype=np.float64)
    rows, shape = _channel_rows(x, axis)
    alpha = np.abs(rows).mean(axis=1)
    return ScaledSigns(np.where(x >= 0, 1, -1).astype(np.int8), alpha.reshape(shape))
