"""cocotb child of the DRAM co-simulations: drives the phases of a scenario and records every handshake.

It runs inside the simulator (``qconv_dram`` as toplevel), reads the pickled phases named by
``QCONV_DRAM_SCENARIO``, drives AXI transfers with cocotbext-axi's ``AxiMaster`` (independent code)
and the bulk ``load``/``dump`` ports, monitors the five channels every cycle and pickles a
:class:`~sim.dram.scenario.Trace` to ``QCONV_DRAM_TRACE``. It judges nothing: the parent does.
"""

from __future__ import annotations

import itertools
import os
import pickle
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiBus, AxiMaster

from sim.dram import read_image, write_image
from sim.dram.scenario import Address, Beat, Channel, Dump, Load, Read, Trace, Transfers

#: Idle cycles after each phase, so every response has left the DRAM before the next one starts.
SETTLE_CYCLES = 4


class Monitor:
    """Samples the five AXI channels after every edge: the values the next edge samples."""

    def __init__(self, dut, trace: Trace) -> None:
        self._dut = dut
        self._trace = trace
        self._offers = dict.fromkeys(Channel)

    def _offer(self, channel: Channel, valid: bool, ready: bool, cycle: int) -> int | None:
        """First cycle of the current VALID run (None when VALID is low); reset after a handshake."""
        if not valid:
            return None
        if self._offers[channel] is None:
            self._offers[channel] = cycle
        offer = self._offers[channel]
        if ready:
            self._offers[channel] = None
        return offer

    async def run(self) -> None:
        dut, trace = self._dut, self._trace
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            trace.cycles += 1
            cycle = trace.cycles
            for channel, book in ((Channel.AR, trace.ar), (Channel.AW, trace.aw)):
                valid = bool(getattr(dut, f"s_axi_{channel}valid").value)
                ready = bool(getattr(dut, f"s_axi_{channel}ready").value)
                offer = self._offer(channel, valid, ready, cycle)
                if valid and ready:
                    book.append(Address(offer, cycle, int(getattr(dut, f"s_axi_{channel}addr").value),
                                        int(getattr(dut, f"s_axi_{channel}len").value) + 1,
                                        int(getattr(dut, f"s_axi_{channel}size").value)))
            rready, bready = bool(dut.s_axi_rready.value), bool(dut.s_axi_bready.value)
            if not rready:
                trace.r_stalls.add(cycle)
            if not bready:
                trace.b_stalls.add(cycle)
            rvalid, wvalid, bvalid = bool(dut.s_axi_rvalid.value), bool(dut.s_axi_wvalid.value), bool(dut.s_axi_bvalid.value)
            wready = bool(dut.s_axi_wready.value)
            offer = self._offer(Channel.R, rvalid, rready, cycle)
            if rvalid and rready:
                trace.r.append(Beat(offer, cycle, int(dut.s_axi_rdata.value), int(dut.s_axi_rresp.value),
                                    bool(dut.s_axi_rlast.value)))
            offer = self._offer(Channel.W, wvalid, wready, cycle)
            if wvalid and wready:
                trace.w.append(Beat(offer, cycle, int(dut.s_axi_wdata.value), int(dut.s_axi_wstrb.value),
                                    bool(dut.s_axi_wlast.value)))
            offer = self._offer(Channel.B, bvalid, bready, cycle)
            if bvalid and bready:
                trace.b.append(Beat(offer, cycle, 0, int(dut.s_axi_bresp.value), True))


async def _transfers(master: AxiMaster, phase: Transfers, trace: Trace) -> None:
    channels = {Channel.AR: master.read_if.ar_channel, Channel.R: master.read_if.r_channel,
                Channel.AW: master.write_if.aw_channel, Channel.W: master.write_if.w_channel,
                Channel.B: master.write_if.b_channel}
    for name, pattern in phase.pauses.items():
        channels[name].set_pause_generator(itertools.cycle(pattern))
    events = []
    for op in phase.ops:
        if isinstance(op, Read):
            events.append(master.init_read(op.address, op.length, size=phase.size))
        else:
            events.append(master.init_write(op.address, op.data, size=phase.size))
    results = []
    for op, event in zip(phase.ops, events):
        await event.wait()
        results.append((bytes(event.data.data) if isinstance(op, Read) else None, int(event.data.resp)))
    for name in phase.pauses:
        channels[name].clear_pause_generator()
        channels[name].pause = False
    trace.results.append(results)


@cocotb.test()
async def drive_scenario(dut) -> None:
    """Run every phase of the scenario, monitoring the AXI channels, and pickle the trace."""
    phases = pickle.loads(Path(os.environ["QCONV_DRAM_SCENARIO"]).read_bytes())
    init_file, dump_file = Path(os.environ["QCONV_DRAM_INIT"]), Path(os.environ["QCONV_DRAM_DUMP"])
    beat_bytes = len(dut.s_axi_wstrb)
    trace = Trace()
    start = time.perf_counter()
    Clock(dut.clk, 10, unit="ns").start(start_high=False)
    dut.load.value = 0
    dut.dump.value = 0
    dut.image_first.value = 0
    dut.image_last.value = 0
    dut.rst.value = 1
    master = AxiMaster(AxiBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    monitor = cocotb.start_soon(Monitor(dut, trace).run())
    for phase in phases:
        if isinstance(phase, Transfers):
            await _transfers(master, phase, trace)
        else:
            began = time.perf_counter()
            if isinstance(phase, Load):
                words = write_image(init_file, phase.data, beat_bytes)
                dut.image_first.value, dut.image_last.value = phase.first, phase.first + words - 1
            else:
                dut.image_first.value, dut.image_last.value = phase.first, phase.last
            pulse = dut.load if isinstance(phase, Load) else dut.dump
            pulse.value = 1
            await RisingEdge(dut.clk)
            pulse.value = 0
            await ReadOnly()    # the edge's $readmemh/$writememh has run
            if isinstance(phase, Dump):
                trace.dumps.append(read_image(dump_file, beat_bytes).tobytes())
            trace.seconds.append(time.perf_counter() - began)
        await ClockCycles(dut.clk, SETTLE_CYCLES)
    monitor.cancel()
    trace.wall = time.perf_counter() - start
    Path(os.environ["QCONV_DRAM_TRACE"]).write_bytes(pickle.dumps(trace))
