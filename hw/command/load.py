"""The LOAD engine's unpacker: beats of a LOAD's strided runs -> one buffer write per cycle."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.axi.read_dma import BeatLayout
from model.config import AcceleratorConfig
from hw.signatures import WritePortSignature
from model.contract import DMA_RUN_BYTES_BITS, Buffer, host_addr_depth, weight_load_lanes

__all__ = ["LoadUnpacker", "loader_members"]


def loader_members(config: AcceleratorConfig) -> dict:
    """The ports every loader shares: ``start``, the buffer start address and word count, the beats in,
    one host-port write out per cycle, ``busy`` and ``done``."""
    addr_bits = (host_addr_depth(config) - 1).bit_length()
    return {
        "start": In(1), "buf_addr": In(addr_bits), "words": In(DMA_RUN_BYTES_BITS),
        "beats": In(stream.Signature(BeatLayout(config.axi_data_bits))),
        "write_sel": Out(Buffer), "write_addr": Out(addr_bits), "write_lane": Out(range(max(config.cols, 2))),
        "write_data": Out(config.word_bits), "write_en": Out(1),
        "busy": Out(1), "done": Out(1),
    }


class LoadUnpacker(wiring.Component):
    """Splits the read DMA's beats of a LOAD (ifmap or weight words) into buffer writes.

    Every run of the LOAD (:func:`model.contract.command_fields`) starts on a beat, its first
    ``skip`` bytes are dropped, and each following ``word_bytes`` container is one word (ifmap: one
    in every ``step``, from the first; a beat holds at least one of them). Word ``i``
    is written to ifmap address ``buf_addr + i`` (one word per write, through the host port), or to
    weight line ``buf_addr + i // cols``, lane ``i % cols`` (``n`` =
    :func:`model.contract.weight_load_lanes` consecutive lanes of a line per write, on
    ``line_write``). Cycle behaviour (the model relies on it): ``start`` (while idle) latches the
    command; from the next cycle, every cycle with a beat offered makes one write (``write_en`` or
    ``line_write.en``); a beat is taken (``beats.ready``) in the cycle of its last write of the run;
    ``done`` is high (one cycle) in the cycle after the last write. Skipped slots cost no cycle: a
    run's first slot is its first word.

    Parameters
    ----------
    config : AcceleratorConfig
    word_bytes : int
        Bytes of one word's DRAM container (:func:`model.commands.word_bytes`, a power of two).

    Ports
    -----
    start : In(1); buffer : In(Buffer); buf_addr, words, skip, step, run_bytes : In
        The LOAD's fields, sampled on ``start`` (``step``: ifmap words kept, one every ``step`` slots).
    beats : In(stream.Signature(BeatLayout(axi_data_bits)))
        The read DMA's beats.
    write_sel : Out(Buffer); write_addr, write_lane, write_data, write_en : Out
        The host-port (ifmap) write of this cycle.
    line_write : Out(WritePortSignature(weight_depth, line, cols))
        The weight write of this cycle (``n`` lane enables).
    busy, done : Out(1)
    """

    def __init__(self, config: AcceleratorConfig, word_bytes: int):
        self._config, self._wb = config, word_bytes
        line = data.ArrayLayout(config.word_bits, config.cols)
        super().__init__(loader_members(config) | {
            "buffer": In(Buffer), "skip": In(8), "step": In(8), "run_bytes": In(DMA_RUN_BYTES_BITS),
            "line_write": Out(WritePortSignature(config.weight_depth, line, config.cols)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, wb = self._config, self._wb
        spb = cfg.axi_beat_bytes // wb                  # word slots per beat (a power of two)
        n = weight_load_lanes(cfg, wb)                  # weight words per write (divides spb and cols)
        shift = (wb - 1).bit_length()
        low = (spb - 1).bit_length()
        slot = Signal(DMA_RUN_BYTES_BITS)               # slot of the current word within its run
        first, last = Signal.like(slot), Signal.like(slot)
        left = Signal(DMA_RUN_BYTES_BITS)               # words still to write
        sel = Signal(Buffer)
        weights = sel == Buffer.WEIGHT
        step = Signal(8)                                # slots per write: n for weights, the LOAD's step for ifmap
        lane = Signal.like(self.write_lane)
        line = Signal.like(self.write_addr)

        in_beat = slot[:low] if low else 0
        word = self.beats.payload.data.word_select(in_beat, 8 * wb) if spb > 1 else self.beats.payload.data
        group = (self.beats.payload.data.word_select(in_beat >> (n - 1).bit_length(), 8 * wb * n)
                 if spb > n else self.beats.payload.data)
        fire = Signal()
        end_of_run = Signal()
        m.d.comb += [
            fire.eq(self.busy & self.beats.valid),
            end_of_run.eq(slot == last),
            self.beats.ready.eq(fire & (end_of_run | ((in_beat + step >= spb) if spb > 1 else 1))),
            self.write_en.eq(fire & ~weights), self.write_sel.eq(sel), self.write_addr.eq(line),
            self.write_lane.eq(0), self.write_data.eq(word[:cfg.word_bits]),
            self.line_write.addr.eq(line),
            self.line_write.data.eq(Cat(*(group.word_select(j % n, 8 * wb)[:cfg.word_bits] for j in range(cfg.cols)))),
            self.line_write.en.eq(Mux(fire & weights, ((1 << n) - 1) << lane, 0)),
        ]
        m.d.sync += self.done.eq(0)
        with m.If(self.start & ~self.busy):
            is_weight = self.buffer == Buffer.WEIGHT
            words = Mux(is_weight, n, 1)                # words per write
            m.d.sync += [
                self.busy.eq(1), sel.eq(self.buffer), line.eq(self.buf_addr), lane.eq(0), left.eq(self.words),
                first.eq(self.skip >> shift), slot.eq(self.skip >> shift),
                last.eq((self.run_bytes >> shift) - words), step.eq(Mux(is_weight, n, self.step)),
            ]
        with m.If(fire):
            m.d.sync += [slot.eq(Mux(end_of_run, first, slot + step)), left.eq(left - Mux(weights, n, 1))]
            with m.If(weights & (lane != cfg.cols - n)):
                m.d.sync += lane.eq(lane + n)
            with m.Else():
                m.d.sync += [lane.eq(0), line.eq(line + 1)]
            with m.If(left == Mux(weights, n, 1)):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m
