"""Compare one co-simulated layer with the model: outputs bit for bit, cycles and every counter exactly.

The first output mismatch is reported with its NMEF coordinate, expected and
actual value; every counter that differs is listed by name.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check"]


def check(layer, seed: int, expected: np.ndarray, actual: np.ndarray, model_counters: dict, rtl_counters: dict) -> dict:
    """The result record of one job (JSON-ready).

    Parameters
    ----------
    layer : ConvLayer
        The layer that ran.
    seed : int
        Seed of its operands (reproduces the run).
    expected, actual : ndarray
        Golden and RTL outputs, NMEF.
    model_counters, rtl_counters : dict
        Counter values by name from the analytical model and from the RTL.

    Returns
    -------
    dict
        ``layer``, ``seed``, ``outputs_match``, ``first_mismatch`` (None or
        ``{"index", "expected", "actual"}``), ``cycles`` and ``counters``
        (each ``{"rtl", "model"}``), ``counter_mismatches`` (names),
        ``error`` (None) and ``pass``.
    """
    wrong = np.argwhere(expected != actual)
    first = None
    if len(wrong):
        index = tuple(int(i) for i in wrong[0])
        first = {"index": list(index), "expected": int(expected[index]), "actual": int(actual[index])}
    counters = {name: {"rtl": rtl_counters[name], "model": model_counters[name]} for name in model_counters}
    mismatched = [name for name, pair in counters.items() if pair["rtl"] != pair["model"]]
    return {
        "layer": str(layer),
        "seed": seed,
        "outputs_match": first is None,
        "first_mismatch": first,
        "cycles": counters["cycles"],
        "counters": counters,
        "counter_mismatches": mismatched,
        "error": None,
        "pass": first is None and not mismatched,
    }
