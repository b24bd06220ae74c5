"""Processing element: one product per cycle (a multiply, or XNOR-popcount over packed channels) and a register file."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.select import select

__all__ = ["ProcessingElement", "product_width", "WEIGHT_STATIONARY", "OUTPUT_STATIONARY"]

WEIGHT_STATIONARY, OUTPUT_STATIONARY = "ws", "os"


def product_width(word_bits: int, binary: bool) -> int:
    """Signed width of one PE product: ``2*bits`` (multi-bit), or enough for ``[-pack, pack]`` (binary)."""
    return word_bits.bit_length() + 1 if binary else 2 * word_bits


def _popcount(value):
    total = value[0]
    for i in range(1, len(value)):
        total = total + value[i]
    return total


class ProcessingElement(wiring.Component):
    """One PE: a product unit, a product register and a ``rf_depth``-entry register file.

    The product of the operand word ``a`` and a weight word is, multi-bit,
    ``a*w`` of two signed ``word_bits`` values (0 when ``mask`` is 0: padding or
    an unused lane) and, binary, ``2*popcount(~(a^w) & mask) - popcount(mask)``
    (``mask`` = the real channels of the word; 0 for padding).

    Parameters
    ----------
    word_bits : int
        Operand word width (``bits``, or ``pack`` when binary).
    binary : bool
        XNOR-popcount instead of a signed multiply.
    acc_bits : int
        Accumulator width (output-stationary register-file entries).
    rf_depth : int
        Register-file entries; the controller uses one half per fold.
    stationary : {"ws", "os"}
        What the register file holds: weights (``"ws"``) or partial sums (``"os"``).

    Ports (all dataflows)
    ---------------------
    a : In(word_bits)
        Operand word (ifmap).
    mask : In(word_bits if binary else 1)
        Operand mask.
    product : Out(signed(product_width))
        Registered product: latency 1 cycle from ``a``/``mask``/weight.

    Ports (``"ws"``: weights in the register file)
    ----------------------------------------------
    rf_sel : In(range(rf_depth))
        Entry holding this cycle's weight (read combinationally).
    load_en, load_sel, load_data : In(1), In(range(rf_depth)), In(word_bits)
        Write ``load_data`` into entry ``load_sel`` at the end of the cycle.

    Ports (``"os"``: partial sums in the register file)
    ---------------------------------------------------
    w : In(word_bits)
        Weight word (broadcast along the column).
    acc_en, acc_first, acc_sel : In(1), In(1), In(range(rf_depth))
        Add ``product`` to entry ``acc_sel`` (``acc_first``: start from 0) at the end of the cycle.
    drain_sel : In(range(rf_depth))
    drain_data : Out(signed(acc_bits))
        Entry ``drain_sel``, combinationally.
    """

    def __init__(self, word_bits: int, binary: bool, acc_bits: int, rf_depth: int, stationary: str):
        if stationary not in (WEIGHT_STATIONARY, OUTPUT_STATIONARY):
            raise ValueError(f"stationary must be 'ws' or 'os', not {stationary!r}")
        self._word_bits, self._binary, self._acc_bits = word_bits, binary, acc_bits
        self._rf_depth, self._stationary = rf_depth, stationary
        members = {
            "a": In(word_bits),
            "mask": In(word_bits if binary else 1),
            "product": Out(signed(product_width(word_bits, binary))),
        }
        if stationary == WEIGHT_STATIONARY:
            members |= {
                "rf_sel": In(range(rf_depth)),
                "load_en": In(1),
                "load_sel": In(range(rf_depth)),
                "load_data": In(word_bits),
            }
        else:
            members |= {
                "w": In(word_bits),
                "acc_en": In(1),
                "acc_first": In(1),
                "acc_sel": In(range(rf_depth)),
                "drain_sel": In(range(rf_depth)),
                "drain_data": Out(signed(acc_bits)),
            }
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        pw = product_width(self._word_bits, self._binary)
        if self._stationary == WEIGHT_STATIONARY:
            rf = Array(Signal(self._word_bits, name=f"rf{i}") for i in range(self._rf_depth))
            # Register-file reads are mux trees, not Array reads (an `always @*` that Icarus may never
            # run while the entries keep their reset value: see hw/select.py).
            w = select(rf, self.rf_sel)
            with m.If(self.load_en):
                m.d.sync += rf[self.load_sel].eq(self.load_data)
        else:
            rf = Array(Signal(signed(self._acc_bits), name=f"rf{i}") for i in range(self._rf_depth))
            w = self.w
            # Register-file reads are mux trees, not Array reads: Icarus never ran the `always @*` of
            # `rf[acc_sel]` while an entry accumulated 0 + 0 with the select unchanged, so the entry
            # read back X (see hw/select.py). The write stays an Array (a sync process reading rst).
            m.d.comb += self.drain_data.eq(select(rf, self.drain_sel))
            with m.If(self.acc_en):
                m.d.sync += rf[self.acc_sel].eq(Mux(self.acc_first, 0, select(rf, self.acc_sel)) + self.product)

        value = Signal(signed(pw))
        if self._binary:
            agree = Signal(range(self._word_bits + 1))
            count = Signal(range(self._word_bits + 1))
            m.d.comb += [
                agree.eq(_popcount(~(self.a ^ w) & self.mask)),
                count.eq(_popcount(self.mask)),
                value.eq(2 * agree - count),
            ]
        else:
            operand = Mux(self.mask, self.a, 0)
            m.d.comb += value.eq(operand.as_signed() * w.as_signed())
        m.d.sync += self.product.eq(value)
        return m
