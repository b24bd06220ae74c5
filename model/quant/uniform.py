"""Uniform quantization of a tensor: per tensor, per channel along any axis, or per group of channels.

Conventions are those of :mod:`model.quant.grid` (``q = round(x / scale) +
zero_point``). Granularity decides which values share one scale and zero point:

* ``"tensor"``: the whole tensor (layer-wise);
* ``"channel"``: each index along ``axis`` (for MCRS weights, ``axis=0`` is per filter);
* ``"group"``: each run of ``group_size`` consecutive indices along ``axis``
  (``group_size=1`` is per channel, ``group_size=x.shape[axis]`` per tensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.quant.calibration import calibrate_rows
from model.quant.grid import SCHEMES, grid_parameters, integer_range, quantize_values
from model.quant.rounding import DEFAULT_ROUNDING, ROUNDING_MODES
from model.validate import check_choice, check_int

__all__ = ["GRANULARITIES", "QuantizedTensor", "quantize", "fake_quantize"]

#: Which values share one scale and zero point.
GRANULARITIES = ("tensor", "channel", "group")


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """Integers and the grid that maps them back to reals: ``x ~ scale * (q - zero_point)``.

    Attributes
    ----------
    q : ndarray
        int64, the shape of the quantized tensor.
    scale : float or ndarray
        Step (> 0): a float per tensor, else float64 of shape ``(1, .., L, .., 1)``
        with ``L = q.shape[axis]`` (one entry per index, repeated within a group),
        broadcastable to ``q``.
    zero_point : int or ndarray
        Like ``scale``, int64; 0 for symmetric grids.
    bits : int
    scheme : {"symmetric", "asymmetric"}
    granularity : {"tensor", "channel", "group"}
    axis : int
        Channel axis (non-negative); meaningful for channel and group granularity.
    group_size : int or None
    qmin, qmax : int
        Stored range (signed for symmetric, unsigned for asymmetric).
    """

    q: np.ndarray
    scale: float | np.ndarray
    zero_point: int | np.ndarray
    bits: int
    scheme: str
    granularity: str
    axis: int
    group_size: int | None
    qmin: int
    qmax: int

    def dequantize(self) -> np.ndarray:
        """The real values the integers stand for, ``scale * (q - zero_point)``, float64."""
        return self.scale * (self.q - self.zero_point).astype(np.float64)

    def clip_range(self) -> tuple[np.ndarray | float, np.ndarray | float]:
        """The real range the grid covers, ``scale * (qmin - zero_point)`` to ``scale * (qmax - zero_point)``."""
        return self.scale * (self.qmin - self.zero_point), self.scale * (self.qmax - self.zero_point)


def _check_axis(x: np.ndarray, axis: object) -> int:
    if x.ndim == 0:
        raise ValueError("per-channel and group-wise quantization need an array of at least 1 dimension, not a scalar")
    return check_int("axis", axis, -x.ndim, x.ndim - 1) % x.ndim


def _group_size(x: np.ndarray, granularity: str, axis: int, group_size: object) -> int:
    length = x.shape[axis]
    if granularity != "group":
        if group_size is not None:
            raise ValueError(f"group_size is only used with granularity='group', not {granularity!r}")
        return length if granularity == "tensor" else 1
    if group_size is None:
        raise ValueError("granularity='group' needs group_size (a divisor of the axis length)")
    check_int("group_size", group_size, 1, length)
    if length % group_size:
        raise ValueError(f"group_size must divide the length {length} of axis {axis}, not {group_size!r}")
    return int(group_size)


def quantize(x, bits: int, scheme: str = "symmetric", granularity: str = "tensor", axis: int = 0,
             group_size: int | None = None, *, calibration: str = "minmax", percentile: float = 99.99,
             clip=None, power_of_two: bool = False, rounding: str = DEFAULT_ROUNDING) -> QuantizedTensor:
    """Quantize a real tensor to ``bits``-bit integers on a uniform grid.

    Parameters
    ----------
    x : array_like
        Real values.
    bits : int
        Width, 2..16.
    scheme : {"symmetric", "asymmetric"}
        Zero point 0 with signed integers, or a zero point that makes real 0.0
        exact with unsigned integers (see :mod:`model.quant.grid`).
    granularity : {"tensor", "channel", "group"}
        Which values share a grid (see the module notes).
    axis : int
        Channel axis for ``"channel"`` and ``"group"``.
    group_size : int, optional
        Channels per group; required for, and only for, ``"group"``.
    calibration : {"minmax", "percentile", "mse"}
        How each group's range is chosen from ``x`` (see :mod:`model.quant.calibration`).
    percentile : float
        Upper percentile for ``calibration="percentile"``.
    clip : tuple of array_like, optional
        ``(lo, hi)`` given directly (scalars, or one entry per group), instead of calibrating.
    power_of_two : bool
        Restrict steps to powers of two (fixed point).
    rounding : str
        Named rounding mode (see :mod:`model.quant.rounding`).

    Returns
    -------
    QuantizedTensor

    Raises
    ------
    TypeError, ValueError
        Naming the argument, its value and what is allowed.
    """
    check_int("bits", bits, 2, 16)
    check_choice("scheme", scheme, SCHEMES)
    check_choice("granularity", granularity, GRANULARITIES)
    check_choice("rounding", rounding, ROUNDING_MODES)
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"x must hold real numbers, not dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"x must not be empty (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite (it holds inf or nan)")
    x_shape = x.shape
    x = x.astype(np.float64).reshape(x_shape or (1,)) if granularity == "tensor" else x.astype(np.float64)
    axis = _check_axis(x, axis)
    size = _group_size(x, granularity, axis, group_size)
    length = x.shape[axis]
    rows = np.moveaxis(x, axis, 0).reshape(length // size, -1)
    if clip is None:
        lo, hi = calibrate_rows(rows, bits, scheme, calibration, percentile, power_of_two, rounding)
    else:
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64), (len(rows),)) for v in clip)
        if np.any(~(lo <= hi)):
            raise ValueError(f"clip must be (lo, hi) with lo <= hi, not {clip!r}")
    scale, zero = grid_parameters(lo, hi, bits, scheme, power_of_two, rounding)
    if granularity == "tensor":
        scale, zero = float(scale[0]), int(zero[0])
    else:
        shape = [1] * x.ndim
        shape[axis] = length
        scale, zero = np.repeat(scale, size).reshape(shape), np.repeat(zero, size).reshape(shape)
    qmin, qmax = integer_range(bits, scheme)
    q = quantize_values(x, scale, zero, bits, scheme, rounding).reshape(x_shape)
    return QuantizedTensor(q, scale, zero, bits, scheme, granularity, axis,
                           size if granularity == "group" else None, qmin, qmax)


def fake_quantize(x, bits: int, scheme: str = "symmetric", granularity: str = "tensor", axis: int = 0,
                  group_size: int | None = None, **options) -> np.ndarray:
    """Quantize then dequantize (the forward pass of quantization-aware training); takes :func:`quantize`'s arguments."""
    return quantize(x, bits, scheme, granularity, axis, group_size, **options).dequantize()
