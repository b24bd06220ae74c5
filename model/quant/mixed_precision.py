"""Mixed precision: bits per layer under a weight-memory budget, from measured sensitivity."""

from __future__ import annotations

import itertools

from model.validate import check_int

__all__ = ["choose_bits"]


def choose_bits(sensitivity: list[dict], weight_counts, budget_bytes: int) -> tuple[int, ...]:
    """The assignment of bits to layers with the least total sensitivity that fits the budget.

    The total is the sum of the layers' measured costs (the loss increase
    when that layer alone is quantized), an additive model that is exact
    when the layers' errors do not interact. Every assignment is tried;
    ties go to the one with fewer bytes.

    Parameters
    ----------
    sensitivity : list of dict
        Per layer, ``{bits: cost}`` for every width it may take.
    weight_counts : sequence of int
        Weights per layer.
    budget_bytes : int
        Most bytes the weights may take, ``sum(ceil(count * bits / 8))``.

    Returns
    -------
    tuple of int
        Bits per layer.

    Raises
    ------
    ValueError
        If even the narrowest assignment exceeds the budget.
    """
    check_int("budget_bytes", budget_bytes, 0)
    if len(sensitivity) != len(weight_counts):
        raise ValueError(f"sensitivity has {len(sensitivity)} layers but weight_counts has {len(weight_counts)}")
    best = None
    for bits in itertools.product(*(sorted(s) for s in sensitivity)):
        size = sum(-(-count * b // 8) for count, b in zip(weight_counts, bits))
        if size > budget_bytes:
            continue
        key = (sum(s[b] for s, b in zip(sensitivity, bits)), size)
        if best is None or key < best[0]:
            best = (key, bits)
    if best is None:
        smallest = sum(-(-count * min(s) // 8) for count, s in zip(weight_counts, sensitivity))
        raise ValueError(f"budget_bytes must be at least {smallest} (the narrowest assignment), not {budget_bytes}")
    return tuple(int(b) for b in best[1])
