"""A DRAM-to-DRAM copy through both DMA engines: the standalone design the AXI co-simulation runs."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from model.contract import AXI_ADDR_BITS, COUNTER_BITS, DMA_RUN_BYTES_BITS, DMA_RUN_COUNT_BITS, DmaError
from hw.axi.read_dma import ReadDma
from hw.axi.signatures import AxiSignature, check_data_bits
from hw.axi.write_dma import WriteDma
from hw.counters import Counters

__all__ = ["COPY_COUNTERS", "COPY_FIFO_DEPTH", "DmaCopy"]

#: Beats the FIFO between the engines holds.
COPY_FIFO_DEPTH = 16
#: The copy's counters (``count_<name>`` ports): DRAM bytes and AXI bursts of each engine.
COPY_COUNTERS = ("read_bytes", "write_bytes", "read_bursts", "write_bursts")


class DmaCopy(wiring.Component):
    """Copies ``count`` runs of ``run_bytes`` bytes from ``src`` (stride ``src_stride``) to ``dst``
    (stride ``dst_stride``): :class:`ReadDma` -> a FIFO of :data:`COPY_FIFO_DEPTH` beats -> :class:`WriteDma`.

    ``start`` (while idle) gives both engines their command in the same cycle. When one engine ends
    with an error the other is cancelled (else it would wait for beats that never come, or for room
    that never frees); the FIFO is emptied, and ``done`` pulses once both engines are done.

    Parameters
    ----------
    data_bits : int
        AXI4 data width, 32, 64 or 128.

    Ports
    -----
    m_axi : Out(AxiSignature(data_bits))
        The AXI4 master (``read`` for the read engine, ``write`` for the write engine).
    src, dst, src_stride, dst_stride : In(AXI_ADDR_BITS)
        Byte addresses of the first runs and strides (beat-aligned; sampled with ``start``).
    run_bytes : In(DMA_RUN_BYTES_BITS)
    count : In(DMA_RUN_COUNT_BITS)
    start : In(1)
        Start a copy (ignored while busy).
    cancel : In(1)
        Cancel both engines.
    busy : Out(1)
    done : Out(1)
        One cycle: the copy ended; ``read_error`` and ``write_error`` say how.
    read_error, write_error : Out(DmaError)
    count_<name> : Out(COUNTER_BITS)
        :data:`COPY_COUNTERS`, free-running since reset.
    """

    def __init__(self, data_bits: int):
        self._data_bits = check_data_bits(data_bits)
        bb = data_bits // 8
        self._increments = {"read_bytes": bb + 1, "write_bytes": bb + 1, "read_bursts": 1, "write_bursts": 1}
        super().__init__({
            "m_axi": Out(AxiSignature(data_bits)),
            "src": In(AXI_ADDR_BITS), "dst": In(AXI_ADDR_BITS),
            "src_stride": In(AXI_ADDR_BITS), "dst_stride": In(AXI_ADDR_BITS),
            "run_bytes": In(DMA_RUN_BYTES_BITS), "count": In(DMA_RUN_COUNT_BITS),
            "start": In(1), "cancel": In(1),
            "busy": Out(1), "done": Out(1),
            "read_error": Out(DmaError), "write_error": Out(DmaError),
            **{f"count_{name}": Out(COUNTER_BITS) for name in COPY_COUNTERS},
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.reader = reader = ReadDma(self._data_bits)
        m.submodules.writer = writer = WriteDma(self._data_bits)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self._data_bits, depth=COPY_FIFO_DEPTH)
        m.submodules.counters = counters = Counters(self._increments)
        wiring.connect(m, wiring.flipped(self.m_axi.read), reader.bus)
        wiring.connect(m, wiring.flipped(self.m_axi.write), writer.bus)

        read_cmd, write_cmd = Signal(), Signal()     # a command offered and not yet taken
        read_over, write_over = Signal(), Signal()   # the engine's done came
        m.d.comb += [
            reader.cmd.payload.addr.eq(self.src), reader.cmd.payload.stride.eq(self.src_stride),
            writer.cmd.payload.addr.eq(self.dst), writer.cmd.payload.stride.eq(self.dst_stride),
            reader.cmd.payload.run_bytes.eq(self.run_bytes), writer.cmd.payload.run_bytes.eq(self.run_bytes),
            reader.cmd.payload.count.eq(self.count), writer.cmd.payload.count.eq(self.count),
            reader.cmd.valid.eq(read_cmd), writer.cmd.valid.eq(write_cmd),
            # one engine's error cancels the other
            reader.cancel.eq(self.cancel | (write_over & (self.write_error != DmaError.NONE))
                             | (writer.done & (writer.error != DmaError.NONE))),
            writer.cancel.eq(self.cancel | (read_over & (self.read_error != DmaError.NONE))
                             | (reader.done & (reader.error != DmaError.NONE))),
            # read beats -> FIFO -> write beats; once both engines are done, what is left is dropped
            fifo.w_data.eq(reader.data.payload.data), fifo.w_en.eq(reader.data.valid),
            reader.data.ready.eq(fifo.w_rdy),
            writer.data.payload.eq(fifo.r_data), writer.data.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(writer.data.ready | (read_over & write_over)),
            self.done.eq(self.busy & read_over & write_over & (fifo.r_level == 0)),
        ]
        with m.If(self.start & ~self.busy):
            m.d.sync += [self.busy.eq(1), read_cmd.eq(1), write_cmd.eq(1), read_over.eq(0), write_over.eq(0)]
        with m.Elif(self.done):
            m.d.sync += self.busy.eq(0)
        with m.If(reader.cmd.valid & reader.cmd.ready):
            m.d.sync += read_cmd.eq(0)
        with m.If(writer.cmd.valid & writer.cmd.ready):
            m.d.sync += write_cmd.eq(0)
        with m.If(reader.done):
            m.d.sync += [read_over.eq(1), self.read_error.eq(reader.error)]
        with m.If(writer.done):
            m.d.sync += [write_over.eq(1), self.write_error.eq(writer.error)]

        m.d.comb += [
            counters.inc_read_bytes.eq(reader.inc_bytes), counters.inc_write_bytes.eq(writer.inc_bytes),
            counters.inc_read_bursts.eq(reader.inc_bursts), counters.inc_write_bursts.eq(writer.inc_bursts),
        ]
        m.d.comb += [getattr(self, f"count_{name}").eq(getattr(counters, f"count_{name}")) for name in COPY_COUNTERS]
        return m
