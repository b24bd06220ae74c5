"""cocotb child of the System's AxiRam co-simulation: runs each :class:`~sim.system.axiram_run.AxiRamJob`.

The memory is cocotbext-axi's ``AxiRam`` (its read and write halves, ``AxiRamRead`` and
``AxiRamWrite``, sharing one memory) bound straight to the System's ``m_axi`` ports, with seeded
pauses on AR, R, AW, W and B and a per-job error window; the control registers are written and read
with cocotbext-axi's ``AxiLiteMaster``. For each job the child loads the memory, writes CMD_ADDR,
CMD_COUNT and START, waits for ``irq`` (bounded; no Python per cycle beyond the RAM's own), then
records STATUS, ERROR, the counters' increments and the whole memory, waits until no counter
moves any more (recording what moved after ``irq``), and pickles the list to
``QCONV_AXIRAM_RESULTS``. It judges nothing.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, First, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiReadBus, AxiWriteBus

from model.contract import COUNTERS, SYSTEM_COUNTER_LAG, SYSTEM_COUNTERS, ControlBit, LiteRegister
from sim.axi.fault_ram import ErrorWindowRead, ErrorWindowWrite
from sim.system.axiram_run import PERIOD_NS, AxiRamJob, AxiRamResult


#: The DUT inputs the AxiRam and the AxiLiteMaster drive, set to 0 once before the first transfer.
#: cocotbext-axi's sources start their payloads at X (and drive VALID low only once they see reset
#: asserted, which they never do when it is asserted from the start); the System's RREADY depends
#: combinationally on RRESP even while RVALID is low (hw/axi/read_dma.py: ``rready = Mux(forward,
#: ...)``, ``forward`` from ``~rresp[1]``), so on a four-state simulator RREADY would read X until
#: the first beat, and the R source, which samples READY before VALID, would raise.
_MODEL_DRIVEN = tuple(f"m_axi__read__{n}" for n in ("arready", "rvalid", "rid", "rdata", "rresp", "rlast")) + tuple(
    f"m_axi__write__{n}" for n in ("awready", "wready", "bvalid", "bid", "bresp")) + tuple(
    f"s_axil__{n}" for n in ("awvalid", "awaddr", "wvalid", "wdata", "wstrb", "bready", "arvalid", "araddr", "rready"))


#: A counter that has not moved for this many cycles has stopped (longer than any gap in a pass).
SETTLE_CYCLES = 64


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


class _IrqWatch:
    """Counts ``irq`` pulses and sets an event at each."""

    def __init__(self, dut) -> None:
        self.pulses = 0
        self.event = Event()
        self._dut = dut

    async def run(self) -> None:
        while True:
            await RisingEdge(self._dut.irq)
            self.pulses += 1
            self.event.set()


def _counters(dut) -> dict:
    raw = {n: getattr(dut, f"count_{n}").value for n in SYSTEM_COUNTERS + COUNTERS}
    unknown = [n for n, v in raw.items() if not v.is_resolvable]
    assert not unknown, f"counters not 0/1: {unknown}"
    return {n: int(v) for n, v in raw.items()}


async def _settled(dut, max_cycles: int) -> dict:
    """The counters once none has moved for :data:`SETTLE_CYCLES` cycles (at most ``max_cycles`` of waiting)."""
    last = _counters(dut)
    for _ in range(max(1, max_cycles // SETTLE_CYCLES)):
        await ClockCycles(dut.clk, SETTLE_CYCLES)
        now = _counters(dut)
        if now == last:
            break
        last = now
    return last


@cocotb.test()
async def layers(dut) -> None:
    """Run every job in order on one AxiRam, and report."""
    jobs: list[AxiRamJob] = pickle.loads(Path(os.environ["QCONV_AXIRAM_JOBS"]).read_bytes())
    size = max(len(j.memory) for j in jobs)
    Clock(dut.clk, PERIOD_NS, unit="ns").start(start_high=False)
    dut.rst.value = 1
    reader = ErrorWindowRead(AxiReadBus.from_prefix(dut, "m_axi__read", bus_separator="__"), dut.clk, dut.rst,
                             size=size)
    writer = ErrorWindowWrite(AxiWriteBus.from_prefix(dut, "m_axi__write", bus_separator="__"), dut.clk, dut.rst,
                              size=size, mem=reader.mem)
    lite = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__"), dut.clk, dut.rst)
    for name in _MODEL_DRIVEN:
        getattr(dut, name).value = 0
    for port in (reader, writer, lite.write_if, lite.read_if):
        port.log.setLevel(logging.WARNING)
    channels = (reader.ar_channel, reader.r_channel, writer.aw_channel, writer.w_channel, writer.b_channel)
    irq = _IrqWatch(dut)
    cocotb.start_soon(irq.run())
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    results = []
    for job in jobs:
        reader.write(0, job.memory + bytes(size - len(job.memory)))
        rng = random.Random(job.seed)
        for channel in channels:
            if job.pause > 0:
                channel.set_pause_generator(_pauses(random.Random(rng.random()), job.pause))
            else:
                channel.clear_pause_generator()
                channel.pause = False
        reader.window, writer.window = job.read_window, job.write_window
        reader.resp = writer.resp = job.fault_resp
        before = _counters(dut)
        await lite.write_dword(LiteRegister.CMD_ADDR, job.cmd_addr)
        await lite.write_dword(LiteRegister.CMD_COUNT, job.cmd_count)
        pulses = irq.pulses
        irq.event.clear()
        began = get_sim_time("ns")
        await lite.write_dword(LiteRegister.CONTROL, 1 << ControlBit.START)
        limit = Timer(PERIOD_NS * job.max_cycles, unit="ns")
        if irq.pulses == pulses and await First(irq.event.wait(), limit) is limit:
            status = await lite.read_dword(LiteRegister.STATUS)
            results.append(AxiRamResult(job.name, False, None, status, 0, {}, b""))
            break
        cycles = round((get_sim_time("ns") - began) / PERIOD_NS)
        await ClockCycles(dut.clk, SYSTEM_COUNTER_LAG)        # increments and counters are registered
        after = _counters(dut)
        status = await lite.read_dword(LiteRegister.STATUS)
        error = await lite.read_dword(LiteRegister.ERROR)
        memory = bytes(reader.read(0, len(job.memory)))
        settled = await _settled(dut, job.max_cycles)
        late = {n: settled[n] - after[n] for n in after if settled[n] != after[n]}
        results.append(AxiRamResult(job.name, True, cycles, status, error, {n: after[n] - before[n] for n in after},
                                    memory, late))
    Path(os.environ["QCONV_AXIRAM_RESULTS"]).write_bytes(pickle.dumps(results))
