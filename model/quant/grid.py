"""The uniform grid: integer ranges, step and zero point from a real range, and the quantize map.

Sign convention, used everywhere in :mod:`model.quant`::

    q = clamp(round(x / scale) + zero_point, qmin, qmax)      x ~ scale * (q - zero_point)

*Symmetric*: ``zero_point = 0``, ``q`` signed in ``[-2**(n-1), 2**(n-1) - 1]`` and
``scale = 2 * max|x| / (2**n - 1)``. *Asymmetric*: ``q`` unsigned in
``[0, 2**n - 1]``, ``scale = (hi - lo) / (2**n - 1)`` over a range ``[lo, hi]``
widened to contain 0, and ``zero_point = round(-lo / scale)`` in ``[0, 2**n - 1]``,
so real 0.0 is the integer ``zero_point`` exactly.

The step is always finite and > 0: an all-zero range gets 1.0, and a range
so narrow that its step would fall below the smallest normal float64
(:data:`SMALLEST_STEP`, about ``2.2e-308``) gets that step, which still
covers it (a subnormal step would lose precision, or underflow to 0).
"""

from __future__ import annotations

import numpy as np

from model.quant.rounding import DEFAULT_ROUNDING, round_to_int
from model.validate import check_choice, check_int

__all__ = ["SCHEMES", "SMALLEST_STEP", "integer_range", "grid_parameters", "quantize_values"]

#: Uniform schemes: zero point fixed at 0, or chosen so that real 0.0 is exact.
SCHEMES = ("symmetric", "asymmetric")
#: Smallest step of a grid: the smallest normal float64 (a power of two, so also a fixed-point step).
SMALLEST_STEP = float(np.finfo(np.float64).tiny)


def integer_range(bits: int, scheme: str) -> tuple[int, int]:
    """Inclusive stored range: signed ``bits``-bit for symmetric, unsigned for asymmetric.

    Parameters
    ----------
    bits : int
        Width, 2..16.
    scheme : {"symmetric", "asymmetric"}
    """
    check_int("bits", bits, 2, 16)
    check_choice("scheme", scheme, SCHEMES)
    if scheme == "symmetric":
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def grid_parameters(lo, hi, bits: int, scheme: str, power_of_two: bool = False,
                    rounding: str = DEFAULT_ROUNDING) -> tuple[np.ndarray, np.ndarray]:
    """Step and zero point of the grid covering ``[lo, hi]`` (element-wise for arrays).

    Parameters
    ----------
    lo, hi : array_like
        Range ends, ``lo <= hi``. Symmetric grids use ``max(|lo|, |hi|)``;
        asymmetric ones widen the range to contain 0.
    bits : int
        Width, 2..16.
    scheme : {"symmetric", "asymmetric"}
    power_of_two : bool
        Round the step *up* to a power of two, so the grid is fixed point
        (the step is a shift, the range still covered).
    rounding : str
        Rounding mode of the zero point (see :mod:`model.quant.rounding`).

    Returns
    -------
    scale : ndarray
        float64 step, finite and > 0: the width over ``2**bits - 1``, but at
        least :data:`SMALLEST_STEP` (so a tiny non-zero range is still
        covered), and 1.0 for an all-zero range.
    zero_point : ndarray
        int64.

    Raises
    ------
    ValueError
        If ``power_of_two`` and a range is so wide (ends near the float64
        limit, 2 bits) that the power of two above its step overflows.
    """
    qmin, qmax = integer_range(bits, scheme)
    lo = np.minimum(np.asarray(lo, dtype=np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, dtype=np.float64), 0.0)
    # half the width, as the width overflows float64 for ends near +-1.8e308 (halving, doubling: exact for normals)
    half_width = np.maximum(-lo, hi) if scheme == "symmetric" else hi / 2 - lo / 2
    step = np.maximum(2.0 * (half_width / (2**bits - 1)), SMALLEST_STEP)
    scale = np.where((lo < 0) | (hi > 0), step, 1.0)  # lo <= 0 <= hi: the range is all-zero or not
    if power_of_two:
        with np.errstate(over="ignore"):
            scale = 2.0 ** np.ceil(np.log2(scale))
        if not np.all(np.isfinite(scale)):
            raise ValueError(f"power_of_two: the range [{float(np.min(lo))!r}, {float(np.max(hi))!r}] at {bits} bits "
                             f"needs a step above 2**1023, the largest float64 power of two; narrow it or add bits")
    if scheme == "symmetric":
        zero_point = np.zeros(np.shape(scale), dtype=np.int64)
    else:
        zero_point = np.clip(round_to_int(-lo / scale, rounding), qmin, qmax).astype(np.int64)
    return scale, zero_point


def quantize_values(x, scale, zero_point, bits: int, scheme: str, rounding: str = DEFAULT_ROUNDING) -> np.ndarray:
    """``clamp(round(x / scale) + zero_point, qmin, qmax)`` as int64 (parameters broadcast against ``x``).

    A value far past the grid saturates silently, even when ``x / scale``
    overflows float64 (a large value on a tiny step).
    """
    qmin, qmax = integer_range(bits, scheme)
    with np.errstate(over="ignore"):
        steps = np.asarray(x, dtype=np.float64) / scale
    steps = np.clip(steps, qmin - zero_point - 1, qmax - zero_point + 1)  # +-inf becomes one past the end code
    q = round_to_int(steps, rounding) + zero_point
    return np.clip(q, qmin, qmax).astype(np.int64)
