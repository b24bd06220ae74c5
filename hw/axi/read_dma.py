"""The read DMA engine: DRAM runs -> AXI4 read bursts -> a stream of beats for a buffer's write port."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from model.contract import AXI_BURST_INCR, DMA_OUTSTANDING, AxiResp, DmaError
from hw.axi.burst_walker import BurstWalker
from hw.axi.signatures import AxiReadSignature, DmaCommand, check_data_bits

__all__ = ["BeatLayout", "ReadDma", "response_error", "strobe_of"]


def BeatLayout(data_bits: int) -> data.StructLayout:
    """A beat of the read stream: ``data``, ``strb`` (the bytes that belong to the run) and ``last``
    (the command's last beat)."""
    return data.StructLayout({"data": data_bits, "strb": data_bits // 8, "last": 1})


def strobe_of(nbytes, beat_bytes: int):
    """The byte strobe of a beat whose low ``nbytes`` bytes count (``nbytes`` a value, 0..beat_bytes)."""
    return ((Const(1, beat_bytes + 1) << nbytes) - 1)[:beat_bytes]


def response_error(resp):
    """The :class:`~model.contract.DmaError` of an error response (SLVERR or DECERR)."""
    return Mux(resp == AxiResp.DECERR, DmaError.DECERR, DmaError.SLVERR)


class ReadDma(wiring.Component):
    """Reads a DMA command's runs over AXI4 and streams the beats out in address order.

    Bursts follow :func:`model.bursts.split_transfer`; up to
    :data:`~model.contract.DMA_OUTSTANDING` are in flight (AR accepted or offered, last R beat not
    yet received). The AR channel is registered: the first AR is offered
    :data:`~model.contract.DMA_ADDRESS_DELAY` (two) cycles after the command is taken, and one AR
    may be issued every cycle.

    On an SLVERR or DECERR response, or on ``cancel``, the engine stops issuing bursts, drops the
    beats still to come of the bursts already issued (accepting them: nothing is left on the bus),
    then ends the command with ``error`` set. The beat with the error response is not streamed out;
    after a stop, ``data.valid`` goes low even if a beat was offered.

    Parameters
    ----------
    data_bits : int
        AXI4 data width, 32, 64 or 128 (``AcceleratorConfig.axi_data_bits``).

    Ports
    -----
    cmd : In(stream.Signature(DmaCommand))
        A command; taken only while the engine is idle.
    bus : Out(AxiReadSignature(data_bits))
        The AXI4 read channels (ID 0, INCR, full-width beats).
    data : Out(stream.Signature(BeatLayout(data_bits)))
        The beats read, with the strobe of the run's bytes; RREADY follows ``data.ready``.
    cancel : In(1)
        Stop the command (``error`` :attr:`~model.contract.DmaError.CANCELLED`).
    busy : Out(1)
        A command is under way: from the cycle after it is taken through the cycle of ``done``.
    done : Out(1)
        One cycle: the command ended (every burst issued has had its last beat).
    error : Out(DmaError)
        Why the last command ended (valid from ``done`` until the next command is taken).
    inc_bytes : Out(range(beat_bytes + 1))
        Bytes of the run streamed out this cycle (a counter's increment).
    inc_bursts : Out(1)
        An AR handshake this cycle.
    """

    def __init__(self, data_bits: int):
        self._data_bits = check_data_bits(data_bits)
        bb = data_bits // 8
        super().__init__({
            "cmd": In(stream.Signature(DmaCommand)),
            "bus": Out(AxiReadSignature(data_bits)),
            "data": Out(stream.Signature(BeatLayout(data_bits))),
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
        info_layout = data.StructLayout({"last_bytes": walker.bursts.payload.last_bytes.shape(), "final": 1})
        m.submodules.inflight = inflight = SyncFIFO(width=info_layout.size, depth=DMA_OUTSTANDING)
        stop = Signal()

        # command: taken only when idle, so a command's done and error are its own
        m.d.comb += [
            walker.cmd.payload.eq(self.cmd.payload),
            walker.cmd.valid.eq(self.cmd.valid & ~self.busy),
            self.cmd.ready.eq(walker.cmd.ready & ~self.busy),
            walker.cancel.eq(stop),
        ]

        # AR: a register stage, loaded when empty or being taken, while a slot is free
        load = Signal()
        entry = Signal(info_layout)
        m.d.comb += [
            load.eq(walker.bursts.valid & ~stop & inflight.w_rdy & (~bus.arvalid | bus.arready)),
            walker.bursts.ready.eq(load),
            inflight.w_en.eq(load),
            entry.last_bytes.eq(walker.bursts.payload.last_bytes),
            entry.final.eq(walker.bursts.payload.final),
            inflight.w_data.eq(entry),
            bus.arid.eq(0), bus.arsize.eq((bb - 1).bit_length()), bus.arburst.eq(AXI_BURST_INCR),
            self.inc_bursts.eq(bus.arvalid & bus.arready),
        ]
        with m.If(load):
            m.d.sync += [bus.arvalid.eq(1), bus.araddr.eq(walker.bursts.payload.addr),
                         bus.arlen.eq(walker.bursts.payload.len)]
        with m.Elif(bus.arready):
            m.d.sync += bus.arvalid.eq(0)

        # R: beats out while running; after a stop, accepted and dropped
        info = data.View(info_layout, inflight.r_data)
        ok = ~bus.rresp[1]
        forward = Signal()
        beat = Signal()
        m.d.comb += [
            forward.eq(~stop & ok),
            self.data.valid.eq(bus.rvalid & forward),
            self.data.payload.data.eq(bus.rdata),
            self.data.payload.strb.eq(Mux(bus.rlast, strobe_of(info.last_bytes, bb), (1 << bb) - 1)),
            self.data.payload.last.eq(bus.rlast & info.final),
            bus.rready.eq(Mux(forward, self.data.ready, 1)),
            beat.eq(bus.rvalid & bus.rready),
            inflight.r_en.eq(beat & bus.rlast),
            self.inc_bytes.eq(Mux(beat & forward, Mux(bus.rlast, info.last_bytes, bb), 0)),
        ]

        # state: busy from the command to done; the first error stops the command
        m.d.comb += self.done.eq(self.busy & ~walker.busy & ~bus.arvalid & ~inflight.r_rdy)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [self.busy.eq(1), stop.eq(0), self.error.eq(DmaError.NONE)]
        with m.Elif(self.done):
            m.d.sync += [self.busy.eq(0), stop.eq(0)]
        with m.Elif(beat & ~ok & ~stop):
            m.d.sync += [stop.eq(1), self.error.eq(response_error(bus.rresp))]
        with m.Elif(self.cancel & self.busy & ~stop):
            m.d.sync += [stop.eq(1), self.error.eq(DmaError.CANCELLED)]
        return m
