"""The LOAD engine's unpacker: beats of a LOAD's strided runs -> one host-port buffer write per cycle."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.axi.read_dma import BeatLayout
from model.config import AcceleratorConfig
from model.contract import DMA_RUN_BYTES_BITS, Buffer, host_addr_depth

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
    """Splits the read DMA's beats of a LOAD (ifmap or weight words) into host-port writes.

    Every run of the LOAD (:func:`model.contract.command_fields`) starts on a beat, its first
    ``skip`` bytes are dropped, and each following ``word_bytes`` container is one word. Word ``i``
    is written to ifmap address ``buf_addr + i``, or to weight line ``buf_addr + i // cols``, lane
    ``i % cols``. Cycle behaviour (the model relies on it): ``start`` (while idle) latches the
    command; from the next cycle, every cycle with a beat offered writes one word (``write_en``);
    a beat is taken (``beats.ready``) in the cycle its last word of the run is written; ``done``
    is high (one cycle) in the cycle after the last word is written. Skipped slots cost no cycle:
    a run's first slot is its first word.

    Parameters
    ----------
    config : AcceleratorConfig
    word_bytes : int
        Bytes of one word's DRAM container (:func:`model.commands.word_bytes`, a power of two).

    Ports
    -----
    start : In(1); buffer : In(Buffer); buf_addr, words, skip, run_bytes : In
        The LOAD's fields, sampled on ``start``.
    beats : In(stream.Signature(BeatLayout(axi_data_bits)))
        The read DMA's beats.
    write_sel : Out(Buffer); write_addr, write_lane, write_data, write_en : Out
        The host-port write of this cycle.
    busy, done : Out(1)
    """

    def __init__(self, config: AcceleratorConfig, word_bytes: int):
        self._config, self._wb = config, word_bytes
        super().__init__(loader_members(config) | {
            "buffer": In(Buffer), "skip": In(8), "run_bytes": In(DMA_RUN_BYTES_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, wb = self._config, self._wb
        spb = cfg.axi_beat_bytes // wb                  # word slots per beat (a power of two)
        shift = (wb - 1).bit_length()
        low = (spb - 1).bit_length()
        slot = Signal(DMA_RUN_BYTES_BITS)               # slot of the current word within its run
        first, last = Signal.like(slot), Signal.like(slot)
        left = Signal(DMA_RUN_BYTES_BITS)               # words still to write
        sel = Signal(Buffer)
        lane_wrap = Signal.like(self.write_lane)
        lane = Signal.like(self.write_lane)
        line = Signal.like(self.write_addr)

        in_beat = slot[:low] if low else 0
        word = self.beats.payload.data.word_select(in_beat, 8 * wb) if spb > 1 else self.beats.payload.data
        fire = Signal()
        end_of_run = Signal()
        m.d.comb += [
            fire.eq(self.busy & self.beats.valid),
            end_of_run.eq(slot == last),
            self.beats.ready.eq(fire & (end_of_run | ((in_beat == spb - 1) if spb > 1 else 1))),
            self.write_en.eq(fire), self.write_sel.eq(sel), self.write_addr.eq(line), self.write_lane.eq(lane),
            self.write_data.eq(word[:cfg.word_bits]),
        ]
        m.d.sync += self.done.eq(0)
        with m.If(self.start & ~self.busy):
            m.d.sync += [
                self.busy.eq(1), sel.eq(self.buffer), line.eq(self.buf_addr), lane.eq(0), left.eq(self.words),
                first.eq(self.skip >> shift), slot.eq(self.skip >> shift), last.eq((self.run_bytes >> shift) - 1),
                lane_wrap.eq(Mux(self.buffer == Buffer.WEIGHT, cfg.cols - 1, 0)),
            ]
        with m.If(fire):
            m.d.sync += [slot.eq(Mux(end_of_run, first, slot + 1)), left.eq(left - 1)]
            with m.If(lane == lane_wrap):
                m.d.sync += [lane.eq(0), line.eq(line + 1)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)
            with m.If(left == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m
