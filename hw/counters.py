"""Hardware event counters."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.delay import delay
from model.contract import COUNTER_BITS

__all__ = ["Counters"]


class Counters(wiring.Component):
    """One free-running counter per event; cleared only by reset.

    Parameters
    ----------
    increments : dict[str, int]
        Counter name -> width of its per-cycle increment.
    lag : int
        Clock edges from an event to its count (1: the counter's own register). Above 1, each
        increment is registered ``lag - 1`` times before its adder: the logic that computes an event
        (a DMA's beat accepted, the unpacker's decision) then ends in a register, not in a 48-bit
        carry chain (the System's :data:`model.contract.SYSTEM_COUNTER_LAG`).

    Ports
    -----
    inc_<name> : In(width)
        Added to the counter ``lag`` clock edges later.
    count_<name> : Out(model.contract.COUNTER_BITS)
        The count: includes the increments up to ``lag`` cycles before.
    """

    def __init__(self, increments: dict[str, int], lag: int = 1):
        if lag < 1:
            raise ValueError(f"lag must be at least 1 (the counter's register), not {lag}")
        self._names, self._lag = tuple(increments), lag
        members = {}
        for name, width in increments.items():
            members[f"inc_{name}"] = In(width)
            members[f"count_{name}"] = Out(COUNTER_BITS)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name in self._names:
            count, inc = getattr(self, f"count_{name}"), getattr(self, f"inc_{name}")
            m.d.sync += count.eq(count + delay(m, inc, self._lag - 1, f"inc_{name}_reg"))
        return m
