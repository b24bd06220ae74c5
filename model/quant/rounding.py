"""Rounding to integers, defined once and used everywhere (quantizers and requantization).

A rounding mode is a name. Each mode is one rule for deciding whether to step
up from the floor of a value, given how the fractional part compares with
one half; the same rule serves real values (:func:`round_to_int`) and exact
integer division by a power of two (:func:`shift_right_rounded`, used by
requantization and mirrored by the RTL), so the two cannot disagree.

==============  ===========================================================
mode            a value exactly halfway between two integers goes to ...
==============  ===========================================================
``half_even``   the even neighbour (default; IEEE 754 and ``numpy.rint``)
``half_away``   the neighbour farther from zero (C ``round``, gemmlowp)
``half_up``     the larger neighbour (``floor(v + 1/2)``)
``floor``       no rounding to nearest: always the floor (a plain ``>>``)
==============  ===========================================================
"""

from __future__ import annotations

import numpy as np

from model.contract import Rounding
from model.validate import check_choice

__all__ = ["ROUNDING_MODES", "DEFAULT_ROUNDING", "round_to_int", "shift_right_rounded"]

#: The named rounding modes, in the order of the table above (:class:`model.contract.Rounding`).
ROUNDING_MODES = tuple(mode.value for mode in Rounding)
#: The mode used wherever none is named.
DEFAULT_ROUNDING = Rounding.HALF_EVEN


def _step_up(floor: np.ndarray, above_half: np.ndarray, at_half: np.ndarray, mode: str) -> np.ndarray:
    """Whether to add 1 to ``floor``: the single definition of every rounding mode.

    Parameters
    ----------
    floor : ndarray
        The floor of the value (integer-valued).
    above_half, at_half : ndarray of bool
        Whether the fractional part is greater than, or exactly, one half.
    mode : str
        One of :data:`ROUNDING_MODES`.
    """
    if mode == "floor":
        return np.zeros(np.shape(floor), dtype=bool)
    if mode == "half_even":
        tie = (floor % 2) != 0
    elif mode == "half_away":
        tie = floor >= 0  # v = floor + 1/2 is positive exactly when floor >= 0
    else:  # half_up
        tie = np.ones(np.shape(floor), dtype=bool)
    return above_half | (at_half & tie)


def round_to_int(x: np.ndarray, mode: str = DEFAULT_ROUNDING) -> np.ndarray:
    """Round real values to integers with a named mode.

    Parameters
    ----------
    x : array_like
        Real values; the result is exact for ``|x| < 2**52``.
    mode : str
        One of :data:`ROUNDING_MODES`.

    Returns
    -------
    ndarray
        float64 holding integers (so that ``inf`` and ``nan`` pass through to
        the caller's clamp or check).
    """
    check_choice("rounding", mode, ROUNDING_MODES)
    x = np.asarray(x, dtype=np.float64)
    floor = np.floor(x)
    frac = x - floor  # exact in float64 for |x| < 2**52
    return floor + _step_up(floor, frac > 0.5, frac == 0.5, mode)


def shift_right_rounded(v: np.ndarray, shift: np.ndarray, mode: str = DEFAULT_ROUNDING) -> np.ndarray:
    """Exact ``v / 2**shift`` rounded to an integer with a named mode, in integer arithmetic.

    This is the rounding of the requantization stage: ``floor = v >> shift``,
    ``rem = v - (floor << shift)`` (``0 <= rem < 2**shift``), and the result
    is ``floor + 1`` when ``rem > 2**(shift-1)``, or when ``rem == 2**(shift-1)``
    and the mode's tie rule says so; ``shift = 0`` returns ``v``.

    Parameters
    ----------
    v : array_like of int
        Signed integers, int64.
    shift : int or array_like of int
        Right shift, 0..62, broadcastable to ``v``.
    mode : str
        One of :data:`ROUNDING_MODES`.

    Returns
    -------
    ndarray
        int64.
    """
    check_choice("rounding", mode, ROUNDING_MODES)
    v = np.asarray(v)
    shift = np.asarray(shift)
    for name, a in (("v", v), ("shift", shift)):
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name} must hold integers, not dtype {a.dtype}")
    if shift.size and (shift.min() < 0 or shift.max() > 62):
        bad = shift.min() if shift.min() < 0 else shift.max()
        raise ValueError(f"shift must be in 0..62, not {int(bad)}")
    v = v.astype(np.int64)
    shift = shift.astype(np.int64)
    floor = v >> shift
    rem = v - (floor << shift)
    half = (np.int64(1) << shift) >> 1  # 2**(shift-1), or 0 when shift = 0
    nonzero = shift > 0
    return floor + _step_up(floor, nonzero & (rem > half), nonzero & (rem == half), mode)
