"""Drive the accelerator's ports from cocotb: the one module that knows the flattened port names.

The driver executes a host program (:mod:`model.program`): buffer writes,
pass starts and output reads, one port operation per clock. Inputs change
on the falling clock edge and outputs are sampled there too, so every value
is stable around the rising edge that acts on it.
"""

from __future__ import annotations

import numpy as np
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from model.perf import COUNTERS
from model.program import HostRead, HostRun, HostWrite

__all__ = ["DoneTimeout", "UnknownOutput", "Driver"]

CLOCK_NS = 10


class DoneTimeout(AssertionError):
    """The accelerator did not raise ``done`` within the allowed number of cycles."""


class UnknownOutput(AssertionError):
    """An output read back holds X or Z bits (an uninitialised or undriven value)."""


class Driver:
    """Port-level access to one ``qconv_top`` instance.

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    """

    def __init__(self, dut):
        self.dut = dut

    async def reset(self) -> None:
        """Hold reset for two cycles with every input idle (clears the counters)."""
        d = self.dut
        await FallingEdge(d.clk)
        for port in (d.start, d.host_we, d.host_re, d.host_sel, d.host_addr, d.host_lane, d.host_wdata, d.desc):
            port.value = 0
        d.rst.value = 1
        for _ in range(2):
            await FallingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)

    async def execute(self, ops, output_shape: tuple, max_pass_cycles: int) -> np.ndarray:
        """Run the host program ``ops``; return the outputs it reads, int64 NMEF.

        Raises
        ------
        DoneTimeout
            If a pass does not finish within ``max_pass_cycles`` cycles.
        UnknownOutput
            If an output reads back with X or Z bits.
        """
        d = self.dut
        out = np.zeros(output_shape, dtype=np.int64)
        for op in ops:
            if isinstance(op, HostRun):
                await self._run(op, max_pass_cycles)
                continue
            d.host_we.value = int(isinstance(op, HostWrite))
            d.host_re.value = int(isinstance(op, HostRead))
            d.host_sel.value = op.sel
            d.host_addr.value = op.addr
            d.host_lane.value = op.lane
            if isinstance(op, HostWrite):
                d.host_wdata.value = op.data
            await FallingEdge(d.clk)  # the rising edge in between performed the access
            if isinstance(op, HostRead):
                value = d.host_rdata.value
                if not value.is_resolvable:
                    raise UnknownOutput(f"output (n, m, e, f) = {op.index} read back as {value} (X/Z bits)")
                out[op.index] = value.to_signed()
        d.host_we.value = 0
        d.host_re.value = 0
        return out

    async def _run(self, op: HostRun, max_pass_cycles: int) -> None:
        d = self.dut
        d.host_we.value = 0
        d.host_re.value = 0
        d.desc.value = op.desc
        d.start.value = 1
        await FallingEdge(d.clk)
        d.start.value = 0
        if not int(d.done.value):
            finished = RisingEdge(d.done)
            timeout = Timer(max_pass_cycles * CLOCK_NS, unit="ns")
            if await First(finished, timeout) is timeout:
                raise DoneTimeout(
                    f"the accelerator did not raise done within {max_pass_cycles} cycles of start "
                    f"(pass {op.fields})"
                )
        await FallingEdge(d.clk)

    def counters(self) -> dict[str, int]:
        """Every hardware counter, by the names of :data:`model.perf.COUNTERS`."""
        return {name: int(getattr(self.dut, f"count_{name}").value) for name in COUNTERS}
