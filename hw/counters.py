"""Hardware event counters."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.contract import COUNTER_BITS

__all__ = ["Counters"]


class Counters(wiring.Component):
    """One free-running counter per event; cleared only by reset.

    Parameters
    ----------
    increments : dict[str, int]
        Counter name -> width of its per-cycle increment.

    Ports
    -----
    inc_<name> : In(width)
        Added to the counter at the end of every cycle.
    count_<name> : Out(model.contract.COUNTER_BITS)
        The count (registered: includes increments up to the previous cycle).
    """

    def __init__(self, increments: dict[str, int]):
        self._names = tuple(increments)
        members = {}
        for name, width in increments.items():
            members[f"inc_{name}"] = In(width)
            members[f"count_{name}"] = Out(COUNTER_BITS)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name in self._names:
            count = getattr(self, f"count_{name}")
            m.d.sync += count.eq(count + getattr(self, f"inc_{name}"))
        return m
