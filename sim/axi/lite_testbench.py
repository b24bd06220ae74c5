"""cocotb child of the control-register co-simulation: cocotbext-axi's ``AxiLiteMaster`` runs a script.

The script (:data:`~sim.axi.lite_run.LiteOp` tuples, pickled in ``QCONV_AXI_LITE_OPS``) writes and reads
registers through the master and drives the ``busy``/``done``/``error`` inputs; a monitor counts
``start`` pulses. After every operation the child records ``(resp, value, starts)`` and pickles the
list to ``QCONV_AXI_LITE_RESULTS``. It judges nothing.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from sim.axi.lite_run import PERIOD_NS, LiteAction


class _StartCounter:
    """Counts the cycles in which ``start`` is high."""

    def __init__(self, dut) -> None:
        self.count = 0
        self._dut = dut

    async def run(self) -> None:
        while True:
            await RisingEdge(self._dut.clk)
            self.count += int(self._dut.start.value)


@cocotb.test()
async def script(dut) -> None:
    """Run the operations in order."""
    ops = pickle.loads(Path(os.environ["QCONV_AXI_LITE_OPS"]).read_bytes())
    Clock(dut.clk, PERIOD_NS, unit="ns").start(start_high=False)
    dut.busy.value, dut.done.value, dut.error.value, dut.rst.value = 0, 0, 0, 1
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "bus", bus_separator="__"), dut.clk, dut.rst)
    starts = _StartCounter(dut)
    cocotb.start_soon(starts.run())
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    results = []
    for action, address, value in ops:
        resp, got = 0, None
        if action is LiteAction.WRITE:
            resp = int((await master.write(address, value)).resp)
        elif action is LiteAction.READ:
            answer = await master.read(address, 4)
            resp, got = int(answer.resp), int.from_bytes(answer.data, "little")
        elif action is LiteAction.BUSY:
            dut.busy.value = value
            await RisingEdge(dut.clk)
        else:                                    # LiteAction.DONE: one pulse with error code ``value``
            dut.done.value, dut.error.value, dut.busy.value = 1, value, 0
            await RisingEdge(dut.clk)
            dut.done.value = 0
        await ClockCycles(dut.clk, 2)
        results.append((resp, got, starts.count))
    Path(os.environ["QCONV_AXI_LITE_RESULTS"]).write_bytes(pickle.dumps(results))
