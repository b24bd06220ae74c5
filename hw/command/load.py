"""The LOAD engine's unpacker: beats of a LOAD's strided runs -> one buffer write per cycle (several words)."""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.axi.read_dma import BeatLayout
from model.config import AcceleratorConfig
from hw.signatures import WritePortSignature
from model.contract import DMA_RUN_BYTES_BITS, Buffer, host_addr_depth, ifmap_load_words, weight_load_lanes

__all__ = ["LoadUnpacker", "loader_members", "host_write_members"]


def loader_members(config: AcceleratorConfig) -> dict:
    """The ports every loader shares: ``start``, the buffer start address and word count, the beats in,
    ``busy`` and ``done``."""
    addr_bits = (host_addr_depth(config) - 1).bit_length()
    return {
        "start": In(1), "buf_addr": In(addr_bits), "words": In(DMA_RUN_BYTES_BITS),
        "beats": In(stream.Signature(BeatLayout(config.axi_data_bits))),
        "busy": Out(1), "done": Out(1),
    }


def host_write_members(config: AcceleratorConfig) -> dict:
    """One host-port write out per cycle (the requantization loader's)."""
    addr_bits = (host_addr_depth(config) - 1).bit_length()
    return {"write_sel": Out(Buffer), "write_addr": Out(addr_bits), "write_lane": Out(range(max(config.cols, 2))),
            "write_data": Out(config.word_bits), "write_en": Out(1)}


class LoadUnpacker(wiring.Component):
    """Splits the read DMA's beats of a LOAD (ifmap or weight words) into buffer writes.

    Every run of the LOAD (:func:`model.contract.command_fields`) starts on a beat, its first
    ``skip`` bytes are dropped, and each following ``word_bytes`` container is one word (ifmap: one
    in every ``step``, from the first; a beat holds at least one of them). Word ``i``
    is written to ifmap address ``buf_addr + i`` (up to ``k`` =
    :func:`model.contract.ifmap_load_words` consecutive words of one beat per write, on
    ``ifmap_write``), or to weight line ``buf_addr + i // cols``, lane ``i % cols`` (``n`` =
    :func:`model.contract.weight_load_lanes` consecutive lanes of a line per write, on
    ``line_write``). Cycle behaviour (the model relies on it): ``start`` (while idle) latches the
    command; from the next cycle, every cycle with a beat offered makes one write: the beat's next
    ``min(k, words of the run left in the beat)`` ifmap words, or ``n`` weight lanes; a beat is taken
    (``beats.ready``) in the cycle of its last write of the run; ``done`` is high (one cycle) in the
    cycle after the last write. Skipped slots cost no cycle: a run's first slot is its first word.

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
    ifmap_write : Out(WritePortSignature(ifmap_depth, ArrayLayout(word_bits, k), k))
        The ifmap write of this cycle (lane ``i`` at ``addr + i``; the enables a run of low lanes).
    line_write : Out(WritePortSignature(weight_depth, line, cols))
        The weight write of this cycle (``n`` lane enables).
    busy, done : Out(1)
    """

    def __init__(self, config: AcceleratorConfig, word_bytes: int):
        self._config, self._wb = config, word_bytes
        line = data.ArrayLayout(config.word_bits, config.cols)
        k = ifmap_load_words(config, word_bytes)
        super().__init__(loader_members(config) | {
            "buffer": In(Buffer), "skip": In(8), "step": In(8), "run_bytes": In(DMA_RUN_BYTES_BITS),
            "ifmap_write": Out(WritePortSignature(config.ifmap_depth, data.ArrayLayout(config.word_bits, k), k)),
            "line_write": Out(WritePortSignature(config.weight_depth, line, config.cols)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, wb = self._config, self._wb
        spb = cfg.axi_beat_bytes // wb                  # word slots per beat (a power of two)
        n = weight_load_lanes(cfg, wb)                  # weight words per write (divides spb and cols)
        k = ifmap_load_words(cfg, wb)                   # ifmap words per write at most
        shift = (wb - 1).bit_length()
        low = (spb - 1).bit_length()
        slot = Signal(DMA_RUN_BYTES_BITS)               # slot of the current word within its run
        first = Signal.like(slot)                       # a run's first slot
        left = Signal(DMA_RUN_BYTES_BITS)               # words still to write
        sel = Signal(Buffer)
        weights = sel == Buffer.WEIGHT
        lane = Signal(range(max(cfg.cols, 2)))
        line = Signal((host_addr_depth(cfg) - 1).bit_length())

        in_beat = slot[:low] if low else Const(0, 1)
        data_bits = self.beats.payload.data

        def slot_word(at):
            return data_bits.word_select(at[:low], 8 * wb) if spb > 1 else data_bits

        group = (data_bits.word_select(in_beat >> (n - 1).bit_length(), 8 * wb * n) if spb > n else data_bits)
        # ifmap: the words at slots slot + i*step (i < k) that are in this beat and in the run. The
        # bounds each slot is compared with are latched at ``start`` (``last - i*step``, ``spb-1 - i*step``),
        # so that the beat's ``ready`` is a comparison and a one-hot select away from the slot register.
        ahead = [Signal(DMA_RUN_BYTES_BITS + 4, name=f"ahead{i}") for i in range(k + 1)]   # slot + i*step
        mult_bits = (k * ((1 << len(self.step)) - 1)).bit_length()
        multiple = [Signal(mult_bits, name=f"multiple{i}") for i in range(k + 1)]           # i*step
        in_run = [Signal(signed(max(DMA_RUN_BYTES_BITS, mult_bits) + 1), name=f"in_run{i}")   # last - i*step
                  for i in range(k + 1)]
        in_beat_max = [Signal(signed(max(low, mult_bits) + 1), name=f"in_beat_max{i}")         # spb-1 - i*step
                       for i in range(k + 1)]
        kept = Signal(k + 1)                            # slot + i*step is a word of this write (kept[k] = 0)
        ends_run = Signal(k + 1)                        # slot + i*step is past the run
        ends_beat = Signal(k + 1)                       # slot + i*step is past the beat
        for i in range(k + 1):
            m.d.comb += [ahead[i].eq(slot + multiple[i]),
                         ends_run[i].eq(slot > in_run[i]), ends_beat[i].eq(in_beat > in_beat_max[i])]
        for i in range(k):
            m.d.comb += kept[i].eq(~ends_run[i] & ~ends_beat[i])
        # the kept lanes are the low ones: the write's word count is the one i with kept[i-1] and not kept[i]
        after = [Signal(name=f"after{i}") for i in range(k + 1)]
        m.d.comb += [after[i].eq(kept[i - 1] & ~kept[i]) for i in range(1, k + 1)]

        def at_count(values):
            """``values[count]``, ``values`` indexed by lane (an OR of the one-hot ``after``'s picks)."""
            return reduce(operator.or_, (Mux(after[i], values[i], 0) for i in range(1, k + 1)))

        count = Signal(range(k + 1))                    # ifmap words of this write
        m.d.comb += count.eq(at_count(range(k + 1)))
        words = Mux(weights, n, count)                  # words of this write
        following = Signal.like(slot)                   # the slot after this write's words
        m.d.comb += following.eq(Mux(weights, slot + n, at_count(ahead)))
        fire = Signal()
        end_of_run = Signal()
        beat_end = Signal()
        m.d.comb += [
            fire.eq(self.busy & self.beats.valid),
            end_of_run.eq(Mux(weights, ends_run[1], at_count(ends_run))),   # weights: step = n
            beat_end.eq(Mux(weights, (in_beat + n >= spb) if spb > 1 else 1, at_count(ends_beat))),
            self.beats.ready.eq(fire & (end_of_run | beat_end)),
            self.ifmap_write.addr.eq(line),
            self.ifmap_write.data.eq(Cat(*(slot_word(ahead[i])[:cfg.word_bits] for i in range(k)))),
            self.ifmap_write.en.eq(Mux(fire & ~weights, kept[:k], 0)),
            self.line_write.addr.eq(line),
            self.line_write.data.eq(Cat(*(group.word_select(j % n, 8 * wb)[:cfg.word_bits] for j in range(cfg.cols)))),
            self.line_write.en.eq(Mux(fire & weights, ((1 << n) - 1) << lane, 0)),
        ]
        m.d.sync += self.done.eq(0)
        with m.If(self.start & ~self.busy):
            is_weight = self.buffer == Buffer.WEIGHT
            step = Mux(is_weight, n, self.step)
            run_last = (self.run_bytes >> shift) - Mux(is_weight, n, 1)
            m.d.sync += [*(multiple[i].eq(i * step) for i in range(k + 1)),
                         *(in_run[i].eq(run_last - i * step) for i in range(k + 1)),
                         *(in_beat_max[i].eq(spb - 1 - i * step) for i in range(k + 1))]
            m.d.sync += [
                self.busy.eq(1), sel.eq(self.buffer), line.eq(self.buf_addr), lane.eq(0), left.eq(self.words),
                first.eq(self.skip >> shift), slot.eq(self.skip >> shift),
            ]
        with m.If(fire):
            m.d.sync += [slot.eq(Mux(end_of_run, first, following)), left.eq(left - words)]
            with m.If(weights):
                with m.If(lane != cfg.cols - n):
                    m.d.sync += lane.eq(lane + n)
                with m.Else():
                    m.d.sync += [lane.eq(0), line.eq(line + 1)]
            with m.Else():
                m.d.sync += line.eq(line + count)
            with m.If(left == words):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m
