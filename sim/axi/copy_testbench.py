"""cocotb child of the AXI copy co-simulation: runs each :class:`~sim.axi.copy_run.CopyCase` on ``axi_copy``.

The memory is cocotbext-axi's ``AxiRam`` (its read and write halves, ``AxiRamRead`` and ``AxiRamWrite``,
sharing one memory), with seeded pauses on AR, R, AW, W and B, and with an error window per case
(a beat there raises inside the RAM, which cocotbext-axi answers with SLVERR). The child waits only
for ``done`` (no Python per cycle beyond the RAM's own), then records the cycles, the errors, the
counters and the whole memory, and pickles the list to ``QCONV_AXI_RESULTS``. It judges nothing.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiReadBus, AxiWriteBus

from hw.axi.copy import COPY_COUNTERS
from sim.axi.copy_run import PERIOD_NS, CopyCase, CopyResult, FaultSide
from sim.axi.fault_ram import ErrorWindowRead, ErrorWindowWrite

#: A case that has not ended after this many cycles per beat (plus a margin) is a hang.
HANG_CYCLES_PER_BEAT = 40


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


@cocotb.test()
async def copy(dut) -> None:
    """Run every case in order on one AxiRam, and report."""
    cases: list[CopyCase] = pickle.loads(Path(os.environ["QCONV_AXI_CASES"]).read_bytes())
    image = np.fromfile(os.environ["QCONV_AXI_IMAGE"], dtype=np.uint8)
    Clock(dut.clk, PERIOD_NS, unit="ns").start(start_high=False)
    dut.start.value, dut.cancel.value, dut.rst.value = 0, 0, 1
    reader = ErrorWindowRead(AxiReadBus.from_prefix(dut, "m_axi__read", bus_separator="__"), dut.clk, dut.rst,
                             size=image.size)
    writer = ErrorWindowWrite(AxiWriteBus.from_prefix(dut, "m_axi__write", bus_separator="__"), dut.clk, dut.rst,
                              size=image.size, mem=reader.mem)
    for port in (reader, writer):
        port.log.setLevel(logging.WARNING)
    reader.write(0, image.tobytes())
    channels = {"ar": reader.ar_channel, "r": reader.r_channel, "aw": writer.aw_channel,
                "w": writer.w_channel, "b": writer.b_channel}
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    results = []
    for case in cases:
        rng = random.Random(case.seed)
        for channel in channels.values():
            if case.pause > 0:
                channel.set_pause_generator(_pauses(random.Random(rng.random()), case.pause))
            else:
                channel.clear_pause_generator()
                channel.pause = False
        reader.window = case.fault_window if case.fault is FaultSide.READ else None
        writer.window = case.fault_window if case.fault is FaultSide.WRITE else None
        before = {name: int(getattr(dut, f"count_{name}").value) for name in COPY_COUNTERS}
        for name in ("src", "dst", "src_stride", "dst_stride", "run_bytes", "count"):
            getattr(dut, name).value = getattr(case, name)
        await RisingEdge(dut.clk)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        began = get_sim_time("ns")
        limit = Timer(PERIOD_NS * (HANG_CYCLES_PER_BEAT * case.beats + 1000), unit="ns")
        ended = await First(RisingEdge(dut.done), limit)
        if ended is limit:
            results.append(CopyResult(case.name, None, None, None, {}, b""))
            break
        cycles = round((get_sim_time("ns") - began) / PERIOD_NS)
        read_error, write_error = int(dut.read_error.value), int(dut.write_error.value)
        await RisingEdge(dut.clk)
        await ClockCycles(dut.clk, 2)        # counters are registered
        counts = {name: int(getattr(dut, f"count_{name}").value) - before[name] for name in COPY_COUNTERS}
        results.append(CopyResult(case.name, cycles, read_error, write_error, counts,
                                  bytes(reader.read(0, image.size))))
    Path(os.environ["QCONV_AXI_RESULTS"]).write_bytes(pickle.dumps(results))
