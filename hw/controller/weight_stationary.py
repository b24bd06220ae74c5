"""Weight-stationary issue unit: rows are reduction words, columns filters, the stream walks pixels.

Load slot ``(row, entry)`` reads weight line ``wbase + k`` (the load walker's word ``k``)
into entry ``entry`` of that row's register files and records the word's (offset, r, s)
in the row's context. Stream slot ``g`` of pixel ``p`` has row ``i`` read word
``k0 + g*rows + i`` of pixel ``p``; the column sums of the ``G`` slots of a pixel are
accumulated, and the pixel's psum line is read and written back with the sum added
(the first word group writes it without reading, unless the descriptor's ``accumulate`` says
the psum buffer already holds the partial sums of earlier channel tiles).

Pipeline (cycles after issue): :data:`~model.contract.OPERAND_STAGE` operands and register-file
read, :data:`~model.contract.PRODUCT_STAGE` column sum and accumulate;
:data:`~model.contract.PSUM_WRITE_STAGE` psum write ``acc + (psum_first ? 0 : old)``, its line's read
issued ``ISSUE_LATENCY + GLB_READ_LATENCY`` cycles before.
"""

from __future__ import annotations

from amaranth.hdl import Mux
from amaranth.lib import data

from hw.controller.issue import IssueUnit, rf_index
from hw.controller.walkers import PixelWalker, WordWalker
from hw.delay import delay
from model.config import Dataflow
from model.contract import GLB_READ_LATENCY, ISSUE_LATENCY, OPERAND_STAGE, PRODUCT_STAGE, PSUM_WRITE_STAGE

__all__ = ["WeightStationaryIssue"]


class WeightStationaryIssue(IssueUnit):
    """The weight-stationary issue unit (see the module notes).

    ``psum_read`` is the line a finished pixel accumulates into (product stage); ``psum_first``
    marks the pass's first word group of a filter group unless the descriptor's ``accumulate``
    is set (a later channel tile adds to the partial sums of the earlier ones).
    """

    dataflow = Dataflow.WS

    def walkers(self, dim):
        return WordWalker("lw", dim), PixelWalker("sw", dim)

    def row_context(self, dim, lw, d):
        layout = data.StructLayout({"offset": len(lw.offset), "r": dim, "s": dim, "valid": 1, "last": 1})
        return layout, {"offset": lw.offset, "r": lw.r, "s": lw.s, "valid": lw.k < d.Kw, "last": lw.last_word}

    def row_operand(self, c, sw, d):
        return sw.base, sw.h0, sw.w0, c.r, c.s, c.offset, c.valid, c.last

    def datapath(self, m, streams, lw, sw):
        cfg, sch, ctrl = self._config, self.schedule, self.array
        G, d, ls, ss = cfg.rf_sets, sch.desc, sch.load_slot, sch.stream_slot
        # Loads: weight line wbase + k into row ls.inner, entry (half, ls.outer).
        load_valid = ls.on & (lw.k < d.Kw)
        l_cols, _ = self.active_cols(m, sch.load, d, "l")
        m.d.comb += [self.weight_read.addr.eq(sch.load.wbase + lw.k), self.weight_read.en.eq(load_valid)]
        m.d.comb += [
            ctrl.load_en.eq(delay(m, load_valid, OPERAND_STAGE, "load_en")),
            ctrl.load_row.eq(delay(m, ls.inner, OPERAND_STAGE, "load_row")),
            ctrl.load_sel.eq(delay(m, rf_index(sch.load.half, ls.outer, G), OPERAND_STAGE, "load_sel")),
            ctrl.rf_sel.eq(delay(m, streams["entry"], OPERAND_STAGE, "rf_sel")),
        ]
        cols1 = delay(m, streams["cols"], OPERAND_STAGE, "s_cols")
        m.d.comb += [
            self.ev_macs.eq(delay(m, streams["n_chans"], OPERAND_STAGE, "n_chans") * cols1),
            self.ev_rf_reads.eq(delay(m, streams["n_active"], OPERAND_STAGE, "n_active") * cols1),
            self.ev_rf_writes.eq(Mux(ctrl.load_en, delay(m, l_cols, OPERAND_STAGE, "load_cols"), 0)),
        ]
        # Product stage: column accumulate; a pixel's last entry reads its psum line.
        # The psum read is issued so that its line is there at the write stage (the controller
        # registers it, then the buffer reads): no later than the product stage.
        read_stage = PSUM_WRITE_STAGE - GLB_READ_LATENCY - ISSUE_LATENCY
        assert read_stage <= PRODUCT_STAGE
        on_r = delay(m, ss.on, read_stage, "s_on")
        g_r = delay(m, ss.inner, read_stage, "s_g")
        line_r = delay(m, sch.stream.pbase + sw.p, read_stage, "s_line")
        first_r = delay(m, (sch.stream.fold == 0) & ~d.accumulate, read_stage, "s_first")
        last_r = on_r & (g_r == G - 1)
        on2, g2 = (delay(m, v, PRODUCT_STAGE - read_stage, n) for v, n in ((on_r, "acc_on"), (g_r, "acc_g")))
        write_delay = PSUM_WRITE_STAGE - read_stage
        m.d.comb += [
            ctrl.acc_en.eq(on2), ctrl.acc_first.eq(g2 == 0),
            self.psum_read.addr.eq(line_r), self.psum_read.en.eq(last_r & ~first_r),
            self.psum_write.addr.eq(delay(m, line_r, write_delay, "s_line")),
            self.psum_write.en.eq(delay(m, last_r, write_delay, "s_last")),
            self.psum_first.eq(delay(m, first_r, write_delay, "s_first")),
        ]
