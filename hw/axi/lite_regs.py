"""The AXI4-Lite control registers: where a host starts a layer and reads its status."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.contract import (
    AXI_ADDR_BITS, AXI_LITE_DATA_BITS, AxiResp, ControlBit, DmaError, LiteRegister, StatusBit,
)
from hw.axi.signatures import AxiLiteSignature

__all__ = ["LiteRegisters"]

#: Address bits the registers decode (the rest of the address is ignored: the port's window).
_DECODE_BITS = max(LiteRegister).bit_length()


class LiteRegisters(wiring.Component):
    """AXI4-Lite slave with the registers of :class:`model.contract.LiteRegister`.

    * ``CONTROL`` (write): bit :attr:`~model.contract.ControlBit.START` pulses ``start`` for one cycle
      (ignored while busy); reads 0.
    * ``STATUS`` (read-only): ``BUSY`` (``busy`` input), ``DONE`` (set by a ``done`` pulse, cleared by a
      start), ``ERROR`` (set by a ``done`` pulse with ``error`` not NONE, cleared by a start).
    * ``CMD_ADDR``, ``CMD_COUNT`` (read-write, byte strobes honoured): ``cmd_addr``, ``cmd_count``.
    * ``ERROR`` (read-only): the :class:`~model.contract.DmaError` code latched by the last ``done``.

    A write to a read-only register or to an offset with no register, or a read of an offset
    with no register, answers SLVERR and changes nothing. Addresses are decoded on their low bits
    (the port is a window); the two lowest bits are ignored (whole registers). A write is taken when
    both AW and W are offered (AWREADY and WREADY rise together); B and R are registered and held
    until taken, and one write and one read may be under way at once.

    Ports
    -----
    bus : In(AxiLiteSignature())
        The AXI4-Lite slave port.
    start : Out(1)
        One cycle: the host wrote START.
    cmd_addr : Out(AXI_ADDR_BITS)
        The ``CMD_ADDR`` register.
    cmd_count : Out(AXI_LITE_DATA_BITS)
        The ``CMD_COUNT`` register.
    busy : In(1)
        A run is under way (shown as ``STATUS.BUSY``).
    done : In(1)
        One cycle: the run ended, with ``error``.
    error : In(DmaError)
        Why the run ended (sampled with ``done``).
    """

    def __init__(self):
        super().__init__({
            "bus": In(AxiLiteSignature()),
            "start": Out(1),
            "cmd_addr": Out(AXI_ADDR_BITS),
            "cmd_count": Out(AXI_LITE_DATA_BITS),
            "busy": In(1),
            "done": In(1),
            "error": In(DmaError),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        done_flag = Signal()
        error_flag = Signal()
        error_code = Signal(DmaError)

        # write: AW and W together, one B outstanding
        take_w = Signal()
        m.d.comb += [
            take_w.eq(bus.awvalid & bus.wvalid & ~bus.bvalid),
            bus.awready.eq(take_w),
            bus.wready.eq(take_w),
        ]
        waddr = bus.awaddr[:_DECODE_BITS]

        m.d.comb += self.start.eq(0)
        with m.If(take_w):
            m.d.sync += [bus.bvalid.eq(1), bus.bresp.eq(AxiResp.OKAY)]
            with m.Switch(waddr >> 2):
                with m.Case(LiteRegister.CONTROL >> 2):
                    m.d.comb += self.start.eq(bus.wstrb[0] & bus.wdata[ControlBit.START] & ~self.busy)
                with m.Case(LiteRegister.CMD_ADDR >> 2):
                    m.d.sync += self.cmd_addr.eq(_merge(self.cmd_addr, bus.wdata, bus.wstrb, AXI_ADDR_BITS))
                with m.Case(LiteRegister.CMD_COUNT >> 2):
                    m.d.sync += self.cmd_count.eq(_merge(self.cmd_count, bus.wdata, bus.wstrb, AXI_LITE_DATA_BITS))
                with m.Default():
                    m.d.sync += bus.bresp.eq(AxiResp.SLVERR)
        with m.Elif(bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        # read: one R outstanding
        take_r = Signal()
        status = Signal(AXI_LITE_DATA_BITS)
        m.d.comb += [
            take_r.eq(bus.arvalid & ~bus.rvalid),
            bus.arready.eq(take_r),
            status[StatusBit.BUSY].eq(self.busy),
            status[StatusBit.DONE].eq(done_flag),
            status[StatusBit.ERROR].eq(error_flag),
        ]
        with m.If(take_r):
            m.d.sync += [bus.rvalid.eq(1), bus.rresp.eq(AxiResp.OKAY), bus.rdata.eq(0)]
            with m.Switch(bus.araddr[:_DECODE_BITS] >> 2):
                with m.Case(LiteRegister.CONTROL >> 2):
                    pass
                with m.Case(LiteRegister.STATUS >> 2):
                    m.d.sync += bus.rdata.eq(status)
                with m.Case(LiteRegister.CMD_ADDR >> 2):
                    m.d.sync += bus.rdata.eq(self.cmd_addr)
                with m.Case(LiteRegister.CMD_COUNT >> 2):
                    m.d.sync += bus.rdata.eq(self.cmd_count)
                with m.Case(LiteRegister.ERROR >> 2):
                    m.d.sync += bus.rdata.eq(error_code)
                with m.Default():
                    m.d.sync += bus.rresp.eq(AxiResp.SLVERR)
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)

        # status flags
        with m.If(self.start):
            m.d.sync += [done_flag.eq(0), error_flag.eq(0)]
        with m.Elif(self.done):
            m.d.sync += [done_flag.eq(1), error_flag.eq(self.error != DmaError.NONE), error_code.eq(self.error)]
        return m


def _merge(old, wdata, wstrb, width: int):
    """``old`` (``width`` bits) with the bytes of ``wdata`` whose ``wstrb`` bit is set written in."""
    return Cat(*(Mux(wstrb[k], wdata[8 * k:8 * k + 8], old[8 * k:8 * k + 8]) for k in range(width // 8)))
