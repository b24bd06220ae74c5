"""The requantization stage: accumulator + bias, Q31 multiply, rounded right shift, zero point, clamp.

It mirrors :func:`model.quant.requantize.requantize` line for line::

    v   = acc + bias                                  (int32)
    p   = v * M                                       (exact, registered: the one pipeline stage)
    y   = floor(p / 2**s) + step                      s = 31 + shift, step by the named rounding mode
    out = clamp(y + zero_point, floor_lo, hi)         floor_lo = max(lo, zero_point) with ReLU

where ``step`` is :func:`model.quant.rounding._step_up` of the floor, of
``rem > 2**(s-1)`` and of ``rem == 2**(s-1)`` (``rem = p - floor*2**s``, no
step when ``s = 0``). ``out_bits`` (2..16), ``zero_point`` and ``relu`` are
per layer, ``bias``, ``multiplier`` and ``total_shift`` per output channel.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.quant.rounding import DEFAULT_ROUNDING, ROUNDING_MODES
from model.validate import check_choice

__all__ = ["Requant", "BIAS_BITS", "MULTIPLIER_BITS", "SHIFT_BITS", "ZERO_POINT_BITS", "OUT_BITS_BITS"]

BIAS_BITS = 32        #: int32 bias
MULTIPLIER_BITS = 31  #: Q31 multiplier, 0..2**31-1
SHIFT_BITS = 6        #: total shift 31 + shift, 0..62
ZERO_POINT_BITS = 16  #: output zero point, signed
OUT_BITS_BITS = 5     #: output width 2..16


class Requant(wiring.Component):
    """One requantization lane with a single pipeline register (``en`` loads it).

    Parameters
    ----------
    acc_bits : int
        Width of the signed accumulator input.
    rounding : str
        Named rounding mode of :mod:`model.quant.rounding`.

    Ports
    -----
    en : In(1)
        Register ``acc`` and the parameters at this clock edge; ``out`` follows on the next cycle.
    acc : In(signed(acc_bits)); bias : In(signed(32)); multiplier : In(31); total_shift : In(6)
    zero_point : In(signed(16)); out_bits : In(5); relu : In(1)
    out : Out(signed(16))
        The requantized value of the registered operands (combinational from the register).
    """

    def __init__(self, acc_bits: int, rounding: str = DEFAULT_ROUNDING):
        check_choice("rounding", rounding, ROUNDING_MODES)
        self._rounding = rounding
        super().__init__({
            "en": In(1),
            "acc": In(signed(acc_bits)),
            "bias": In(signed(BIAS_BITS)),
            "multiplier": In(unsigned(MULTIPLIER_BITS)),
            "total_shift": In(unsigned(SHIFT_BITS)),
            "zero_point": In(signed(ZERO_POINT_BITS)),
            "out_bits": In(unsigned(OUT_BITS_BITS)),
            "relu": In(1),
            "out": Out(signed(16)),
        })

    def elaborate(self, platform):
        m = Module()
        v = Signal(signed(BIAS_BITS))  # acc + bias lies in the int32 range (the model checks it)
        m.d.comb += v.eq(self.acc + self.bias)
        p = Signal(signed(BIAS_BITS + MULTIPLIER_BITS + 1))
        s = Signal(unsigned(SHIFT_BITS))
        zp = Signal(signed(ZERO_POINT_BITS))
        ob = Signal(unsigned(OUT_BITS_BITS))
        relu = Signal()
        with m.If(self.en):
            m.d.sync += [p.eq(v * self.multiplier),
                         s.eq(self.total_shift), zp.eq(self.zero_point), ob.eq(self.out_bits), relu.eq(self.relu)]

        floor = Signal.like(p)
        rem = Signal(unsigned(63))
        half = Signal(unsigned(63))
        m.d.comb += [
            floor.eq(p >> s),
            rem.eq(p - (floor << s)),
            half.eq((Const(1, 64) << s) >> 1),
        ]
        nonzero = s != 0
        above, at = nonzero & (rem > half), nonzero & (rem == half)
        if self._rounding == "floor":
            step = 0
        elif self._rounding == "half_even":
            step = above | (at & floor[0])
        elif self._rounding == "half_away":
            step = above | (at & (floor >= 0))
        else:  # half_up
            step = above | at
        y = Signal(signed(p.shape().width + 2))
        m.d.comb += y.eq(floor + step + zp)
        lo = Signal(signed(17))
        hi = Signal(signed(17))
        m.d.comb += [hi.eq((Const(1, 17) << (ob - 1)[:OUT_BITS_BITS]) - 1), lo.eq(-hi - 1)]
        bottom = Signal(signed(17))
        m.d.comb += bottom.eq(Mux(relu & (zp > lo), zp, lo))
        m.d.comb += self.out.eq(Mux(y < bottom, bottom, Mux(y > hi, hi, y)))
        return m
