"""The cocotb back end of the host-program executor: the one module that knows the top's flattened port names.

Inputs change on the falling clock edge and outputs are sampled there too, so
every value is stable around the rising edge that acts on it. While a pass runs
the testbench awaits ``done`` (and a time-out) without waking per cycle, so the
simulator runs free.
"""

from __future__ import annotations

from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from model.contract import COUNTERS, READ_LATENCY
from model.program import HostRead, HostRun, HostWrite
from sim.executor import DoneTimeout, UnknownOutput

__all__ = ["CLOCK_NS", "CocotbPort"]

#: Clock period of the co-simulations.
CLOCK_NS = 10


class CocotbPort:
    """:class:`sim.executor.HostPort` on a cocotb handle of the top level."""

    def __init__(self, dut):
        self.dut = dut
        self._inputs = (dut.start, dut.desc, dut.host__we, dut.host__re, dut.host__sel, dut.host__addr,
                        dut.host__lane, dut.host__wdata, dut.host__chan)

    async def reset(self) -> None:
        d = self.dut
        await FallingEdge(d.clk)
        for port in self._inputs:
            port.value = 0
        d.rst.value = 1
        for _ in range(2):
            await FallingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)

    def _address(self, op) -> None:
        d = self.dut
        d.host__sel.value, d.host__addr.value, d.host__lane.value = int(op.sel), op.addr, op.lane

    async def write(self, op: HostWrite) -> None:
        d = self.dut
        self._address(op)
        d.host__wdata.value = op.data
        d.host__we.value = 1
        await FallingEdge(d.clk)  # the rising edge in between performed the access
        d.host__we.value = 0

    async def read(self, op: HostRead) -> int:
        d = self.dut
        self._address(op)
        d.host__chan.value = op.chan
        d.host__re.value = 1
        await FallingEdge(d.clk)
        d.host__re.value = 0
        for _ in range(READ_LATENCY - 1):  # the word reaches rdata READ_LATENCY edges after re
            await FallingEdge(d.clk)
        value = d.host__rdata.value
        if not value.is_resolvable:
            raise UnknownOutput(f"the read of {op.sel.name} address {op.addr} lane {op.lane} "
                                f"(output {op.index}) returned {value} (X/Z bits)")
        return value.to_signed()

    async def run(self, op: HostRun, max_cycles: int) -> None:
        d = self.dut
        d.desc.value = op.desc
        d.start.value = 1
        await FallingEdge(d.clk)
        d.start.value = 0
        if not int(d.done.value):
            timeout = Timer(max_cycles * CLOCK_NS, unit="ns")
            if await First(RisingEdge(d.done), timeout) is timeout:
                raise DoneTimeout(f"the accelerator did not raise done within {max_cycles} cycles of start "
                                  f"(pass {op.fields})")
        await FallingEdge(d.clk)
        await FallingEdge(d.clk)  # the cycle ``done`` rises in is counted at the next edge

    def counters(self) -> dict[str, int]:
        return {name: int(getattr(self.dut, f"count_{name}").value) for name in COUNTERS}
