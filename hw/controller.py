"""The controller: walks one pass of a layer in folds, generating buffer addresses and array control.

See the README section "Architecture" for the schedule; :mod:`model.perf` states
its cycle count. In short, the controller runs *periods*. Each period holds up
to three activities, each a slot counter:

* **stream** the current fold (``G`` slots per element of the stream: pixels
  for WS, reduction words for OS);
* **load** the next fold's register-file context (``rows*G`` slots): WS reads one
  weight line per slot into the register files and records the reduction
  word's (address offset, r, s) per row; OS walks the next fold's pixels;
* **drain** (OS) the previous fold's finished partial sums, one psum line per slot.

A period ends in the cycle its last active slot issues. Fold contexts (filter
group, fold index, register-file half, buffer bases) move load -> stream ->
drain at a period end. Addresses come from incremental walkers (adds only).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.delay import delay
from hw.select import select
from model.config import AcceleratorConfig
from model.perf import TAIL
from model.program import desc_fields, dim_bits

__all__ = ["Controller", "desc_layout"]


def desc_layout(config: AcceleratorConfig) -> data.StructLayout:
    """The ``desc`` port of the design built for ``config``: :func:`model.program.desc_fields`, LSB first."""
    return data.StructLayout({name: unsigned(width) for name, width in desc_fields(config)})


def _popcount(value):
    return _sum([value[i] for i in range(len(value))])


def _coord(dim):
    """Signed pixel coordinates (``-pad <= h0 + r < H + pad``, each term below ``2**dim``).

    Addresses built from them (``nbase + h0*W + w0 + offset``) are only used modulo the
    buffer depth, so a wrapped intermediate sum still gives the right address.
    """
    return signed(dim + 2)


class _PixelWalker:
    """Output pixel p = (n*E + e)*F + f -> window origin (h0, w0) and base address nbase + h0*W + w0."""

    def __init__(self, name, dim):
        self.p = Signal(dim, name=f"{name}_p")
        self.e = Signal(dim, name=f"{name}_e")
        self.f = Signal(dim, name=f"{name}_f")
        self.h0 = Signal(_coord(dim), name=f"{name}_h0")
        self.w0 = Signal(_coord(dim), name=f"{name}_w0")
        self.hw = Signal(_coord(dim), name=f"{name}_hw")
        self.nbase = Signal(_coord(dim), name=f"{name}_nbase")
        self.base = self.nbase + self.hw + self.w0

    def reset(self, d):
        return [self.p.eq(0), self.e.eq(0), self.f.eq(0), self.h0.eq(-d.pad), self.w0.eq(-d.pad),
                self.hw.eq(-d.padW), self.nbase.eq(0)]

    def step(self, m, d):
        m.d.sync += self.p.eq(self.p + 1)
        with m.If(self.f == d.F - 1):
            m.d.sync += [self.f.eq(0), self.w0.eq(-d.pad)]
            with m.If(self.e == d.E - 1):
                m.d.sync += [self.e.eq(0), self.h0.eq(-d.pad), self.hw.eq(-d.padW),
                             self.nbase.eq(self.nbase + d.CwHW)]
            with m.Else():
                m.d.sync += [self.e.eq(self.e + 1), self.h0.eq(self.h0 + d.stride),
                             self.hw.eq(self.hw + d.strideW)]
        with m.Else():
            m.d.sync += [self.f.eq(self.f + 1), self.w0.eq(self.w0 + d.stride)]


class _WordWalker:
    """Reduction word k = (cw*R + r)*S + s -> address offset cw*H*W + r*W + s."""

    def __init__(self, name, dim):
        self.k = Signal(dim, name=f"{name}_k")
        self.cw = Signal(dim, name=f"{name}_cw")
        self.r = Signal(dim, name=f"{name}_r")
        self.s = Signal(dim, name=f"{name}_s")
        self.cw_off = Signal(dim, name=f"{name}_cw_off")
        self.r_off = Signal(dim, name=f"{name}_r_off")  # only used modulo the ifmap depth
        self.offset = self.cw_off + self.r_off + self.s

    def reset(self, d):
        return [self.k.eq(0), self.cw.eq(0), self.r.eq(0), self.s.eq(0), self.cw_off.eq(0), self.r_off.eq(0)]

    def step(self, m, d):
        m.d.sync += self.k.eq(self.k + 1)
        with m.If(self.s == d.S - 1):
            m.d.sync += self.s.eq(0)
            with m.If(self.r == d.R - 1):
                m.d.sync += [self.r.eq(0), self.r_off.eq(0), self.cw.eq(self.cw + 1),
                             self.cw_off.eq(self.cw_off + d.HW)]
            with m.Else():
                m.d.sync += [self.r.eq(self.r + 1), self.r_off.eq(self.r_off + d.W)]
        with m.Else():
            m.d.sync += self.s.eq(self.s + 1)


def _context(dim):
    """A fold context: filter group, fold index, register-file half and buffer bases."""
    return data.StructLayout({
        "valid": 1, "half": 1, "fold": dim, "group": dim, "last_group": 1, "wbase": dim, "pbase": dim, "p0": dim,
    })


class _Slots:
    """A slot counter ``inner`` in [0, inner_n), ``outer`` in [0, outer_n), and its done flag."""

    def __init__(self, name, inner_n, dim):
        self.inner = Signal(range(max(inner_n, 2)), name=f"{name}_inner")
        self.outer = Signal(dim, name=f"{name}_outer")
        self.done = Signal(name=f"{name}_done")
        self.inner_n = inner_n
        self.on = Signal(name=f"{name}_on")
        self.last = Signal(name=f"{name}_last")
        self.inner_last = self.inner == inner_n - 1

    def logic(self, m, valid, outer_n):
        m.d.comb += [self.on.eq(valid & ~self.done), self.last.eq(self.on & self.inner_last & (self.outer == outer_n - 1))]
        with m.If(self.on):
            with m.If(self.inner_last):
                m.d.sync += [self.inner.eq(0), self.outer.eq(self.outer + 1)]
                with m.If(self.outer == outer_n - 1):
                    m.d.sync += self.done.eq(1)
            with m.Else():
                m.d.sync += self.inner.eq(self.inner + 1)

    def clear(self):
        return [self.inner.eq(0), self.outer.eq(0), self.done.eq(0)]


def _rf_index(half, entry, G):
    """Register-file index of entry ``entry`` in half ``half``: ``half*G + entry``."""
    return Mux(half, G, 0) + entry


def _sum(values):
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


class Controller(wiring.Component):
    """Controller of one pass; fold order WS: filter group, then reduction-word group; OS: filter group, then pixel group.

    Parameters
    ----------
    config : AcceleratorConfig
        Array shape, ``G = rf_sets`` register-file entries per fold (half the register
        file), dataflow, binary or signed words, and the buffer depths, which size the
        addresses, the descriptor fields and every counter (:func:`model.program.dim_bits`).

    Ports
    -----
    start : In(1)
        Start a pass with ``desc`` (ignored while busy).
    desc : In(desc_layout(config))
        Layer descriptor, latched at ``start``.
    busy : Out(1)
        High from the cycle after ``start`` until the last buffer write of the pass.
    ifmap_raddr, ifmap_ren : Out, one per row
        Issue-stage ifmap reads (data the next cycle, "stage 1").
    weight_raddr, weight_ren : Out
        Weight line reads (WS: loads, data at stage 1 goes into the register files;
        OS: one per reduction word, the read port holds the line for ``G`` cycles).
    mask : Out(ArrayLayout(word_bits or 1, rows))
        Stage-1 operand masks for the array (0 = padding / unused lane).
    rf_sel, load_en, load_row, load_sel : Out (WS)
        Stage-1 register-file read entry; stage-1 register-file write of the loaded line.
    acc_en, acc_first : Out (WS, stage 2)
        Column accumulator control.
    acc_row_en, acc_col_en, acc_first, acc_sel : Out (OS, stage 2)
        PE register-file accumulate control.
    drain_row, drain_sel : Out (OS)
        Register-file entry being drained, with ``psum_waddr``/``psum_we``.
    psum_raddr, psum_ren : Out (WS, stage 2)
        Read of the psum line the finished pixel accumulates into.
    psum_waddr, psum_we, psum_first : Out
        Psum line write (WS stage 3: ``acc + (psum_first ? 0 : old)``; OS: drained row).
    ev_macs, ev_rf_reads, ev_rf_writes : Out
        Per-cycle counts: products (in channels), register-file reads and writes summed over PEs.
    """

    def __init__(self, config: AcceleratorConfig):
        rows, cols, rf_depth = config.rows, config.cols, config.rf_depth
        self._config = config
        self._rows, self._cols, self._g = rows, cols, config.rf_sets
        self._ws = config.dataflow == "ws"
        self._binary, self._word_bits = config.binary, config.word_bits
        self._dim = dim_bits(config)
        mask_bits = config.word_bits if config.binary else 1
        chans = rows * mask_bits
        members = {
            "start": In(1),
            "desc": In(desc_layout(config)),
            "busy": Out(1),
            "ifmap_raddr": Out(data.ArrayLayout(range(config.ifmap_depth), rows)),
            "ifmap_ren": Out(rows),
            "weight_raddr": Out(range(config.weight_depth)),
            "weight_ren": Out(1),
            "mask": Out(data.ArrayLayout(mask_bits, rows)),
            "psum_waddr": Out(range(config.psum_depth)),
            "psum_we": Out(1),
            "ev_macs": Out(range(chans * cols + 1)),
            "ev_rf_reads": Out(range(rows * cols + cols + 1)),  # OS: accumulate and drain reads
            "ev_rf_writes": Out(range(rows * cols + 1)),
        }
        if self._ws:
            members |= {
                "rf_sel": Out(range(rf_depth)),
                "load_en": Out(1),
                "load_row": Out(range(rows)),
                "load_sel": Out(range(rf_depth)),
                "acc_en": Out(1),
                "acc_first": Out(1),
                "psum_raddr": Out(range(config.psum_depth)),
                "psum_ren": Out(1),
                "psum_first": Out(1),
            }
        else:
            members |= {
                "acc_row_en": Out(rows),
                "acc_col_en": Out(cols),
                "acc_first": Out(1),
                "acc_sel": Out(range(rf_depth)),
                "drain_row": Out(range(rows)),
                "drain_sel": Out(range(rf_depth)),
            }
        super().__init__(members)

    # -- helpers --------------------------------------------------------------

    def _active_cols(self, ctx, d):
        """(count, mask) of the columns (filters) a fold context uses."""
        count = Mux(ctx.last_group, d.last_cols, self._cols)
        mask = Signal(self._cols)
        return count, mask, [mask.eq(Cat(*(count > j for j in range(self._cols))))]

    def _channel_mask(self, last, d):
        if self._binary:
            return Mux(last, d.last_mask, (1 << self._word_bits) - 1)
        return Const(1, 1)

    def elaborate(self, platform):
        m = Module()
        rows, cols, G = self._rows, self._cols, self._g
        ws, dim = self._ws, self._dim
        span = rows * G

        d = Signal(desc_layout(self._config))
        busy, running = self.busy, Signal()
        tail = Signal(range(TAIL["ws" if ws else "os"] + 1))

        load, stream, drain = (Signal(_context(dim), name=n) for n in ("load_ctx", "stream_ctx", "drain_ctx"))
        folds = d.k_folds if ws else d.p_folds
        stream_n = d.P if ws else d.Kw

        ls = _Slots("load", rows, dim)      # inner: row, outer: register-file entry
        ss = _Slots("stream", G, dim)       # inner: entry g, outer: pixel (WS) / reduction word (OS)
        ds = _Slots("drain", rows, dim)     # inner: row, outer: register-file entry (OS)
        ls.logic(m, running & load.valid, G)
        ss.logic(m, running & stream.valid, stream_n)
        if not ws:
            ds.logic(m, running & drain.valid, G)
        drain_on = ds.on if not ws else Const(0, 1)
        drain_last = ds.last if not ws else Const(0, 1)

        # The next fold context after `load` (whole-field expressions: no partially assigned comb signal).
        wrap = load.fold == folds - 1
        nxt = {
            "valid": load.valid & (~wrap | (load.group + 1 < d.m_groups)),
            "half": ~load.half,
            "fold": Mux(wrap, 0, load.fold + 1),
            "group": Mux(wrap, load.group + 1, load.group),
            "last_group": Mux(wrap, load.group + 2 == d.m_groups, load.last_group),
            "wbase": Mux(wrap, load.wbase + d.Kw, load.wbase),
            "pbase": Mux(wrap, load.pbase + d.P, load.pbase),
            "p0": Mux(wrap, 0, load.p0 + span),
        }

        period_end = running & (~ls.on | ls.last) & (~ss.on | ss.last) & (~drain_on | drain_last)
        # Walkers: the load walker continues across the folds of one filter group.
        lw = _WordWalker("lw", dim) if ws else _PixelWalker("lw", dim)
        sw = _PixelWalker("sw", dim) if ws else _WordWalker("sw", dim)
        with m.If(ls.on):
            lw.step(m, d)
        with m.If(ss.on & ss.inner_last):
            sw.step(m, d)

        with m.If(self.start & ~busy):
            m.d.sync += [d.eq(self.desc), busy.eq(1), running.eq(1), stream.eq(0), drain.eq(0),
                         load.eq(0), load.valid.eq(1), load.last_group.eq(self.desc.m_groups == 1),
                         *ls.clear(), *ss.clear(), *ds.clear()]
            m.d.sync += [*lw.reset(self.desc), *sw.reset(self.desc)]
        with m.Elif(period_end):
            m.d.sync += [*(getattr(load, k).eq(v) for k, v in nxt.items()), stream.eq(load),
                         drain.eq(stream if not ws else 0),
                         *ls.clear(), *ss.clear(), *ds.clear(), *sw.reset(d)]
            with m.If(wrap):
                m.d.sync += lw.reset(d)
            last_period = ~nxt["valid"] & ~load.valid & (Const(1, 1) if ws else ~stream.valid)
            with m.If(last_period):
                m.d.sync += [running.eq(0), tail.eq(TAIL["ws" if ws else "os"])]
        with m.Elif(busy & ~running):
            with m.If(tail == 1):
                m.d.sync += busy.eq(0)
            m.d.sync += tail.eq(tail - 1)

        # Register-file context of each row, double-buffered: rowctx[row][half*G + entry].
        if ws:
            rowctx_layout = data.StructLayout({"offset": len(lw.offset), "r": dim, "s": dim, "valid": 1, "last": 1})
            lw_value = {"offset": lw.offset, "r": lw.r, "s": lw.s, "valid": lw.k < d.Kw, "last": lw.cw == d.Cw - 1}
        else:
            rowctx_layout = data.StructLayout({"base": _coord(dim), "h0": _coord(dim), "w0": _coord(dim), "valid": 1})
            lw_value = {"base": lw.base, "h0": lw.h0, "w0": lw.w0, "valid": lw.p < d.P}
        rowctx = [[Signal(rowctx_layout, name=f"rowctx_{i}_{e}") for e in range(2 * G)] for i in range(rows)]
        for i in range(rows):
            for e in range(2 * G):
                with m.If(ls.on & (ls.inner == i) & (_rf_index(load.half, ls.outer, G) == e)):
                    m.d.sync += [getattr(rowctx[i][e], k).eq(v) for k, v in lw_value.items()]

        # -- stream issue (stage 0) ------------------------------------------
        entry = _rf_index(stream.half, ss.inner, G)
        s_cols, s_colmask, stmts = self._active_cols(stream, d)
        m.d.comb += stmts
        ren = Signal(rows)
        masks, actives, chans = [], [], []
        for i in range(rows):
            # A mux tree, not an Array read: an unused row's context keeps its reset value, and Icarus
            # never runs an `always @*` none of whose inputs change (hw/select.py).
            c = rowctx_layout(select(rowctx[i], entry))
            if ws:
                base, h0, w0, r, s, valid, last = sw.base, sw.h0, sw.w0, c.r, c.s, c.valid, c.last
                offset = c.offset
            else:
                base, h0, w0, r, s, valid, last = c.base, c.h0, c.w0, sw.r, sw.s, c.valid, sw.cw == d.Cw - 1
                offset = sw.offset
            h, w = h0 + r, w0 + s
            inside = (h >= 0) & (h < d.H) & (w >= 0) & (w < d.W)
            active = ss.on & valid
            chmask = self._channel_mask(last, d)
            m.d.comb += [ren[i].eq(active & inside), self.ifmap_raddr[i].eq(base + offset)]
            masks.append(Mux(active & inside, chmask, 0))
            actives.append(active)
            chans.append(Mux(active, _popcount(chmask) if self._binary else 1, 0))
        m.d.comb += self.ifmap_ren.eq(ren)
        n_active, n_chans = _sum(actives), _sum(chans)

        mask1 = [delay(m, x, 1, f"mask{i}") for i, x in enumerate(masks)]
        m.d.comb += [self.mask[i].eq(x) for i, x in enumerate(mask1)]

        if ws:
            # Loads: weight line wbase + k into row ls.inner, entry (half, ls.outer).
            load_valid = ls.on & (lw.k < d.Kw)
            l_cols, _, stmts = self._active_cols(load, d)
            m.d.comb += stmts
            m.d.comb += [self.weight_raddr.eq(load.wbase + lw.k), self.weight_ren.eq(load_valid)]
            m.d.comb += [
                self.load_en.eq(delay(m, load_valid, 1, "load_en")),
                self.load_row.eq(delay(m, ls.inner, 1, "load_row")),
                self.load_sel.eq(delay(m, _rf_index(load.half, ls.outer, G), 1, "load_sel")),
            ]
            ev_writes = Mux(self.load_en, delay(m, l_cols, 1, "load_cols"), 0)
            m.d.comb += self.rf_sel.eq(delay(m, entry, 1, "rf_sel"))
            cols1 = delay(m, s_cols, 1, "s_cols")
            m.d.comb += [
                self.ev_macs.eq(delay(m, n_chans, 1, "n_chans") * cols1),
                self.ev_rf_reads.eq(delay(m, n_active, 1, "n_active") * cols1),
                self.ev_rf_writes.eq(ev_writes),
            ]
            # Stage 2: column accumulate; a pixel's last entry reads its psum line.
            on2 = delay(m, ss.on, 2, "s_on")
            g2 = delay(m, ss.inner, 2, "s_g")
            line = stream.pbase + sw.p
            first = stream.fold == 0
            line2 = delay(m, line, 2, "s_line")
            first2 = delay(m, first, 2, "s_first")
            last2 = on2 & (g2 == G - 1)
            m.d.comb += [
                self.acc_en.eq(on2), self.acc_first.eq(g2 == 0),
                self.psum_raddr.eq(line2), self.psum_ren.eq(last2 & ~first2),
                self.psum_waddr.eq(delay(m, line2, 1, "s_line")),
                self.psum_we.eq(delay(m, last2, 1, "s_last")),
                self.psum_first.eq(delay(m, first2, 1, "s_first")),
            ]
        else:
            # One weight line per reduction word, read at entry 0; the read port holds it for G cycles.
            m.d.comb += [self.weight_raddr.eq(stream.wbase + sw.k), self.weight_ren.eq(ss.on & (ss.inner == 0))]
            # Stage 2: accumulate into register-file entry (half, g).
            act2 = Signal(rows)
            m.d.comb += act2.eq(delay(m, Cat(*actives), 2, "s_active"))
            first2 = delay(m, sw.k == 0, 2, "s_first")
            cols2 = delay(m, s_cols, 2, "s_cols")
            m.d.comb += [
                self.acc_row_en.eq(act2),
                self.acc_col_en.eq(delay(m, s_colmask, 2, "s_colmask")),
                self.acc_first.eq(first2),
                self.acc_sel.eq(delay(m, entry, 2, "acc_sel")),
            ]
            n_act2 = delay(m, n_active, 2, "n_active")
            # Drain: slot j = (entry, row) of the previous fold -> psum line pbase + p0 + j, two cycles later.
            dj = Signal(dim)
            with m.If(period_end | (self.start & ~busy)):
                m.d.sync += dj.eq(0)
            with m.Elif(ds.on):
                m.d.sync += dj.eq(dj + 1)
            d_cols, _, stmts = self._active_cols(drain, d)
            m.d.comb += stmts
            d_we = ds.on & (drain.p0 + dj < d.P)
            we2 = delay(m, d_we, 2, "drain_we")
            m.d.comb += [
                self.drain_row.eq(delay(m, ds.inner, 2, "drain_row")),
                self.drain_sel.eq(delay(m, _rf_index(drain.half, ds.outer, G), 2, "drain_sel")),
                self.psum_waddr.eq(delay(m, drain.pbase + drain.p0 + dj, 2, "drain_line")),
                self.psum_we.eq(we2),
            ]
            drain_reads = Mux(we2, delay(m, d_cols, 2, "drain_cols"), 0)
            m.d.comb += [
                self.ev_macs.eq(delay(m, n_chans, 2, "n_chans") * cols2),
                self.ev_rf_writes.eq(n_act2 * cols2),
                self.ev_rf_reads.eq(Mux(first2, 0, n_act2 * cols2) + drain_reads),
            ]
        return m


