"""Processing element: one product per cycle (a multiply, or XNOR-popcount over packed channels) and a register file."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.select import select
from hw.sums import tree_sum
from hw.signatures import PEControlSignature
from model.config import Dataflow

__all__ = ["ProcessingElement", "popcount"]


def popcount(value):
    """The number of 1 bits of ``value``, as a balanced adder tree."""
    return tree_sum(value[i] for i in range(len(value)))


class ProcessingElement(wiring.Component):
    """One PE: operand registers, a product unit, a product register and a ``rf_depth``-entry register file.

    The product of the operand word ``a`` and a weight word is, multi-bit,
    ``a*w`` of two signed ``word_bits`` values (0 when ``mask`` is 0: padding or
    an unused lane) and, binary, ``2*popcount(~(a^w) & mask) - popcount(mask)``
    (``mask`` = the real channels of the word; 0 for padding).

    The operands (``a``, the weight word — WS: the register-file entry read — and ``mask``) are
    registered before the product unit, as a DSP block's input register: the buffer read and the
    row's broadcast end in a register near the PE, and the multiply starts from one.

    Parameters
    ----------
    dataflow : Dataflow
        What the register file holds: weights (WS) or partial sums (OS).
    word_bits : int
        Operand word width (``bits``, or ``pack`` when binary).
    binary : bool
        XNOR-popcount instead of a signed multiply.
    product_bits : int
        Signed width of a product (:func:`model.contract.product_bits`).
    acc_bits : int
        Accumulator width (output-stationary register-file entries).
    rf_depth : int
        Register-file entries; the controller uses one half per fold.

    Ports
    -----
    ctrl : In(PEControlSignature)
        The register-file and operand control (see the signature).
    a : In(word_bits)
        Operand word (ifmap), broadcast along the row.
    weight : In(word_bits)
        WS: the weight word loaded when ``ctrl.load_en``; OS: the weight multiplied this cycle.
    product : Out(signed(product_bits))
        Registered product: latency :data:`model.contract.PRODUCT_LATENCY` (operand register,
        product register) from the operands.
    drain : Out(signed(acc_bits))
        OS: register-file entry ``ctrl.drain_sel``, combinationally (absent for WS).
    """

    def __init__(self, dataflow: Dataflow, word_bits: int, binary: bool, product_bits: int, acc_bits: int,
                 rf_depth: int):
        self._dataflow, self._word_bits, self._binary = Dataflow(dataflow), word_bits, binary
        self._product_bits, self._acc_bits, self._rf_depth = product_bits, acc_bits, rf_depth
        members = {
            "ctrl": In(PEControlSignature(self._dataflow, rf_depth, word_bits if binary else 1)),
            "a": In(word_bits),
            "weight": In(word_bits),
            "product": Out(signed(product_bits)),
        }
        if self._dataflow is Dataflow.OS:
            members["drain"] = Out(signed(acc_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        ctrl = self.ctrl
        if self._dataflow is Dataflow.WS:
            rf = Array(Signal(self._word_bits, name=f"rf{i}") for i in range(self._rf_depth))
            # Register-file reads are mux trees, not Array reads (an `always @*` that Icarus may never
            # run while the entries keep their reset value: see hw/select.py).
            w = select(rf, ctrl.rf_sel)
            with m.If(ctrl.load_en):
                m.d.sync += rf[ctrl.load_sel].eq(self.weight)
        else:
            rf = Array(Signal(signed(self._acc_bits), name=f"rf{i}") for i in range(self._rf_depth))
            w = self.weight
            # Register-file reads are mux trees, not Array reads: Icarus never ran the `always @*` of
            # `rf[acc_sel]` while an entry accumulated 0 + 0 with the select unchanged, so the entry
            # read back X (see hw/select.py). The write stays an Array (a sync process reading rst).
            m.d.comb += self.drain.eq(select(rf, ctrl.drain_sel))
            with m.If(ctrl.acc_en):
                m.d.sync += rf[ctrl.acc_sel].eq(Mux(ctrl.acc_first, 0, select(rf, ctrl.acc_sel)) + self.product)

        # pipeline registers without reset, nothing between them and the multiplier, so a tool may pack
        # them as a DSP block's input registers (Yosys keeps them in fabric on the UP5K, docs/fpga.md)
        a = Signal(self._word_bits, name="a_reg", reset_less=True)
        w_reg = Signal(self._word_bits, name="w_reg", reset_less=True)
        value = Signal(signed(self._product_bits))
        if self._binary:
            mask = Signal.like(ctrl.mask, name="mask_reg", reset_less=True)
            m.d.sync += [a.eq(self.a), w_reg.eq(w), mask.eq(ctrl.mask)]
            agree = Signal(range(self._word_bits + 1))
            count = Signal(range(self._word_bits + 1))
            m.d.comb += [
                agree.eq(popcount(~(a ^ w_reg) & mask)),
                count.eq(popcount(mask)),
                value.eq(2 * agree - count),
            ]
        else:
            m.d.sync += [a.eq(Mux(ctrl.mask, self.a, 0)), w_reg.eq(w)]
            m.d.comb += value.eq(a.as_signed() * w_reg.as_signed())
        m.d.sync += self.product.eq(value)
        return m
