"""The global buffer: on-chip ifmap, weight and psum/ofmap memories (``amaranth.lib.memory``)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["GlobalBuffer"]


class GlobalBuffer(wiring.Component):
    """Three memories; every read port is synchronous (data one cycle after ``ren``), every write
    takes effect at the end of the cycle.

    * ifmap: ``ifmap_depth`` words of ``word_bits``; one write port, ``rows`` read ports
      (one per array row), so one access = one word.
    * weights: ``weight_depth`` lines of ``cols`` lanes of ``word_bits``; the write port
      writes single lanes (``weight_wen`` has one bit per lane), the read port whole lines.
      One access = one lane write or one line read.
    * psum/ofmap: ``psum_depth`` lines of ``cols`` lanes of ``acc_bits`` (two's complement);
      one write port with lane enables and one read port, transparent for that write port
      (a read of the line being written returns the new data), for read-modify-write.
      One access = one line read or one (possibly partial) line write.

    Parameters
    ----------
    rows, cols, word_bits, acc_bits, ifmap_depth, weight_depth, psum_depth : int

    Ports
    -----
    ifmap_waddr, ifmap_wdata, ifmap_we : In
    ifmap_raddr : In(ArrayLayout(range(ifmap_depth), rows)); ifmap_ren : In(rows)
    ifmap_rdata : Out(ArrayLayout(word_bits, rows))
    weight_waddr, weight_wdata (a line), weight_wen (cols) : In
    weight_raddr, weight_ren : In; weight_rdata : Out(ArrayLayout(word_bits, cols))
    psum_waddr, psum_wdata (a line), psum_wen (cols) : In
    psum_raddr, psum_ren : In; psum_rdata : Out(ArrayLayout(acc_bits, cols))
    """

    def __init__(self, rows: int, cols: int, word_bits: int, acc_bits: int,
                 ifmap_depth: int, weight_depth: int, psum_depth: int):
        self._rows, self._cols = rows, cols
        self._ifmap = memory.Memory(shape=word_bits, depth=ifmap_depth, init=[])
        self._weights = memory.Memory(shape=data.ArrayLayout(word_bits, cols), depth=weight_depth, init=[])
        self._psum = memory.Memory(shape=data.ArrayLayout(acc_bits, cols), depth=psum_depth, init=[])
        super().__init__({
            "ifmap_waddr": In(range(ifmap_depth)),
            "ifmap_wdata": In(word_bits),
            "ifmap_we": In(1),
            "ifmap_raddr": In(data.ArrayLayout(range(ifmap_depth), rows)),
            "ifmap_ren": In(rows),
            "ifmap_rdata": Out(data.ArrayLayout(word_bits, rows)),
            "weight_waddr": In(range(weight_depth)),
            "weight_wdata": In(data.ArrayLayout(word_bits, cols)),
            "weight_wen": In(cols),
            "weight_raddr": In(range(weight_depth)),
            "weight_ren": In(1),
            "weight_rdata": Out(data.ArrayLayout(word_bits, cols)),
            "psum_waddr": In(range(psum_depth)),
            "psum_wdata": In(data.ArrayLayout(acc_bits, cols)),
            "psum_wen": In(cols),
            "psum_raddr": In(range(psum_depth)),
            "psum_ren": In(1),
            "psum_rdata": Out(data.ArrayLayout(acc_bits, cols)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.ifmap = self._ifmap
        m.submodules.weights = self._weights
        m.submodules.psum = self._psum

        wr = self._ifmap.write_port()
        m.d.comb += [wr.addr.eq(self.ifmap_waddr), wr.data.eq(self.ifmap_wdata), wr.en.eq(self.ifmap_we)]
        for i in range(self._rows):
            rd = self._ifmap.read_port()
            m.d.comb += [rd.addr.eq(self.ifmap_raddr[i]), rd.en.eq(self.ifmap_ren[i]), self.ifmap_rdata[i].eq(rd.data)]

        wr = self._weights.write_port(granularity=1)
        rd = self._weights.read_port()
        m.d.comb += [
            wr.addr.eq(self.weight_waddr), wr.data.eq(self.weight_wdata), wr.en.eq(self.weight_wen),
            rd.addr.eq(self.weight_raddr), rd.en.eq(self.weight_ren), self.weight_rdata.eq(rd.data),
        ]

        wr = self._psum.write_port(granularity=1)
        rd = self._psum.read_port(transparent_for=(wr,))
        m.d.comb += [
            wr.addr.eq(self.psum_waddr), wr.data.eq(self.psum_wdata), wr.en.eq(self.psum_wen),
            rd.addr.eq(self.psum_raddr), rd.en.eq(self.psum_ren), self.psum_rdata.eq(rd.data),
        ]
        return m
