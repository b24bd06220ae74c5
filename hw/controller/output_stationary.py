"""Output-stationary issue unit: rows are output pixels, columns filters, the stream walks reduction words.

Load slot ``(row, entry)`` records the next fold's pixel (base address, h0, w0) for
that row and entry. Stream slot ``g`` of word ``k`` has row ``i`` read word ``k`` of
pixel ``p0 + g*rows + i``, with one weight line per word (read at entry 0; the read
port holds it for the ``G`` slots); each PE accumulates its product into register-file
entry ``(half, g)``. Drain slot ``j = (entry, row)`` of the previous fold reads that
row's entry from every PE and writes psum line ``pbase + p0 + j``; when the descriptor's
``accumulate`` is set (a later channel tile), the drain issues the read of that line
``ISSUE_LATENCY + GLB_READ_LATENCY`` cycles earlier and writes the sum.

A ``fold_groups`` pass (a ``depthwise`` build, the descriptor's flag; :attr:`model.contract.Tile.fold_groups`)
has its filter groups run as images of one filter group, so that a fold's pixels may be of two groups:
each row's context also holds its image's weight offset ``wimg = n*Kw``; the weight read is of the
fold's first pixel's group, a second read of the next group's, and a row whose pixel is of that group
multiplies the second line (``array.wsel``). A depthwise pass's images read their own channels
(``CwHW = H*W`` lines apart), an ungrouped pass's the same input (``CwHW = 0``).

Pipeline (cycles after issue): :data:`~model.contract.OPERAND_STAGE` operands;
:data:`~model.contract.PRODUCT_STAGE` register-file accumulate. A drain reads the
register file at the product stage, after the previous fold's last accumulate, and
writes its psum line in the same cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib import data

from hw.controller.issue import IssueUnit, rf_index
from hw.controller.walkers import PixelWalker, WordWalker, coord_shape
from hw.delay import delay
from model.config import Dataflow
from model.contract import GLB_READ_LATENCY, ISSUE_LATENCY, OPERAND_STAGE, PRODUCT_STAGE, dim_bits

__all__ = ["OutputStationaryIssue"]


class OutputStationaryIssue(IssueUnit):
    """The output-stationary issue unit (see the module notes); ``psum_write`` carries a drained row."""

    dataflow = Dataflow.OS

    def walkers(self, dim):
        return PixelWalker("lw", dim, image_weights=self._depthwise), WordWalker("sw", dim)

    def row_context(self, dim, lw, d):
        fields = {"base": coord_shape(dim), "h0": coord_shape(dim), "w0": coord_shape(dim), "valid": 1}
        stored = {"base": lw.base, "h0": lw.h0, "w0": lw.w0, "valid": lw.p < d.P}
        if self._depthwise:
            fields["wimg"], stored["wimg"] = dim, lw.wimg
        return data.StructLayout(fields), stored

    def row_operand(self, c, sw, d):
        return c.base, c.h0, c.w0, sw.r, sw.s, sw.offset, c.valid, sw.last_word

    def datapath(self, m, streams, lw, sw):
        cfg, sch, ctrl = self._config, self.schedule, self.array
        G, d, ss, ds = cfg.rf_sets, sch.desc, sch.stream_slot, sch.drain_slot
        weight_line = sch.stream.wbase + sw.k
        if self._depthwise:   # the group of the fold's first pixel, and the next one (module notes)
            first = streams["contexts"][0].wimg
            fold_wimg = Signal.like(first, name="fold_wimg")
            with m.If(ss.on & (ss.inner == 0)):
                m.d.sync += fold_wimg.eq(first)
            fold_first = Mux(ss.inner == 0, first, fold_wimg)
            weight_line = weight_line + Mux(d.fold_groups, first, 0)
            m.d.comb += [self.weight_read2.addr.eq(weight_line + d.Kw),
                         self.weight_read2.en.eq(ss.on & (ss.inner == 0) & d.fold_groups)]
            wsel = Cat(*(d.fold_groups & (c.wimg != fold_first) for c in streams["contexts"]))
            m.d.comb += ctrl.wsel.eq(delay(m, wsel, OPERAND_STAGE, "wsel"))
        m.d.comb += [self.weight_read.addr.eq(weight_line), self.weight_read.en.eq(ss.on & (ss.inner == 0))]
        # Product stage: accumulate into register-file entry (half, g).
        act2 = Signal(cfg.rows)
        m.d.comb += act2.eq(delay(m, Cat(*streams["actives"]), PRODUCT_STAGE, "s_active"))
        first2 = delay(m, sw.k == 0, PRODUCT_STAGE, "s_first")
        cols2 = delay(m, streams["cols"], PRODUCT_STAGE, "s_cols")
        m.d.comb += [
            ctrl.acc_row_en.eq(act2),
            ctrl.acc_col_en.eq(delay(m, streams["colmask"], PRODUCT_STAGE, "s_colmask")),
            ctrl.acc_first.eq(first2),
            ctrl.acc_sel.eq(delay(m, streams["entry"], PRODUCT_STAGE, "acc_sel")),
        ]
        n_act2 = delay(m, streams["n_active"], PRODUCT_STAGE, "n_active")
        # Drain: slot j = (entry, row) of the previous fold -> psum line pbase + p0 + j.
        dj = Signal(dim_bits(cfg))
        with m.If(sch.period_end | sch.start):
            m.d.sync += dj.eq(0)
        with m.Elif(ds.on):
            m.d.sync += dj.eq(dj + 1)
        d_cols, _ = self.active_cols(m, sch.drain, d, "d")
        drain_we = ds.on & (sch.drain.p0 + dj < d.P)
        drain_line = sch.drain.pbase + sch.drain.p0 + dj
        we2 = delay(m, drain_we, PRODUCT_STAGE, "drain_we")
        read_stage = PRODUCT_STAGE - GLB_READ_LATENCY - ISSUE_LATENCY   # the line there with the drained row
        m.d.comb += [
            self.psum_read.en.eq(delay(m, drain_we & d.accumulate, read_stage, "drain_re")),
            self.psum_read.addr.eq(delay(m, drain_line, read_stage, "drain_rline")),
            self.psum_first.eq(delay(m, ~d.accumulate, PRODUCT_STAGE, "drain_first")),
            ctrl.drain_row.eq(delay(m, ds.inner, PRODUCT_STAGE, "drain_row")),
            ctrl.drain_sel.eq(delay(m, rf_index(sch.drain.half, ds.outer, G), PRODUCT_STAGE, "drain_sel")),
            self.psum_write.addr.eq(delay(m, drain_line, PRODUCT_STAGE, "drain_line")),
            self.psum_write.en.eq(we2),
        ]
        drain_reads = Mux(we2, delay(m, d_cols, PRODUCT_STAGE, "drain_cols"), 0)
        m.d.comb += [
            self.ev_macs.eq(delay(m, streams["n_chans"], PRODUCT_STAGE, "n_chans") * cols2),
            self.ev_rf_writes.eq(n_act2 * cols2),
            self.ev_rf_reads.eq(Mux(first2, 0, n_act2 * cols2) + drain_reads),
        ]
