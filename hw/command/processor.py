"""The command processor: fetches the command list over AXI4 and runs each command in order.

One command at a time, the next fetched when the last has ended -- except that a pass, once
started, runs on its own: the LOADs and STOREs after its RUN overlap it (the command list puts
them in buffer regions the pass does not use). Exact cycle behaviour (what a model of the System
relies on), from ``start``:

* FETCH: the read DMA reads one record (:data:`model.contract.COMMAND_BYTES` bytes) at
  ``cmd_addr + i * COMMAND_BYTES``; the command is decoded the cycle after the DMA's ``done``.
* DECODE and NEXT take :data:`model.contract.COMMAND_DECODE_CYCLES` and
  :data:`model.contract.COMMAND_NEXT_CYCLES` (one state each); :mod:`model.system_perf` replays
  this whole behaviour cycle for cycle.
* LOAD: the read DMA and :class:`hw.command.load.LoadUnpacker` (ifmap or weight words) or
  :class:`hw.command.requant_load.RequantLoader` (requantization entries) start in the same
  cycle; the command ends when both are idle.
* RUN: in the first cycle the accelerator takes a start (``acc_ready``: idle, or the pass before in
  its pipeline tail; at once if no pass is running), its ``start`` is pulsed with the record's
  descriptor, and the command ends (NEXT follows). A STORE after it reads the psums of the pass
  before only after that pass's tail: NEXT and the next FETCH take longer than any
  :data:`~model.contract.PIPELINE_TAIL` (a test checks it).
* SYNC: the command ends in the first cycle the accelerator is idle.
* STORE: :class:`hw.command.store.StorePacker` and the write DMA start in the same cycle; the
  command ends when both are idle (the write DMA after its last B response).
* A record with an unknown opcode ends the layer with ``BAD_COMMAND``.
* An error response in any DMA ends the layer with that :class:`~model.contract.DmaError` as soon
  as the pass started last (if any) has ended, so that nothing moves after ``done`` (the engines have
  already finished their bursts; the unpacker and packer are reset).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.axi.read_dma import ReadDma
from hw.axi.signatures import AxiSignature
from hw.axi.write_dma import WriteDma
from hw.command.load import LoadUnpacker
from hw.command.requant_load import RequantLoader
from hw.command.store import StorePacker
from hw.controller.layouts import desc_layout
from hw.signatures import HostPortSignature, WritePortSignature
from model.config import AcceleratorConfig
from model.contract import (
    AXI_ADDR_BITS, AXI_LITE_DATA_BITS, COMMAND_BYTES, COMMAND_OPCODE_BITS, Buffer, DmaError, Opcode, command_fields,
    ifmap_load_words,
)

__all__ = ["CommandProcessor"]


def _field(record, config: AcceleratorConfig, opcode: Opcode, name: str):
    """The bits of field ``name`` of an ``opcode`` record (:func:`model.contract.command_fields`)."""
    at = COMMAND_OPCODE_BITS
    for field, width in command_fields(config, opcode):
        if field == name:
            return record[at:at + width]
        at += width
    raise KeyError(name)


class CommandProcessor(wiring.Component):
    """Runs a layer's command list (module notes).

    Parameters
    ----------
    config : AcceleratorConfig
    word_bytes : int
        DRAM container of an input or weight word (:func:`model.commands.word_bytes`).

    Ports
    -----
    axi : Out(AxiSignature(axi_data_bits))
    start : In(1); cmd_addr : In(AXI_ADDR_BITS); cmd_count : In(AXI_LITE_DATA_BITS)
    busy, done : Out(1); error : Out(DmaError)
        ``done`` is one cycle, at the end of the layer, with ``error``.
    host : Out(HostPortSignature(config)); acc_start : Out(1); acc_desc : Out(desc_layout); acc_done, acc_ready : In(1)
        The accelerator's host port, pass start, ``done`` and ``ready``.
    ifmap_lines : Out(WritePortSignature(ifmap_depth, ArrayLayout(word_bits, banks), banks))
    weight_lines : Out(WritePortSignature(weight_depth, line, cols))
        The accelerator's wide ifmap and weight writes (:class:`hw.command.load.LoadUnpacker`;
        ``banks`` = :func:`model.contract.ifmap_load_words`).
    psum_lines : In(ArrayLayout(acc_bits, cols))
        The accelerator's whole psum line of a host read (:class:`hw.command.store.StorePacker`'s).
    blocked : Out(1)
        A RUN waits for the running pass to take a start, or a SYNC for it to end (the DMA-wait counter's enable).
    read_bytes, write_bytes : Out; read_burst, write_burst : Out(1)
        The DMAs' per-cycle increments.
    """

    def __init__(self, config: AcceleratorConfig, word_bytes: int):
        self._config, self._wb = config, word_bytes
        bb, banks = config.axi_beat_bytes, ifmap_load_words(config, word_bytes)
        super().__init__({
            "axi": Out(AxiSignature(config.axi_data_bits)),
            "start": In(1), "cmd_addr": In(AXI_ADDR_BITS), "cmd_count": In(AXI_LITE_DATA_BITS),
            "busy": Out(1), "done": Out(1), "error": Out(DmaError),
            "host": Out(HostPortSignature(config)), "acc_start": Out(1), "acc_desc": Out(desc_layout(config)),
            "acc_done": In(1), "acc_ready": In(1), "psum_lines": In(data.ArrayLayout(config.acc_bits, config.cols)),
            "ifmap_lines": Out(WritePortSignature(config.ifmap_depth, data.ArrayLayout(config.word_bits, banks), banks)),
            "weight_lines": Out(WritePortSignature(config.weight_depth, data.ArrayLayout(config.word_bits, config.cols),
                                                   config.cols)),
            "blocked": Out(1),
            "read_bytes": Out(range(bb + 1)), "write_bytes": Out(range(bb + 1)),
            "read_burst": Out(1), "write_burst": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, beat_bits = self._config, self._config.axi_data_bits
        abort = Signal()
        m.submodules.rdma = rdma = ReadDma(beat_bits)
        m.submodules.wdma = wdma = WriteDma(beat_bits)
        m.submodules.unpack = unpack = ResetInserter(abort)(LoadUnpacker(cfg, self._wb))
        m.submodules.rqload = rqload = ResetInserter(abort)(RequantLoader(cfg))
        m.submodules.pack = pack = ResetInserter(abort)(StorePacker(cfg))
        wiring.connect(m, wiring.flipped(self.axi.read), rdma.bus)
        wiring.connect(m, wiring.flipped(self.axi.write), wdma.bus)
        wiring.connect(m, pack.beats, wdma.data)
        wiring.connect(m, unpack.ifmap_write, wiring.flipped(self.ifmap_lines))
        wiring.connect(m, unpack.line_write, wiring.flipped(self.weight_lines))
        m.d.comb += [self.read_bytes.eq(rdma.inc_bytes), self.write_bytes.eq(wdma.inc_bytes),
                     self.read_burst.eq(rdma.inc_bursts), self.write_burst.eq(wdma.inc_bursts)]

        record = Signal(8 * COMMAND_BYTES)
        opcode = record[:COMMAND_OPCODE_BITS]
        index, count = Signal(AXI_LITE_DATA_BITS), Signal(AXI_LITE_DATA_BITS)
        addr = Signal(AXI_ADDR_BITS)
        fetching = Signal()

        def f(op, name):
            return _field(record, cfg, op, name)

        # the read DMA's beats: a record (shifted in, first beat lowest) or the unpacker's
        m.d.comb += [
            unpack.beats.payload.eq(rdma.data.payload), unpack.beats.valid.eq(rdma.data.valid & ~fetching),
            rqload.beats.payload.eq(rdma.data.payload), rqload.beats.valid.eq(rdma.data.valid & ~fetching),
            rdma.data.ready.eq(fetching | unpack.beats.ready | rqload.beats.ready),
        ]
        with m.If(fetching & rdma.data.valid):
            m.d.sync += record.eq(Cat(record[beat_bits:], rdma.data.payload.data))

        # the host port: the loaders' writes (one of them is busy at a time), the packer's psum reads
        m.d.comb += [
            self.host.we.eq(rqload.write_en), self.host.wdata.eq(rqload.write_data),
            self.host.re.eq(pack.read_en), self.host.chan.eq(pack.read_chan),
            pack.read_data.eq(self.psum_lines),
            self.acc_desc.eq(f(Opcode.RUN, "desc")),
        ]
        for port, name in ((self.host.sel, "write_sel"), (self.host.addr, "write_addr"), (self.host.lane, "write_lane")):
            psum = {"write_sel": Buffer.PSUM, "write_addr": pack.read_addr, "write_lane": 0}[name]
            m.d.comb += port.eq(Mux(pack.read_en, psum, getattr(rqload, name)))

        # the run fields of LOAD and STORE go to the DMA command of this phase
        def dma_cmd(dma, op):
            return [dma.cmd.payload.addr.eq(f(op, "dram_addr")), dma.cmd.payload.run_bytes.eq(f(op, "run_bytes")),
                    dma.cmd.payload.count.eq(f(op, "count")), dma.cmd.payload.stride.eq(f(op, "stride")),
                    dma.cmd.payload.repeat.eq(f(op, "repeat")), dma.cmd.payload.repeat_stride.eq(f(op, "repeat_stride"))]

        m.d.comb += [
            unpack.buffer.eq(f(Opcode.LOAD, "buffer")), unpack.buf_addr.eq(f(Opcode.LOAD, "buf_addr")),
            unpack.words.eq(f(Opcode.LOAD, "words")), unpack.skip.eq(f(Opcode.LOAD, "skip")),
            unpack.step.eq(f(Opcode.LOAD, "step")),
            unpack.run_bytes.eq(f(Opcode.LOAD, "run_bytes")),
            rqload.buf_addr.eq(f(Opcode.LOAD, "buf_addr")), rqload.words.eq(f(Opcode.LOAD, "words")),
            pack.format.eq(f(Opcode.STORE, "format")), pack.line.eq(f(Opcode.STORE, "line")),
            pack.chan.eq(f(Opcode.STORE, "chan")),
            pack.per_run.eq(f(Opcode.STORE, "per_run")), pack.count.eq(f(Opcode.STORE, "count")),
            pack.repeat.eq(f(Opcode.STORE, "repeat")), pack.group_lines.eq(f(Opcode.STORE, "group_lines")),
            pack.offset.eq(f(Opcode.STORE, "dram_addr")[:(cfg.axi_beat_bytes - 1).bit_length()]),
            *dma_cmd(wdma, Opcode.STORE),
        ]

        m.d.sync += self.done.eq(0)

        def finish(error):
            m.d.sync += [self.done.eq(1), self.busy.eq(0), self.error.eq(error)]
            m.next = "IDLE"

        def fail(error):
            """End the layer with ``error`` once the pass started last has ended too (``DRAIN``)."""
            m.d.sync += self.error.eq(error)
            m.next = "DRAIN"

        # BOOT: one cycle after reset, so that the state changes once and Icarus evaluates every
        # ``always @*`` block that decodes it (a block that never wakes would leave X)
        with m.FSM(init="BOOT"):
            with m.State("BOOT"):
                m.next = "IDLE"
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [index.eq(0), count.eq(self.cmd_count), addr.eq(self.cmd_addr), self.busy.eq(1),
                                 self.error.eq(DmaError.NONE)]
                    with m.If(self.cmd_count == 0):
                        finish(DmaError.NONE)
                    with m.Else():
                        m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += [fetching.eq(1),
                             rdma.cmd.payload.addr.eq(addr), rdma.cmd.payload.run_bytes.eq(COMMAND_BYTES),
                             rdma.cmd.payload.count.eq(1), rdma.cmd.valid.eq(~rdma.busy)]
                with m.If(rdma.done):
                    with m.If(rdma.error != DmaError.NONE):
                        fail(rdma.error)
                    with m.Else():
                        m.next = "DECODE"
            with m.State("DECODE"):
                with m.Switch(opcode):
                    with m.Case(Opcode.LOAD):
                        requant = f(Opcode.LOAD, "buffer") == Buffer.REQUANT
                        m.d.comb += [*dma_cmd(rdma, Opcode.LOAD), rdma.cmd.valid.eq(1),
                                     unpack.start.eq(~requant), rqload.start.eq(requant)]
                        m.next = "LOAD"
                    with m.Case(Opcode.RUN):
                        m.next = "RUN"
                    with m.Case(Opcode.SYNC):
                        m.next = "SYNC"
                    with m.Case(Opcode.STORE):
                        m.d.comb += [wdma.cmd.valid.eq(1), pack.start.eq(1)]
                        m.next = "STORE"
                    with m.Default():
                        fail(DmaError.BAD_COMMAND)
            with m.State("LOAD"):
                with m.If(rdma.done & (rdma.error != DmaError.NONE)):
                    m.d.comb += abort.eq(1)
                    fail(rdma.error)
                with m.Elif(~rdma.busy & ~unpack.busy & ~rqload.busy):
                    m.next = "NEXT"
            with m.State("RUN"):
                m.d.comb += [self.blocked.eq(~self.acc_ready), self.acc_start.eq(self.acc_ready)]
                with m.If(self.acc_ready):
                    m.next = "NEXT"
            with m.State("SYNC"):
                m.d.comb += self.blocked.eq(~self.acc_done)
                with m.If(self.acc_done):
                    m.next = "NEXT"
            with m.State("STORE"):
                with m.If(wdma.done & (wdma.error != DmaError.NONE)):
                    m.d.comb += abort.eq(1)
                    fail(wdma.error)
                with m.Elif(~wdma.busy & ~pack.busy):
                    m.next = "NEXT"
            with m.State("DRAIN"):      # an error: the running pass ends before done (its counters are final)
                with m.If(self.acc_done):
                    finish(self.error)
            with m.State("NEXT"):
                m.d.sync += [index.eq(index + 1), addr.eq(addr + COMMAND_BYTES)]
                with m.If(index + 1 == count):
                    finish(DmaError.NONE)
                with m.Else():
                    m.next = "FETCH"
        return m
