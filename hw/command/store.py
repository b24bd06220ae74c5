"""The STORE engine's packer: host-port psum reads -> output containers packed into beats for the write DMA."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from hw.delay import delay
from model.config import AcceleratorConfig
from model.contract import (
    DMA_RUN_COUNT_BITS, READ_LATENCY, REQUANT_CHANNELS, STORE_READ_CREDIT, StoreFormat, host_addr_depth,
)

__all__ = ["StorePacker"]


def _extend(value, bits: int):
    """The low ``bits`` of the signed ``value``, sign-extended when it is narrower."""
    if len(value) >= bits:
        return value[:bits]
    return Cat(value, value[-1].replicate(bits - len(value)))


class StorePacker(wiring.Component):
    """Reads a STORE's psum lines through the host port, whole, and streams its runs' beats.

    A STORE (:func:`model.contract.command_fields`) reads lines ``line, line + 1, ..`` (``count``
    runs of ``per_run`` lines), then (``repeat`` more blocks of runs, one per filter group) the same
    lines ``group_lines`` on, with the requantization channels ``cols`` on. Each line (the host
    port's ``psum_lines``: every lane requantized and sign-extended, or raw) is ``cols`` little-endian
    containers of ``format`` bytes (sign-extended), lane 0 first -- an output pixel's channels of a
    filter group, the channel-blocked layout of :func:`model.commands.build_image` -- packed from
    byte ``offset`` of a run's first beat (the run's start in DRAM, a multiple of the container) on;
    a run's last beat goes out when the run ends, so every run starts a new beat (the write DMA
    strobes only the run's bytes of its first and last beats).

    Cycle behaviour: ``start`` (while idle) latches the command; reads are issued one per cycle from
    the next cycle while fewer than :data:`~model.contract.STORE_READ_CREDIT` lines are outstanding;
    a line enters a FIFO :data:`~model.contract.READ_LATENCY` cycles after its read and is packed
    from the cycle after, one segment per cycle: the containers from the line's next one to the
    line's end or the beat's end, whichever comes first (a line of 8 one-byte outputs fills a beat
    in one cycle; of 8 raw 4-byte ones, four beats in four); it leaves the FIFO with its last
    segment. A beat that is full (or a run's last) is offered the cycle after its last segment;
    ``done`` is high the cycle after the last beat is taken.

    Parameters
    ----------
    config : AcceleratorConfig

    Ports
    -----
    start : In(1); format : In(StoreFormat); line, chan, per_run, group_lines, count, repeat : In
        The STORE's fields, sampled on ``start``. ``format`` must not exceed a beat.
    offset : In(range(beat_bytes))
        Byte of its first beat at which every run starts (``dram_addr % beat_bytes``), sampled on ``start``.
    read_addr, read_chan, read_en : Out; read_data : In(ArrayLayout(acc_bits, cols))
        The host-port psum read (``read_chan``: the channel of the line's lane 0) and its line.
    beats : Out(stream.Signature(axi_data_bits))
    busy, done : Out(1)
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        addr_bits = (host_addr_depth(config) - 1).bit_length()
        super().__init__({
            "start": In(1), "format": In(StoreFormat), "line": In(addr_bits),
            "chan": In(range(REQUANT_CHANNELS)), "per_run": In(DMA_RUN_COUNT_BITS), "count": In(DMA_RUN_COUNT_BITS),
            "group_lines": In(addr_bits), "repeat": In(DMA_RUN_COUNT_BITS),
            "offset": In(range(config.axi_beat_bytes)),
            "read_addr": Out(addr_bits), "read_chan": Out(range(REQUANT_CHANNELS)),
            "read_en": Out(1), "read_data": In(data.ArrayLayout(config.acc_bits, config.cols)),
            "beats": Out(stream.Signature(config.axi_data_bits)),
            "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        beat_bytes, acc, cols = cfg.axi_beat_bytes, cfg.acc_bits, cfg.cols
        beat_bits = 8 * beat_bytes
        m.submodules.fifo = fifo = SyncFIFO(width=acc * cols, depth=STORE_READ_CREDIT)
        fmt = Signal(StoreFormat)
        per_run = Signal(DMA_RUN_COUNT_BITS)
        chan = Signal.like(self.read_chan)
        count, group_lines = Signal(DMA_RUN_COUNT_BITS), Signal.like(self.read_addr)
        # issue side: line address, the block's first line, position in run, runs left in the block, blocks after it
        addr, block_line = Signal.like(self.read_addr), Signal.like(self.read_addr)
        i_pos, i_runs, i_reps = Signal(DMA_RUN_COUNT_BITS), Signal(DMA_RUN_COUNT_BITS), Signal(DMA_RUN_COUNT_BITS)
        # pack side: the head line's next container, position in run, runs left in the block, blocks after it
        seg = Signal(range(cols))
        p_pos, p_runs, p_reps = Signal(DMA_RUN_COUNT_BITS), Signal(DMA_RUN_COUNT_BITS), Signal(DMA_RUN_COUNT_BITS)
        pending = Signal(range(STORE_READ_CREDIT + 1))
        byte = Signal(range(beat_bytes))
        first_byte = Signal(range(beat_bytes))  # where every run starts
        buf = Signal(beat_bits)

        issue = Signal()
        m.d.comb += [
            issue.eq(self.busy & (i_runs != 0) & (pending < STORE_READ_CREDIT)),
            self.read_en.eq(issue), self.read_addr.eq(addr), self.read_chan.eq(chan),
            fifo.w_en.eq(delay(m, issue, READ_LATENCY, "store_read")), fifo.w_data.eq(self.read_data),
        ]
        with m.If(issue):
            m.d.sync += addr.eq(addr + 1)
            with m.If(i_pos == per_run - 1):
                m.d.sync += i_pos.eq(0)
                with m.If((i_runs == 1) & (i_reps != 0)):   # the next filter group's block
                    m.d.sync += [i_runs.eq(count), i_reps.eq(i_reps - 1), chan.eq(chan + cols),
                                 block_line.eq(block_line + group_lines), addr.eq(block_line + group_lines)]
                with m.Else():
                    m.d.sync += i_runs.eq(i_runs - 1)
            with m.Else():
                m.d.sync += i_pos.eq(i_pos + 1)

        # pack: the head line's containers from ``seg`` placed at ``byte``, up to the line's or the beat's end
        head = data.ArrayLayout(acc, cols)(fifo.r_data)
        placed = Signal.like(buf)
        line_end, full = Signal(), Signal()
        next_seg, next_byte = Signal.like(seg), Signal.like(byte)
        with m.Switch(fmt):
            for size in (int(s) for s in StoreFormat if s <= beat_bytes):
                with m.Case(size):
                    room = (beat_bytes - byte) >> (size.bit_length() - 1)   # containers the beat has room for
                    left = cols - seg                                       # the line has left
                    containers = Cat(*(_extend(head[lane].as_signed(), 8 * size) for lane in range(cols)),
                                     Const(0, beat_bits))
                    m.d.comb += [
                        placed.eq(buf | (containers.bit_select(seg * 8 * size, beat_bits) << (byte * 8))),
                        line_end.eq(left <= room),
                        full.eq(left >= room),
                        next_seg.eq(seg + room),
                        next_byte.eq(byte + left * size),
                    ]
        run_end = Signal()
        emit = Signal()
        step = Signal()
        m.d.comb += [
            run_end.eq(line_end & (p_pos == per_run - 1)),
            emit.eq(full | run_end),
            step.eq(self.busy & fifo.r_rdy & (~emit | ~self.beats.valid | self.beats.ready)),
            fifo.r_en.eq(step & line_end),
        ]
        m.d.sync += pending.eq(pending + issue - fifo.r_en)
        with m.If(self.beats.valid & self.beats.ready):
            m.d.sync += self.beats.valid.eq(0)
        with m.If(step):
            m.d.sync += seg.eq(Mux(line_end, 0, next_seg))
            with m.If(emit):
                m.d.sync += [self.beats.payload.eq(placed), self.beats.valid.eq(1), buf.eq(0),
                             byte.eq(Mux(run_end, first_byte, 0))]
            with m.Else():
                m.d.sync += [buf.eq(placed), byte.eq(next_byte)]
            with m.If(run_end):
                m.d.sync += p_pos.eq(0)
                with m.If((p_runs == 1) & (p_reps != 0)):
                    m.d.sync += [p_runs.eq(count), p_reps.eq(p_reps - 1)]
                with m.Else():
                    m.d.sync += p_runs.eq(p_runs - 1)
            with m.Elif(line_end):
                m.d.sync += p_pos.eq(p_pos + 1)

        m.d.sync += self.done.eq(0)
        with m.If(self.busy & (p_runs == 0) & (~self.beats.valid | self.beats.ready)):
            m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        with m.If(self.start & ~self.busy):
            m.d.sync += [
                self.busy.eq(1), fmt.eq(self.format), per_run.eq(self.per_run),
                chan.eq(self.chan), addr.eq(self.line), block_line.eq(self.line), count.eq(self.count),
                group_lines.eq(self.group_lines), i_pos.eq(0), i_runs.eq(self.count), i_reps.eq(self.repeat),
                p_pos.eq(0), p_runs.eq(self.count), p_reps.eq(self.repeat), byte.eq(self.offset),
                first_byte.eq(self.offset), buf.eq(0), seg.eq(0),
            ]
        return m
