"""cocotb child of the DRAM benchmark: one long streaming read, timed, with no Python per cycle.

``QCONV_DRAM_MEMORY`` names the memory (:class:`sim.dram.bench.StreamMemory`): ``verilog``
(``qconv_dram_stream`` as toplevel: the image is bulk-loaded through ``load``) or ``axiram``
(``qconv_dram_reader`` as toplevel, cocotbext-axi's ``AxiRamRead`` answering in Python). The child waits only for ``done`` and writes cycles, wall seconds,
beats and checksum as JSON to ``QCONV_DRAM_RESULT``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiRamRead, AxiReadBus

from sim.dram import write_image
from sim.dram.bench import StreamMemory

#: Clock period of the benchmark, ns.
PERIOD_NS = 10


@cocotb.test()
async def stream(dut) -> None:
    """Load the image, read ``QCONV_DRAM_BURSTS`` bursts of 256 beats, report."""
    memory = StreamMemory(os.environ["QCONV_DRAM_MEMORY"])
    image = np.fromfile(os.environ["QCONV_DRAM_IMAGE"], dtype=np.uint8)
    beat_bytes = len(dut.checksum) // 8
    Clock(dut.clk, PERIOD_NS, unit="ns").start(start_high=False)
    dut.start.value = 0
    dut.bursts.value = int(os.environ["QCONV_DRAM_BURSTS"])
    dut.rst.value = 1
    if memory is StreamMemory.AXIRAM:
        ram = AxiRamRead(AxiReadBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=image.size)
        ram.write(0, image.tobytes())
    else:
        words = write_image(Path(os.environ["QCONV_DRAM_INIT"]), image, beat_bytes)
        dut.image_first.value, dut.image_last.value = 0, words - 1
        dut.load.value = 1
    await ClockCycles(dut.clk, 2)
    if memory is StreamMemory.VERILOG:
        dut.load.value = 0
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    began, wall = get_sim_time("ns"), time.perf_counter()
    await RisingEdge(dut.done)
    wall = time.perf_counter() - wall
    cycles = round((get_sim_time("ns") - began) / PERIOD_NS)
    Path(os.environ["QCONV_DRAM_RESULT"]).write_text(json.dumps({
        "cycles": cycles, "wall_s": wall, "beats": int(dut.beats.value), "checksum": int(dut.checksum.value)}))
