"""The requantization parameter store: per output channel, the bias, multiplier and total shift."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from hw.signatures import RequantParamsSignature
from model.contract import REQUANT_CHANNELS, REQUANT_FIELDS

__all__ = ["RequantParamStore"]


class RequantParamStore(wiring.Component):
    """One small memory per field of :data:`model.contract.REQUANT_FIELDS`, :data:`~model.contract.REQUANT_CHANNELS` deep.

    Ports
    -----
    params : In(RequantParamsSignature())
        A write of one field of one channel; a read of every field of one channel
        (synchronous: the fields show the cycle after ``read_en``, held until the next read).
    """

    def __init__(self):
        super().__init__({"params": In(RequantParamsSignature())})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        for index, (name, width) in enumerate(REQUANT_FIELDS):
            mem = m.submodules[f"rq_{name}"] = memory.Memory(shape=width, depth=REQUANT_CHANNELS, init=[])
            wr, rd = mem.write_port(), mem.read_port()
            m.d.comb += [
                wr.addr.eq(p.write_chan), wr.data.eq(p.write_data[:width]),
                wr.en.eq(p.write_en & (p.write_field == index)),
                rd.addr.eq(p.read_chan), rd.en.eq(p.read_en),
                getattr(p, name).eq(rd.data),
            ]
        return m
