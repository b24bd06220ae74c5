"""The LOAD engine for requantization parameters: DRAM entries -> the host port's chunked field writes."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring

from hw.command.load import host_write_members, loader_members
from model.config import AcceleratorConfig
from model.contract import (
    DMA_RUN_BYTES_BITS, REQUANT_ENTRY_BYTES, REQUANT_ENTRY_FIELD_BITS, REQUANT_FIELD_STRIDE, REQUANT_FIELDS, Buffer,
)

__all__ = ["RequantLoader"]


def chunk_plan(word_bits: int) -> list[tuple[int, int, int]]:
    """The host writes of one entry, in order: (field, bit offset in the field, lane).

    Each field goes MSB first in ``word_bits`` chunks; lane 1 marks the last chunk (it commits the field).
    """
    plan = []
    for f, (_, width) in enumerate(REQUANT_FIELDS):
        chunks = -(-width // word_bits)
        for i in range(chunks):
            plan.append((f, word_bits * (chunks - 1 - i), int(i == chunks - 1)))
    return plan


class RequantLoader(wiring.Component):
    """Turns a requantization LOAD's entries (:data:`~model.contract.REQUANT_ENTRY_BYTES` each, one run)
    into host-port writes of every field, as :func:`model.program.requant_writes` orders them.

    Cycle behaviour: ``start`` (while idle) latches the command; an entry is gathered from its beats
    (one cycle per beat offered), then its writes go out one per cycle (:func:`chunk_plan`); the
    next entry's first beat is taken in the cycle after the last write. ``done`` is high the cycle
    after the last write.

    Ports
    -----
    :func:`hw.command.load.loader_members` (``buf_addr``: the first channel; ``words``: entries) and
    :func:`hw.command.load.host_write_members`.
    """

    def __init__(self, config: AcceleratorConfig):
        if 8 * config.axi_beat_bytes > 8 * REQUANT_ENTRY_BYTES:
            raise ValueError(f"axi_data_bits={config.axi_data_bits} exceeds a {8 * REQUANT_ENTRY_BYTES}-bit "
                             "requantization entry")
        self._config = config
        super().__init__(loader_members(config) | host_write_members(config))

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        bits, wb = cfg.axi_data_bits, cfg.word_bits
        per_entry = REQUANT_ENTRY_BYTES // cfg.axi_beat_bytes
        plan = chunk_plan(wb)
        entry = Signal(8 * REQUANT_ENTRY_BYTES)
        beats_in = Signal(range(per_entry + 1))
        step = Signal(range(len(plan) + 1))
        chan = Signal.like(self.write_addr)
        left = Signal(DMA_RUN_BYTES_BITS)
        stride_bits = (REQUANT_FIELD_STRIDE - 1).bit_length()
        gathering = Signal()
        m.d.comb += [
            gathering.eq(self.busy & (beats_in != per_entry)),
            self.beats.ready.eq(gathering), self.write_sel.eq(Buffer.REQUANT),
        ]
        with m.If(gathering & self.beats.valid):
            m.d.sync += [entry.eq(Cat(entry[bits:], self.beats.payload.data) if per_entry > 1
                                  else self.beats.payload.data), beats_in.eq(beats_in + 1)]
        emitting = Signal()
        m.d.comb += emitting.eq(self.busy & (beats_in == per_entry))
        with m.Switch(step):
            for i, (f, offset, lane) in enumerate(plan):
                field = entry[REQUANT_ENTRY_FIELD_BITS * f:REQUANT_ENTRY_FIELD_BITS * f + REQUANT_FIELDS[f][1]]
                with m.Case(i):
                    m.d.comb += [self.write_addr.eq((chan << stride_bits) | f),
                                 self.write_lane.eq(lane), self.write_data.eq(field[offset:offset + wb])]
        m.d.comb += self.write_en.eq(emitting)
        m.d.sync += self.done.eq(0)
        with m.If(emitting):
            with m.If(step == len(plan) - 1):
                m.d.sync += [step.eq(0), beats_in.eq(0), chan.eq(chan + 1), left.eq(left - 1)]
                with m.If(left == 1):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1)]
            with m.Else():
                m.d.sync += step.eq(step + 1)
        with m.If(self.start & ~self.busy):
            m.d.sync += [self.busy.eq(1), chan.eq(self.buf_addr), left.eq(self.words), step.eq(0), beats_in.eq(0)]
        return m
