"""The Amaranth-simulator back end of the host-program executor (unit tests of the whole accelerator)."""

from __future__ import annotations

from amaranth.sim import Simulator

from hw.accelerator import Accelerator
from model.config import AcceleratorConfig
from model.contract import COUNTERS, READ_LATENCY
from model.program import HostRead, HostRun, HostWrite
from sim.executor import DoneTimeout, Program, RawRun, execute_all

__all__ = ["AmaranthPort", "simulate"]


class AmaranthPort:
    """:class:`sim.executor.HostPort` on an :class:`hw.accelerator.Accelerator` in an amaranth.sim testbench."""

    def __init__(self, ctx, dut: Accelerator):
        self.ctx, self.dut = ctx, dut
        self._acc_bits = dut.config.acc_bits

    async def reset(self) -> None:
        """Nothing to do: the simulation starts from reset, and the executor takes counter differences."""

    def _address(self, op) -> None:
        host = self.dut.host
        self.ctx.set(host.sel, int(op.sel))
        self.ctx.set(host.addr, op.addr)
        self.ctx.set(host.lane, op.lane)

    async def write(self, op: HostWrite) -> None:
        host = self.dut.host
        self._address(op)
        self.ctx.set(host.wdata, op.data)
        self.ctx.set(host.we, 1)
        await self.ctx.tick()
        self.ctx.set(host.we, 0)

    async def read(self, op: HostRead) -> int:
        host = self.dut.host
        self._address(op)
        self.ctx.set(host.chan, op.chan)
        self.ctx.set(host.re, 1)
        await self.ctx.tick()
        self.ctx.set(host.re, 0)
        await self.ctx.tick().repeat(READ_LATENCY - 1)
        value = self.ctx.get(host.rdata)
        return value - (1 << self._acc_bits) if value >> (self._acc_bits - 1) else value

    async def run(self, op: HostRun, max_cycles: int) -> None:
        self.ctx.set(self.dut.desc.as_value(), op.desc)
        self.ctx.set(self.dut.start, 1)
        await self.ctx.tick()
        self.ctx.set(self.dut.start, 0)
        for _ in range(max_cycles):
            if self.ctx.get(self.dut.done):
                await self.ctx.tick()  # the cycle ``done`` rises in is counted at the next edge
                return
            await self.ctx.tick()
        raise DoneTimeout(f"the accelerator did not raise done within {max_cycles} cycles of start ({op.fields})")

    def counters(self) -> dict[str, int]:
        return {name: self.ctx.get(getattr(self.dut, f"count_{name}")) for name in COUNTERS}


def simulate(config: AcceleratorConfig, programs: list[Program]) -> list[RawRun]:
    """Run ``programs`` one after the other on one simulated accelerator built for ``config``.

    Each :class:`~sim.executor.RawRun` holds the counters' increase over its program.
    """
    dut = Accelerator(config)
    runs: list[RawRun] = []

    async def bench(ctx):
        runs.extend(await execute_all(AmaranthPort(ctx, dut), programs))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return runs
