"""cocotb testbench of ``qconv_system_dram``: bulk-load the DRAM, start the layer over AXI4-Lite,
wait for ``irq`` (no Python per cycle meanwhile), read STATUS and ERROR, bulk-dump the DRAM.

Environment: ``QCONV_SYS_IMAGE`` (the DRAM bytes), ``QCONV_SYS_INIT`` / ``QCONV_SYS_DUMP`` (the hex
files of ``+dram_init=`` / ``+dram_dump=``), ``QCONV_SYS_COMMANDS`` (CMD_COUNT), ``QCONV_SYS_BEAT``
(bytes per beat), ``QCONV_SYS_MAX_CYCLES``, ``QCONV_SYS_RESULT`` (JSON written: status, error,
counters, wall seconds).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer

from model.contract import COUNTERS, SYSTEM_COUNTER_LAG, SYSTEM_COUNTERS, ControlBit, LiteRegister
from sim.dram import write_image

PERIOD_NS = 10


async def _lite_write(dut, addr: int, value: int) -> None:
    dut.s_axil_awaddr.value, dut.s_axil_awvalid.value = addr, 1
    dut.s_axil_wdata.value, dut.s_axil_wstrb.value, dut.s_axil_wvalid.value = value, 0xF, 1
    dut.s_axil_bready.value = 1
    while True:
        await RisingEdge(dut.clk)
        if int(dut.s_axil_awready.value):
            break
    dut.s_axil_awvalid.value, dut.s_axil_wvalid.value = 0, 0
    while not int(dut.s_axil_bvalid.value):
        await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.s_axil_bready.value = 0


async def _lite_read(dut, addr: int) -> int:
    dut.s_axil_araddr.value, dut.s_axil_arvalid.value, dut.s_axil_rready.value = addr, 1, 1
    while True:
        await RisingEdge(dut.clk)
        if int(dut.s_axil_arready.value):
            break
    dut.s_axil_arvalid.value = 0
    while not int(dut.s_axil_rvalid.value):
        await RisingEdge(dut.clk)
    value = int(dut.s_axil_rdata.value)
    await RisingEdge(dut.clk)
    dut.s_axil_rready.value = 0
    return value


@cocotb.test()
async def run_layer(dut) -> None:
    """One layer: load, start, wait for irq, dump, report."""
    beat = int(os.environ["QCONV_SYS_BEAT"])
    image = np.fromfile(os.environ["QCONV_SYS_IMAGE"], dtype=np.uint8)
    Clock(dut.clk, PERIOD_NS, unit="ns").start(start_high=False)
    for name in ("awvalid", "wvalid", "bready", "arvalid", "rready"):
        getattr(dut, f"s_axil_{name}").value = 0
    dut.dump.value = 0
    words = write_image(Path(os.environ["QCONV_SYS_INIT"]), image, beat)
    dut.image_first.value, dut.image_last.value = 0, words - 1
    dut.rst.value, dut.load.value = 1, 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value, dut.load.value = 0, 0
    await _lite_write(dut, LiteRegister.CMD_ADDR, 0)
    await _lite_write(dut, LiteRegister.CMD_COUNT, int(os.environ["QCONV_SYS_COMMANDS"]))
    wall = time.perf_counter()
    await _lite_write(dut, LiteRegister.CONTROL, 1 << ControlBit.START)
    timeout = Timer(int(os.environ["QCONV_SYS_MAX_CYCLES"]) * PERIOD_NS, unit="ns")
    if await First(RisingEdge(dut.irq), timeout) is timeout:
        raise AssertionError("the System did not raise irq")
    wall = time.perf_counter() - wall
    await ClockCycles(dut.clk, SYSTEM_COUNTER_LAG)
    await ReadOnly()
    raw = {n: getattr(dut, f"count_{n}").value for n in SYSTEM_COUNTERS + COUNTERS}
    unknown = [n for n, v in raw.items() if not v.is_resolvable]
    assert not unknown, f"counters not 0/1: {unknown}"
    counters = {n: int(v) for n, v in raw.items()}
    await RisingEdge(dut.clk)
    status = await _lite_read(dut, LiteRegister.STATUS)
    error = await _lite_read(dut, LiteRegister.ERROR)
    dut.image_first.value, dut.image_last.value = 0, words - 1
    dut.dump.value = 1
    await RisingEdge(dut.clk)
    dut.dump.value = 0
    await ClockCycles(dut.clk, 2)
    Path(os.environ["QCONV_SYS_RESULT"]).write_text(json.dumps(
        {"status": status, "error": error, "counters": counters, "wall_s": wall}))
