"""The requantization stage: accumulator + bias, Q31 multiply, rounded right shift, zero point, clamp.

It mirrors :func:`model.quant.requantize.requantize` line for line::

    v   = acc + bias                                  (int32)                      stage 1
    p   = v * M                                       (exact)                      stages 2, 3
    y   = floor(p / 2**s) + step                      s = 31 + shift, step by the named rounding mode
    out = clamp(y + zero_point, floor_lo, hi)         floor_lo = max(lo, zero_point) with ReLU

where ``step`` is :func:`model.quant.rounding._step_up` of the floor, of
``rem > 2**(s-1)`` and of ``rem == 2**(s-1)`` (``rem = p mod 2**s``, no step
when ``s = 0``); the floor and the two comparisons are stage 4, the rest is
combinational from it. ``out_bits`` (2..16), ``zero_point`` and ``relu`` are
per layer, ``bias``, ``multiplier`` and ``total_shift`` per output channel.
Four register stages (:data:`model.contract.REQUANT_STAGES`) keep the 32-bit add, the two halves
of the 32x31 multiply, their add and the 64-bit shift out of each other's path (one stage of all
limited an iCE40 to 7.5 MHz; the whole product in one stage, the ECP5 8x8 to 46 MHz).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.delay import delay
from hw.select import select
from model.contract import (
    REQUANT_FIELDS, REQUANT_OUT_BITS, REQUANT_OUT_BITS_BITS, REQUANT_STAGES, REQUANT_ZERO_POINT_BITS, Rounding,
)

__all__ = ["Requant"]

_WIDTH = dict(REQUANT_FIELDS)
BIAS_BITS, MULTIPLIER_BITS, SHIFT_BITS = _WIDTH["bias"], _WIDTH["multiplier"], _WIDTH["total_shift"]


#: Width the floor is saturated to: any floor beyond it clamps the output (16 bits at most, after a
#: zero point of 16 bits and a step of 1) exactly as the unsaturated one would, and the last add is short.
_FLOOR_BITS = 19


def _saturated_floor(m, p, s, bits):
    """``floor(p / 2**s)`` clamped to the signed ``bits``-bit range.

    Only the low ``bits`` of the shift are built; whether the floor fits is read from ``p`` itself,
    in parallel with the shift: it does iff every bit of ``p`` from ``bits - 1 + s`` up equals the
    sign (a mask looked up by ``s``, an XOR and an OR tree). The shifted upper bits and their test,
    in series after the 64-bit barrel shifter, were the UP5K's longest path. The result keeps the
    parity that ``half_even`` rounding reads whenever it is not clamped.
    """
    width = p.shape().width
    sign = p[-1]
    ones = (1 << width) - 1
    upper = select([Const(ones & ~((1 << min(bits - 1 + k, width)) - 1), width) for k in range(1 << len(s))], s)
    clamps = Signal(name="floor_clamps")
    m.d.comb += clamps.eq(((p ^ Mux(sign, -1, 0)) & upper).any())
    low = Signal(signed(bits), name="floor_low")
    m.d.comb += low.eq((p >> s)[:bits])
    top, bottom = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
    return Mux(clamps, Mux(sign, bottom, top), low)


class Requant(wiring.Component):
    """One requantization lane: :data:`model.contract.REQUANT_STAGES` registers, each loaded when its input is valid.

    Parameters
    ----------
    acc_bits : int
        Width of the signed accumulator input.
    rounding : Rounding
        Named rounding mode (:class:`model.contract.Rounding`, defined in :mod:`model.quant.rounding`).

    Ports
    -----
    en : In(1)
        The operands are valid this cycle: they enter the pipeline at this clock edge, and
        ``out`` shows their result ``REQUANT_STAGES`` edges later, held until the next result.
    acc : In(signed(acc_bits)); bias : In(signed(32)); multiplier : In(31); total_shift : In(6)
    zero_point : In(signed(16)); out_bits : In(5); relu : In(1)
    out : Out(signed(16))
        The requantized value (combinational from the last register).
    """

    def __init__(self, acc_bits: int, rounding: Rounding = Rounding.HALF_EVEN):
        if rounding not in tuple(Rounding):
            raise ValueError(f"rounding must be one of {', '.join(r.value for r in Rounding)}, not {rounding!r}")
        self._rounding = Rounding(rounding)
        super().__init__({
            "en": In(1),
            "acc": In(signed(acc_bits)),
            "bias": In(signed(BIAS_BITS)),
            "multiplier": In(unsigned(MULTIPLIER_BITS)),
            "total_shift": In(unsigned(SHIFT_BITS)),
            "zero_point": In(signed(REQUANT_ZERO_POINT_BITS)),
            "out_bits": In(unsigned(REQUANT_OUT_BITS_BITS)),
            "relu": In(1),
            "out": Out(signed(REQUANT_OUT_BITS)),
        })

    def elaborate(self, platform):
        m = Module()
        valid = [self.en]  # valid[k]: stage k's input is valid
        for k in range(1, REQUANT_STAGES):
            valid.append(delay(m, valid[-1], 1, f"valid{k}"))

        def stage(k, names_values):
            """Registers loaded when stage ``k``'s input is valid."""
            regs = []
            for name, value, shape in names_values:
                reg = Signal(shape, name=f"{name}_s{k + 1}")
                with m.If(valid[k]):
                    m.d.sync += reg.eq(value)
                regs.append(reg)
            return regs

        # the output range of the layer: [bottom, hi], bottom = max(lo, zero_point) with ReLU
        hi = Signal(signed(17))
        lo = Signal(signed(17))
        m.d.comb += [hi.eq((Const(1, 17) << (self.out_bits - 1)[:REQUANT_OUT_BITS_BITS]) - 1), lo.eq(-hi - 1)]
        bottom = Mux(self.relu & (self.zero_point > lo), self.zero_point, lo)
        layer = ((self.zero_point, signed(REQUANT_ZERO_POINT_BITS)), (hi, signed(17)), (bottom, signed(17)))
        # stage 1: v = acc + bias (in the int32 range: the model checks it)
        v, M, s, *lay = stage(0, [("v", self.acc + self.bias, signed(BIAS_BITS)),
                                  ("multiplier", self.multiplier, unsigned(MULTIPLIER_BITS)),
                                  ("shift", self.total_shift, unsigned(SHIFT_BITS)),
                                  *((f"layer{i}", x, shape) for i, (x, shape) in enumerate(layer))])
        # stage 2: the product in two halves of the multiplier, each a DSP block or two, registered
        low = MULTIPLIER_BITS // 2
        p_low, p_high, s, *lay = stage(1, [
            ("p_low", v * M[:low], signed(BIAS_BITS + low + 1)),
            ("p_high", v * M[low:], signed(BIAS_BITS + MULTIPLIER_BITS - low + 1)), ("shift", s, s.shape()),
            *((f"layer{i}", x, x.shape()) for i, x in enumerate(lay))])
        # stage 3: the exact product p = v * M (one add of the halves), and the remainder's bits the
        # rounding reads, from the shift alone: half = 2**(s-1), below = 2**(s-1) - 1 (both 0 when
        # s = 0), looked up in constant tables (each bit a function of the shift's bits, a LUT or two
        # and no carry chain: the `half - 1` decrement was the UP5K's longest path)
        half = select([Const((1 << k) >> 1, 63) for k in range(64)], s)
        below = select([Const(((1 << k) >> 1) - (k > 0), 63) for k in range(64)], s)
        p, s, half, below, *lay = stage(2, [
            ("p", (p_high << low) + p_low, signed(BIAS_BITS + MULTIPLIER_BITS + 1)), ("shift", s, s.shape()),
            ("half", half, unsigned(63)), ("below", below, unsigned(63)),
            *((f"layer{i}", x, x.shape()) for i, x in enumerate(lay))])
        # stage 4: floor and the rounding comparisons on the remainder rem = p mod 2**s: rem > half when
        # its bit s-1 and a lower bit are set, rem == half when only that bit is (an AND and an OR tree,
        # no comparator: the 64-bit compare after the variable mask was the iCE40's longest path)
        top_bit, lower = (p & half).any(), (p & below).any()
        floor, above, at, zp, hi, bottom = stage(3, [
            ("floor", _saturated_floor(m, p, s, _FLOOR_BITS), signed(_FLOOR_BITS)),
            ("above", top_bit & lower, 1), ("at", top_bit & ~lower, 1),
            *((f"layer{i}", x, x.shape()) for i, x in enumerate(lay))])

        step = {
            Rounding.FLOOR: 0,
            Rounding.HALF_EVEN: above | (at & floor[0]),
            Rounding.HALF_AWAY: above | (at & (floor >= 0)),
            Rounding.HALF_UP: above | at,
        }[self._rounding]
        y = Signal(signed(floor.shape().width + 2))
        m.d.comb += y.eq(floor + step + zp)
        m.d.comb += self.out.eq(Mux(y < bottom, bottom, Mux(y > hi, hi, y)))
        return m
