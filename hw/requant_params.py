"""The requantization parameter store: per output channel, the bias, multiplier and total shift."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from hw.signatures import RequantParamsSignature
from model.contract import REQUANT_CHANNELS, REQUANT_FIELDS

__all__ = ["RequantParamStore", "split_channel"]


def split_channel(chan, lanes: int):
    """``(chan // lanes, chan % lanes)`` of a channel signal: the bank index and the bank (bit slices when
    ``lanes`` is a power of two)."""
    if lanes & (lanes - 1) == 0:
        bits = lanes.bit_length() - 1
        return chan[bits:], chan[:bits]
    return chan // lanes, chan % lanes


class RequantParamStore(wiring.Component):
    """Per field of :data:`model.contract.REQUANT_FIELDS`, ``lanes`` banks of
    ``ceil(REQUANT_CHANNELS / lanes)`` entries: channel ``c`` in bank ``c % lanes`` at ``c // lanes``,
    so that a read gives ``lanes`` consecutive channels at once (a psum line's, one per lane).

    Parameters
    ----------
    lanes : int
        Channels read at once (1: the bare accelerator's one requantization lane; the array's columns:
        the System's line-wide store path).

    Ports
    -----
    params : In(RequantParamsSignature(lanes))
        A write of one field of one channel; a read of every field of ``lanes`` channels
        (synchronous: the fields show the cycle after ``read_en``, held until the next read).
    """

    def __init__(self, lanes: int = 1):
        self._lanes = lanes
        super().__init__({"params": In(RequantParamsSignature(lanes))})

    def elaborate(self, platform):
        m = Module()
        p, lanes = self.params, self._lanes
        depth = -(-REQUANT_CHANNELS // lanes)
        write_index, write_bank = split_channel(p.write_chan, lanes)
        read_index = split_channel(p.read_chan, lanes)[0]
        for index, (name, width) in enumerate(REQUANT_FIELDS):
            for lane in range(lanes):
                mem = m.submodules[f"rq_{name}" if lanes == 1 else f"rq_{name}_{lane}"] = memory.Memory(
                    shape=width, depth=depth, init=[])
                wr, rd = mem.write_port(), mem.read_port()
                m.d.comb += [
                    wr.addr.eq(write_index), wr.data.eq(p.write_data[:width]),
                    wr.en.eq(p.write_en & (p.write_field == index) & ((write_bank == lane) if lanes > 1 else 1)),
                    rd.addr.eq(read_index), rd.en.eq(p.read_en),
                    getattr(p, name)[lane].eq(rd.data),
                ]
        return m
