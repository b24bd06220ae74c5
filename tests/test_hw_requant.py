"""hw.requant.Requant in amaranth.sim against model.quant.requantize.requantize (the only reference)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.requant import Requant
from model.contract import REQUANT_STAGES as STAGES
from model.quant.requantize import SHIFT_RANGE, requantize
from model.quant.rounding import ROUNDING_MODES

INT32 = (-(2**31), 2**31 - 1)


def _cases(rng, count):
    """Random cases plus the extremes of every field."""
    cases = []
    for _ in range(count):
        out_bits = int(rng.integers(2, 17))
        lo, hi = -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1
        v = int(rng.integers(*INT32, endpoint=True)) >> int(rng.integers(0, 31))  # many magnitudes
        bias = int(rng.integers(-(2**20), 2**20))
        acc = int(np.clip(v - bias, -(2**31), 2**31 - 1))
        cases.append(dict(acc=acc, bias=bias, multiplier=int(rng.integers(0, 2**31)),
                          shift=int(rng.integers(SHIFT_RANGE[0], SHIFT_RANGE[1] + 1)),
                          zero_point=int(rng.integers(lo, hi + 1)), out_bits=out_bits, relu=bool(rng.integers(2))))
    for acc, bias in ((INT32[0], 0), (INT32[1], 0), (0, INT32[0]), (0, INT32[1]), (-5, 5), (1, 0), (-1, 0),
                      (3, 0), (-3, 0), (2, 0), (-2, 0), (6, 0), (-6, 0)):
        for multiplier in (0, 2**30, 2**31 - 1):
            for shift in (SHIFT_RANGE[0], -30, -1, 0, 1, SHIFT_RANGE[1]):
                for out_bits, zero_point in ((2, -2), (2, 1), (8, -128), (8, 3), (16, 32767), (16, -32768)):
                    cases.append(dict(acc=acc, bias=bias, multiplier=multiplier, shift=shift,
                                      zero_point=zero_point, out_bits=out_bits, relu=shift % 2 == 0))
    # floors about +-2**18, where the hardware's floor saturates (a wrapped floor clamps the wrong way);
    # multiplier 2**30 is one half, so shift 0 gives floor(v / 2) and shift -10 floor(v * 2**9)
    for v in (2**19 - 2, 2**19 - 1, 2**19, 2**19 + 1, 511, 512, 513):
        for sign, shift in ((1, 0), (-1, 0), (1, -10), (-1, -10)):
            for out_bits, zero_point in ((16, -32768), (16, 32767)):
                cases.append(dict(acc=sign * v, bias=0, multiplier=2**30, shift=shift, zero_point=zero_point,
                                  out_bits=out_bits, relu=False))
    return cases


def _reference(c, rounding):
    return int(requantize(np.array([c["acc"]]), c["multiplier"], c["shift"], c["zero_point"], c["out_bits"],
                          c["relu"], bias=c["bias"], rounding=rounding)[0])


@pytest.mark.parametrize("rounding", ROUNDING_MODES)
def test_requant_unit_matches_the_model(rounding):
    cases = _cases(np.random.default_rng(ROUNDING_MODES.index(rounding)), 300)
    dut = Requant(32, rounding)
    got = []

    async def bench(ctx):
        # one case per cycle: the pipeline must keep STAGES cases in flight apart
        for i in range(len(cases) + STAGES - 1):
            if i < len(cases):
                c = cases[i]
                ctx.set(dut.acc, c["acc"])
                ctx.set(dut.bias, c["bias"])
                ctx.set(dut.multiplier, c["multiplier"])
                ctx.set(dut.total_shift, 31 + c["shift"])
                ctx.set(dut.zero_point, c["zero_point"])
                ctx.set(dut.out_bits, c["out_bits"])
                ctx.set(dut.relu, int(c["relu"]))
            ctx.set(dut.en, int(i < len(cases)))
            await ctx.tick()
            if i >= STAGES - 1:
                got.append(ctx.get(dut.out))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for c, value in zip(cases, got):
        assert value == _reference(c, rounding), f"{c}: rtl {value}, model {_reference(c, rounding)}"


def test_requant_unit_holds_its_output_without_en():
    dut = Requant(16)

    async def bench(ctx):
        for port, value in ((dut.acc, 100), (dut.multiplier, 2**30), (dut.total_shift, 31), (dut.out_bits, 8)):
            ctx.set(port, value)
        ctx.set(dut.en, 1)
        await ctx.tick()
        ctx.set(dut.en, 0)
        ctx.set(dut.acc, -7)
        for _ in range(STAGES - 1):
            await ctx.tick()
        for _ in range(3):  # the result arrives STAGES edges after en, then holds
            assert ctx.get(dut.out) == 50
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
