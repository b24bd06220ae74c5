"""The write DMA engine: a stream of beats from a buffer's read port -> AXI4 write bursts to DRAM runs."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from model.contract import AXI_BURST_INCR, AXI_MAX_BURST_BEATS, DMA_OUTSTANDING, DMA_RUN_BYTES_BITS, DmaError
from hw.axi.burst_walker import BurstWalker
from hw.axi.read_dma import response_error, strobe_of
from hw.axi.signatures import AxiWriteSignature, DmaCommand, check_data_bits

__all__ = ["WriteDma"]


class WriteDma(wiring.Component):
    """Writes a DMA command's runs over AXI4 from a stream of beats, in address order.

    A run may start inside a beat: the low bits of ``addr`` (below a beat) are the offset of every
    run's first byte in its first beat (``stride`` is beat-aligned), and the run's ``run_bytes``
    count from there. Bursts follow :func:`model.bursts.split_transfer` of the beat-aligned runs of
    ``offset + run_bytes`` bytes; the first beat of a run is written with the bytes below the offset
    not strobed, and the last beat of a run that does not end on a beat with only the run's bytes
    strobed (WSTRB), so DRAM outside the runs is never changed. Up to
    :data:`~model.contract.DMA_OUTSTANDING` bursts are in flight (AW offered or accepted, B not yet
    received). AW and W are registered: W beats of a burst go out from the cycle its AW is offered,
    one per cycle while ``data`` has beats and WREADY is high. BREADY is always high.

    On an SLVERR or DECERR response, or on ``cancel``, the engine stops issuing bursts and taking
    beats from ``data``; the bursts already issued are completed with no byte strobed (DRAM is not
    changed), and when their B responses are in the command ends with ``error`` set. The beats of
    the stopped command still in the source stream are the source's to drop.

    Parameters
    ----------
    data_bits : int
        AXI4 data width, 32, 64 or 128 (``AcceleratorConfig.axi_data_bits``).

    Ports
    -----
    cmd : In(stream.Signature(DmaCommand))
        A command; taken only while the engine is idle.
    bus : Out(AxiWriteSignature(data_bits))
        The AXI4 write channels (ID 0, INCR, full-width beats).
    data : In(stream.Signature(data_bits))
        The beats to write, one per beat of the command's bursts (a run's partial first and last
        beats included: their bytes outside the run are not written).
    cancel : In(1)
        Stop the command (``error`` :attr:`~model.contract.DmaError.CANCELLED`).
    busy : Out(1)
        A command is under way: from the cycle after it is taken through the cycle of ``done``.
    done : Out(1)
        One cycle: the command ended (every burst issued has had its B response).
    error : Out(DmaError)
        Why the last command ended (valid from ``done`` until the next command is taken).
    inc_bytes : Out(range(beat_bytes + 1))
        Bytes strobed by the W handshake of this cycle (a counter's increment).
    inc_bursts : Out(1)
        An AW handshake this cycle.
    """

    def __init__(self, data_bits: int):
        self._data_bits = check_data_bits(data_bits)
        bb = data_bits // 8
        super().__init__({
            "cmd": In(stream.Signature(DmaCommand)),
            "bus": Out(AxiWriteSignature(data_bits)),
            "data": In(stream.Signature(data_bits)),
            "cancel": In(1),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(DmaError),
            "inc_bytes": Out(range(bb + 1)),
            "inc_bursts": Out(1),
        })

    @property
    def data_bits(self) -> int:
        """AXI4 data width."""
        return self._data_bits

    def elaborate(self, platform):
        m = Module()
        bb = self._data_bits // 8
        bus = self.bus
        m.submodules.walker = walker = BurstWalker(bb)
        burst = walker.bursts.payload
        entry_layout = data.StructLayout({"len": burst.len.shape(), "last_bytes": burst.last_bytes.shape()})
        m.submodules.unsent = unsent = SyncFIFO(width=entry_layout.size, depth=DMA_OUTSTANDING)
        stop = Signal()
        pending = Signal(range(DMA_OUTSTANDING + 1))     # bursts offered on AW whose B has not come

        # a run starting at byte ``offset`` of a beat is walked as ``offset + run_bytes`` aligned bytes
        shift = (bb - 1).bit_length()
        cmd = self.cmd.payload
        offset = Signal(range(bb))                              # of every run's first byte, in its beat
        last_beat = Signal(DMA_RUN_BYTES_BITS + 1 - shift)      # index of a run's last beat
        beat = Signal.like(last_beat)                           # index in its run of the next W beat
        walked = Signal(DMA_RUN_BYTES_BITS + 1)
        m.d.comb += [
            walked.eq(cmd.run_bytes + cmd.addr[:shift]),
            walker.cmd.payload.addr.eq(cmd.addr), walker.cmd.payload.run_bytes.eq(walked),
            walker.cmd.payload.count.eq(cmd.count), walker.cmd.payload.stride.eq(cmd.stride),
            walker.cmd.payload.repeat.eq(cmd.repeat), walker.cmd.payload.repeat_stride.eq(cmd.repeat_stride),
            walker.cmd.valid.eq(self.cmd.valid & ~self.busy),
            self.cmd.ready.eq(walker.cmd.ready & ~self.busy),
            walker.cancel.eq(stop),
        ]

        # AW: a register stage, loaded while fewer than DMA_OUTSTANDING bursts are pending
        load = Signal()
        entry = Signal(entry_layout)
        m.d.comb += [
            load.eq(walker.bursts.valid & ~stop & (pending < DMA_OUTSTANDING) & unsent.w_rdy
                    & (~bus.awvalid | bus.awready)),
            walker.bursts.ready.eq(load),
            entry.len.eq(burst.len), entry.last_bytes.eq(burst.last_bytes),
            unsent.w_data.eq(entry), unsent.w_en.eq(load),
            bus.awid.eq(0), bus.awsize.eq((bb - 1).bit_length()), bus.awburst.eq(AXI_BURST_INCR),
            self.inc_bursts.eq(bus.awvalid & bus.awready),
        ]
        with m.If(load):
            m.d.sync += [bus.awvalid.eq(1), bus.awaddr.eq(burst.addr), bus.awlen.eq(burst.len)]
        with m.Elif(bus.awready):
            m.d.sync += bus.awvalid.eq(0)

        # W: a register stage fed by the oldest burst whose beats are not all sent
        head = data.View(entry_layout, unsent.r_data)
        index = Signal(range(AXI_MAX_BURST_BEATS))
        wbytes = Signal(range(bb + 1))
        is_last = index == head.len
        load_w = Signal()
        m.d.comb += [
            load_w.eq(unsent.r_rdy & (self.data.valid | stop) & (~bus.wvalid | bus.wready)),
            self.data.ready.eq(unsent.r_rdy & ~stop & (~bus.wvalid | bus.wready)),
            unsent.r_en.eq(load_w & is_last),
            self.inc_bytes.eq(Mux(bus.wvalid & bus.wready, wbytes, 0)),
        ]
        end = Mux(stop, 0, Mux(is_last, head.last_bytes, bb))   # bytes below the run's end in this beat
        start = Mux(stop | (beat != 0), 0, offset)              # bytes below the run's start
        with m.If(load_w):
            m.d.sync += [
                bus.wvalid.eq(1), bus.wdata.eq(Mux(stop, 0, self.data.payload)), bus.wlast.eq(is_last),
                bus.wstrb.eq(strobe_of(end, bb) & ~strobe_of(start, bb)), wbytes.eq(end - start),
                index.eq(Mux(is_last, 0, index + 1)), beat.eq(Mux(beat == last_beat, 0, beat + 1)),
            ]
        with m.Elif(bus.wready):
            m.d.sync += bus.wvalid.eq(0)

        # B: always accepted; counts the pending bursts down
        m.d.comb += bus.bready.eq(1)
        b = bus.bvalid & bus.bready
        m.d.sync += pending.eq(pending + load - b)

        m.d.comb += self.done.eq(self.busy & ~walker.busy & ~bus.awvalid & (pending == 0))
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [self.busy.eq(1), stop.eq(0), self.error.eq(DmaError.NONE), offset.eq(cmd.addr[:shift]),
                         last_beat.eq(((walked + bb - 1) >> shift) - 1), beat.eq(0)]
        with m.Elif(self.done):
            m.d.sync += [self.busy.eq(0), stop.eq(0)]
        with m.Elif(b & bus.bresp[1] & ~stop):
            m.d.sync += [stop.eq(1), self.error.eq(response_error(bus.bresp))]
        with m.Elif(self.cancel & self.busy & ~stop):
            m.d.sync += [stop.eq(1), self.error.eq(DmaError.CANCELLED)]
        return m
