"""Argument checks shared by every public object of the project.

Each check raises at once with a message that names the field, the value it
got and the range it allows, so a bad configuration or layer never reaches the
arithmetic (or the hardware) and never surfaces as a deep traceback.
"""

from __future__ import annotations

import numbers

__all__ = ["check_int", "check_choice"]


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``, else raise.

    Parameters
    ----------
    name : str
        Field name used in the message (for example ``"rows"``).
    value : object
        The value to check. ``bool`` is rejected although it is an ``int``.
    lo, hi : int
        Inclusive bounds; ``hi=None`` means unbounded above.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If ``value`` lies outside ``[lo, hi]``.
    """
    allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer ({allowed}), not {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be in {allowed}, not {value!r}")
    return int(value)


def check_choice(name: str, value: object, choices: tuple) -> object:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, not {value!r}")
    return value
