"""Balanced adder trees: a sum of many terms in ``ceil(log2(n))`` adder levels, not ``n - 1``."""

from __future__ import annotations

__all__ = ["tree_sum"]


def tree_sum(terms):
    """The sum of ``terms`` (Amaranth values) as a balanced tree of two-input adders.

    A chain ``((t0 + t1) + t2) + ...`` puts ``n - 1`` carry chains in series on one path; a tree puts
    ``ceil(log2(n))``, which is what bounds the clock of a column sum or a popcount.
    """
    terms = list(terms)
    if not terms:
        raise ValueError("tree_sum needs at least one term")
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + terms[len(terms) - len(terms) % 2:]
    return terms[0]
