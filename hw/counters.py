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
    registered : bool
        Register each increment before its adder: the logic that computes an event (a DMA's beat
        accepted, the unpacker's decision) then ends in a register, not in a 48-bit carry chain. The
        count then lags its events by one more cycle (:data:`model.contract.SYSTEM_COUNTER_LAG`).

    Ports
    -----
    inc_<name> : In(width)
        Added to the counter at the end of every cycle (the next cycle when ``registered``).
    count_<name> : Out(model.contract.COUNTER_BITS)
        The count (registered: includes increments up to the previous cycle, or the one before).
    """

    def __init__(self, increments: dict[str, int], registered: bool = False):
        self._names, self._registered = tuple(increments), registered
        members = {}
        for name, width in increments.items():
            members[f"inc_{name}"] = In(width)
            members[f"count_{name}"] = Out(COUNTER_BITS)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name in self._names:
            count, inc = getattr(self, f"count_{name}"), getattr(self, f"inc_{name}")
            if self._registered:
                inc = delay(m, inc, 1, f"inc_{name}_reg")
            m.d.sync += count.eq(count + inc)
        return m
