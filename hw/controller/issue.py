"""What the two dataflows' issue units share: walkers, the rows' register-file contexts and the stream issue.

In every stream slot each array row ``i`` reads one ifmap word, at
``base + offset`` from its walker positions, unless the window position
``(h0 + r, w0 + s)`` lies outside the input (padding: no read, operand masked).
Which walker gives the pixel and which the reduction word depends on the
dataflow (:class:`IssueUnit` subclasses): WS keeps each row's reduction word
(offset, r, s) in the row's context and walks pixels in the stream; OS keeps
each row's pixel (base, h0, w0) and walks reduction words.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.controller.layouts import ScheduleSignature
from hw.controller.walkers import PixelWalker, WordWalker
from hw.delay import delay
from hw.pe import popcount
from hw.select import select
from hw.signatures import ArrayControlSignature, RequestSignature
from model.config import AcceleratorConfig, Dataflow
from model.contract import OPERAND_STAGE, dim_bits, mask_bits

__all__ = ["IssueUnit", "rf_index", "total"]


def rf_index(half, entry, G: int):
    """Register-file index of entry ``entry`` in half ``half``: ``half*G + entry``."""
    return Mux(half, G, 0) + entry


def total(values):
    """The sum of ``values`` as an adder chain."""
    result = values[0]
    for v in values[1:]:
        result = result + v
    return result


class IssueUnit(wiring.Component):
    """Buffer requests, array control and event counts of one dataflow, from the sequencer's schedule.

    Parameters
    ----------
    config : AcceleratorConfig
    depthwise : bool
        The build runs depthwise passes (:func:`model.contract.depthwise_reads`): when the descriptor's
        ``depthwise`` is set, a read's ``base + offset`` is a line, sent as the word address of its
        lane 0 (``cols`` times the line), and ``array.depthwise`` follows the flag.

    Ports
    -----
    schedule : In(ScheduleSignature(config))
    ifmap_read : Out(RequestSignature(ifmap_depth)).array(rows)
        One ifmap read per row, at the issue stage.
    weight_read : Out(RequestSignature(weight_depth))
    weight_read2 : Out(RequestSignature(weight_depth)), output-stationary with ``depthwise``
        The second filter group's weight line of a ``fold_groups`` fold that holds pixels of two.
    psum_read : Out(RequestSignature(psum_depth))
        The psum line a later ``psum_write`` adds to (``ISSUE_LATENCY + GLB_READ_LATENCY`` cycles before
        it: :class:`~hw.controller.Controller` registers the read requests).
    psum_write : Out(RequestSignature(psum_depth))
        The psum line written this cycle (its data is the dataflow's, see the subclass).
    psum_first : Out(1)
        With ``psum_write``: write the new sum as it is (do not add the line read).
    array : Out(ArrayControlSignature)
    ev_macs, ev_rf_reads, ev_rf_writes : Out
        Per-cycle counts: products (in channels) and register-file reads and writes, summed over PEs.
    """

    #: Dataflow of the subclass.
    dataflow: Dataflow

    def __init__(self, config: AcceleratorConfig, depthwise: bool = False):
        self._config, self._depthwise = config, depthwise
        #: WS runs a depthwise pass's channel groups as filter groups, each reading its own input
        self.group_inputs = depthwise and self.dataflow is Dataflow.WS
        rows, cols = config.rows, config.cols
        super().__init__({
            "schedule": In(ScheduleSignature(config, self.group_inputs)),
            "ifmap_read": Out(RequestSignature(config.ifmap_depth)).array(rows),
            "weight_read": Out(RequestSignature(config.weight_depth)),
            "psum_read": Out(RequestSignature(config.psum_depth)),
            "psum_write": Out(RequestSignature(config.psum_depth)),
            "psum_first": Out(1),
            "array": Out(ArrayControlSignature(self.dataflow, rows, cols, config.rf_depth, mask_bits(config),
                                               depthwise)),
            "ev_macs": Out(range(rows * mask_bits(config) * cols + 1)),
            "ev_rf_reads": Out(range(rows * cols + cols + 1)),  # OS: accumulate and drain reads
            "ev_rf_writes": Out(range(rows * cols + 1)),
            **({"weight_read2": Out(RequestSignature(config.weight_depth))}
               if depthwise and self.dataflow is Dataflow.OS else {}),
        })

    # -- what the subclasses define ------------------------------------------------------------

    def walkers(self, dim: int) -> tuple:
        """(load walker, stream walker)."""
        raise NotImplementedError

    def row_context(self, dim: int, lw, d) -> tuple[data.StructLayout, dict]:
        """Layout of one row's register-file context and the values the load walker stores in it."""
        raise NotImplementedError

    def row_operand(self, c, sw, d) -> tuple:
        """(base, h0, w0, r, s, offset, valid, last word of the pixel) of a row with context ``c``."""
        raise NotImplementedError

    def datapath(self, m, streams: dict, lw, sw) -> None:
        """Weight reads, array control, psum requests and event counts (``streams``: the stream issue)."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------

    def active_cols(self, m, ctx, d, name: str):
        """(count, mask) of the columns (filters) a fold context uses; the last group may be partial."""
        count = Mux(ctx.last_group, d.last_cols, self._config.cols)
        mask = Signal(self._config.cols, name=f"{name}_colmask")
        m.d.comb += mask.eq(Cat(*(count > j for j in range(self._config.cols))))
        return count, mask

    def channel_mask(self, last, d):
        """The channels of a word: all, or for a pixel's last word the descriptor's ``last_mask`` (binary)."""
        if self._config.binary:
            return Mux(last, d.last_mask, (1 << self._config.word_bits) - 1)
        return Const(1, 1)

    def elaborate(self, platform):
        m = Module()
        cfg, sch = self._config, self.schedule
        rows, G, dim = cfg.rows, cfg.rf_sets, dim_bits(cfg)
        d, ls, ss = sch.desc, sch.load_slot, sch.stream_slot

        lw, sw = self.walkers(dim)
        with m.If(ls.on):
            lw.step(m, d)
        with m.If(ss.on & ss.inner_last):
            sw.step(m, d)
        with m.If(sch.start):
            m.d.sync += [*lw.reset(sch.start_desc), *sw.reset(sch.start_desc),
                         *lw.latch(sch.start_desc), *sw.latch(sch.start_desc)]
        with m.Elif(sch.period_end):
            # the next period streams the context loaded in this one (WS depthwise: its filter group's
            # input); at a wrap the load walker moves to the next filter group
            m.d.sync += sw.restart(d, sch.load.ibase if self.group_inputs else d.ibase)
            with m.If(sch.wrap):
                m.d.sync += lw.restart(d, d.ibase)

        # Register-file context of each row, double-buffered: rowctx[row][half*G + entry].
        layout, stored = self.row_context(dim, lw, d)
        rowctx = [[Signal(layout, name=f"rowctx_{i}_{e}") for e in range(2 * G)] for i in range(rows)]
        for i in range(rows):
            for e in range(2 * G):
                with m.If(ls.on & (ls.inner == i) & (rf_index(sch.load.half, ls.outer, G) == e)):
                    m.d.sync += [getattr(rowctx[i][e], k).eq(v) for k, v in stored.items()]

        # Stream issue (stage 0): one ifmap read per row.
        entry = rf_index(sch.stream.half, ss.inner, G)
        masks, actives, chans, contexts = [], [], [], []
        for i in range(rows):
            # A mux tree, not an Array read: an unused row's context keeps its reset value, and Icarus
            # never runs an `always @*` none of whose inputs change (hw/select.py).
            c = layout(select(rowctx[i], entry))
            contexts.append(c)
            base, h0, w0, r, s, offset, valid, last = self.row_operand(c, sw, d)
            h, w = h0 + r, w0 + s
            inside = (h >= 0) & (h < d.H) & (w >= 0) & (w < d.W)
            active = ss.on & valid
            chmask = self.channel_mask(last, d)
            addr = base + offset
            if self._depthwise:
                addr = Mux(d.depthwise, addr << (cfg.cols.bit_length() - 1), addr)
            m.d.comb += [self.ifmap_read[i].en.eq(active & inside), self.ifmap_read[i].addr.eq(addr)]
            masks.append(Mux(active & inside, chmask, 0))
            actives.append(active)
            chans.append(Mux(active, popcount(chmask) if cfg.binary else 1, 0))
        m.d.comb += [self.array.mask[i].eq(delay(m, x, OPERAND_STAGE, f"mask{i}")) for i, x in enumerate(masks)]
        if self._depthwise:   # with the operands (the descriptor may be the next pass's, started in the tail)
            m.d.comb += self.array.depthwise.eq(delay(m, d.depthwise, OPERAND_STAGE, "depthwise"))
        s_cols, s_colmask = self.active_cols(m, sch.stream, d, "s")
        streams = {"entry": entry, "actives": actives, "n_active": total(actives), "n_chans": total(chans),
                   "cols": s_cols, "colmask": s_colmask, "contexts": contexts}
        self.datapath(m, streams, lw, sw)
        return m

