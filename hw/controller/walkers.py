"""Incremental address walkers (additions only, no multipliers) over output pixels and reduction words."""

from __future__ import annotations

from amaranth.hdl import Signal, signed

__all__ = ["coord_shape", "PixelWalker", "WordWalker"]


def coord_shape(dim: int):
    """Signed pixel coordinates (``-pad <= h0 + r < H + pad``, each term below ``2**dim``).

    Addresses built from them (``nbase + h0*W + w0 + offset``) are only used modulo the
    buffer depth, so a wrapped intermediate sum still gives the right address.
    """
    return signed(dim + 2)


class PixelWalker:
    """Output pixel ``p = (n*E + e)*F + f`` -> window origin ``(h0, w0)`` and base address
    ``nbase + h0*W + w0``, stepped one pixel at a time; pixel 0's window starts at the tile's
    origin ``(-pad_top, -pad_left)``, image 0 at the descriptor's ``ibase`` (at a restart, at the fold
    context's: a depthwise pass's filter groups read their own inputs).

    Parameters
    ----------
    name : str
        Prefix of its registers in the Verilog.
    dim : int
        Width of the descriptor's dimension fields.
    image_weights : bool
        Also keep ``wimg = n*Kw``, the first weight line of image ``n``'s filter group (an
        output-stationary depthwise pass runs its channel groups as images).
    """

    def __init__(self, name: str, dim: int, image_weights: bool = False):
        self._image_weights = image_weights
        self.wimg = Signal(dim, name=f"{name}_wimg") if image_weights else None
        self.p = Signal(dim, name=f"{name}_p")
        self.e = Signal(dim, name=f"{name}_e")
        self.f = Signal(dim, name=f"{name}_f")
        self.h0 = Signal(coord_shape(dim), name=f"{name}_h0")
        self.w0 = Signal(coord_shape(dim), name=f"{name}_w0")
        self.hw = Signal(coord_shape(dim), name=f"{name}_hw")
        self.nbase = Signal(coord_shape(dim), name=f"{name}_nbase")
        self.base = self.nbase + self.hw + self.w0
        # the window origin negated, latched at start: no negation in front of the walker's registers
        self.top = Signal(coord_shape(dim), name=f"{name}_top")
        self.left = Signal(coord_shape(dim), name=f"{name}_left")
        self.topw = Signal(coord_shape(dim), name=f"{name}_topw")
        # the last column and row, latched at start: no subtractor in front of the wrap comparisons
        self.f_last = Signal(dim, name=f"{name}_f_last")
        self.e_last = Signal(dim, name=f"{name}_e_last")

    def latch(self, d):
        """Statements (at a pass's start, with descriptor ``d``) that keep its negated origin and last pixel."""
        return [self.top.eq(-d.pad_top), self.left.eq(-d.pad_left), self.topw.eq(-d.pad_topW),
                self.f_last.eq(d.F - 1), self.e_last.eq(d.E - 1)]

    def reset(self, d):
        """Statements that put the walker on pixel 0 of descriptor ``d`` (at a pass's start)."""
        return [self.p.eq(0), self.e.eq(0), self.f.eq(0), self.h0.eq(-d.pad_top), self.w0.eq(-d.pad_left),
                self.hw.eq(-d.pad_topW), self.nbase.eq(d.ibase), *self._wimg_zero()]

    def _wimg_zero(self):
        return [self.wimg.eq(0)] if self._image_weights else []

    def restart(self, d, ibase):
        """Statements that put the walker back on pixel 0 of the running pass (``d`` its latched descriptor),
        image 0 at ``ibase``."""
        return [self.p.eq(0), self.e.eq(0), self.f.eq(0), self.h0.eq(self.top), self.w0.eq(self.left),
                self.hw.eq(self.topw), self.nbase.eq(ibase), *self._wimg_zero()]

    def step(self, m, d):
        """Add to ``m`` the move to the next pixel (in the current control block)."""
        m.d.sync += self.p.eq(self.p + 1)
        with m.If(self.f == self.f_last):
            m.d.sync += [self.f.eq(0), self.w0.eq(self.left)]
            with m.If(self.e == self.e_last):
                m.d.sync += [self.e.eq(0), self.h0.eq(self.top), self.hw.eq(self.topw),
                             self.nbase.eq(self.nbase + d.CwHW)]
                if self._image_weights:
                    m.d.sync += self.wimg.eq(self.wimg + d.Kw)
            with m.Else():
                m.d.sync += [self.e.eq(self.e + 1), self.h0.eq(self.h0 + d.stride),
                             self.hw.eq(self.hw + d.strideW)]
        with m.Else():
            m.d.sync += [self.f.eq(self.f + 1), self.w0.eq(self.w0 + d.stride)]


class WordWalker:
    """Reduction word ``k = (cw*R + r)*S + s`` -> address offset ``cw*H*W + r*W + s``, one word at a time.

    Parameters
    ----------
    name : str
        Prefix of its registers in the Verilog.
    dim : int
        Width of the descriptor's dimension fields.
    """

    def __init__(self, name: str, dim: int):
        self.k = Signal(dim, name=f"{name}_k")
        self.cw = Signal(dim, name=f"{name}_cw")
        self.r = Signal(dim, name=f"{name}_r")
        self.s = Signal(dim, name=f"{name}_s")
        self.cw_off = Signal(dim, name=f"{name}_cw_off")
        self.r_off = Signal(dim, name=f"{name}_r_off")  # only used modulo the ifmap depth
        self.offset = self.cw_off + self.r_off + self.s
        # the last kernel column, row and channel word, latched at start: no subtractor in front of
        # the wrap comparisons (``last_word``: the word's channel mask is the descriptor's last one)
        self.s_last = Signal(dim, name=f"{name}_s_last")
        self.r_last = Signal(dim, name=f"{name}_r_last")
        self.cw_last = Signal(dim, name=f"{name}_cw_last")
        self.last_word = self.cw == self.cw_last

    def latch(self, d):
        """Statements (at a pass's start, with descriptor ``d``) that keep its last kernel column, row and word."""
        return [self.s_last.eq(d.S - 1), self.r_last.eq(d.R - 1), self.cw_last.eq(d.Cw - 1)]

    def reset(self, d):
        """Statements that put the walker on word 0."""
        return [self.k.eq(0), self.cw.eq(0), self.r.eq(0), self.s.eq(0), self.cw_off.eq(0), self.r_off.eq(0)]

    def restart(self, d, ibase):
        """The same as :meth:`reset` (``ibase``: the :class:`PixelWalker` interface)."""
        return self.reset(d)

    def step(self, m, d):
        """Add to ``m`` the move to the next reduction word (in the current control block)."""
        m.d.sync += self.k.eq(self.k + 1)
        with m.If(self.s == self.s_last):
            m.d.sync += self.s.eq(0)
            with m.If(self.r == self.r_last):
                m.d.sync += [self.r.eq(0), self.r_off.eq(0), self.cw.eq(self.cw + 1),
                             self.cw_off.eq(self.cw_off + d.HW)]
            with m.Else():
                m.d.sync += [self.r.eq(self.r + 1), self.r_off.eq(self.r_off + d.W)]
        with m.Else():
            m.d.sync += self.s.eq(self.s + 1)
