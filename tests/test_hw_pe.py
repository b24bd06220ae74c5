"""Processing element in amaranth.sim against independent arithmetic: products, binary masks, register-file halves."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.pe import ProcessingElement
from model.config import Dataflow
from model.contract import PRODUCT_LATENCY


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


async def _product_latency(ctx):
    """Hold the operands for the PE's product latency (operand register, product register)."""
    for _ in range(PRODUCT_LATENCY):
        await ctx.tick()


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_ws_multibit_products_at_the_extremes(bits):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    values = [lo, lo + 1, -1, 0, 1, hi]
    pairs = [(a, w) for a in values for w in values]
    dut = ProcessingElement(Dataflow.WS, bits, False, 2 * bits, 2 * bits + 4, 4)
    got = []

    async def bench(ctx):
        for a, w in pairs:
            ctx.set(dut.ctrl.load_en, 1)
            ctx.set(dut.ctrl.load_sel, 3)
            ctx.set(dut.weight, w & ((1 << bits) - 1))
            await ctx.tick()
            ctx.set(dut.ctrl.load_en, 0)
            for mask in (1, 0):
                ctx.set(dut.ctrl.rf_sel, 3)
                ctx.set(dut.a, a & ((1 << bits) - 1))
                ctx.set(dut.ctrl.mask, mask)
                await _product_latency(ctx)
                got.append(ctx.get(dut.product))

    _run(dut, bench)
    want = [v for a, w in pairs for v in (a * w, 0)]
    assert got == want


def test_ws_register_file_halves_load_while_computing():
    """Entries 0..1 (one half) keep serving products while entries 2..3 are loaded."""
    dut = ProcessingElement(Dataflow.WS, 8, False, 16, 24, 4)
    got = []

    async def bench(ctx):
        for sel, w in ((0, 3), (1, -5)):
            ctx.set(dut.ctrl.load_en, 1)
            ctx.set(dut.ctrl.load_sel, sel)
            ctx.set(dut.weight, w & 0xFF)
            await ctx.tick()
        ctx.set(dut.a, 7)
        ctx.set(dut.ctrl.mask, 1)
        for step, (sel, w) in enumerate(((2, 11), (3, -13))):
            ctx.set(dut.ctrl.rf_sel, step)
            ctx.set(dut.ctrl.load_sel, sel)
            ctx.set(dut.weight, w & 0xFF)
            await ctx.tick()
            got.append(ctx.get(dut.product))
        ctx.set(dut.ctrl.load_en, 0)
        for sel in (2, 3, 0):
            ctx.set(dut.ctrl.rf_sel, sel)
            await ctx.tick()
            got.append(ctx.get(dut.product))
        for _ in range(PRODUCT_LATENCY - 1):  # the pipeline's last products
            await ctx.tick()
            got.append(ctx.get(dut.product))

    _run(dut, bench)
    # one product per cycle, PRODUCT_LATENCY cycles after its operands: first the products of the
    # loading cycles (mask 0, so 0), then those of the five streaming cycles
    assert got == [0] * (PRODUCT_LATENCY - 1) + [21, -35, 77, -91, 21]


@pytest.mark.parametrize("pack", [1, 5, 8, 64])
def test_binary_xnor_popcount_with_masks(pack):
    rng = np.random.default_rng(pack)
    cases = [(int(a), int(w), int(mask)) for a, w, mask in rng.integers(0, 2**pack, size=(20, 3), dtype=np.uint64)]
    cases += [(0, 0, 0), (2**pack - 1, 0, 2**pack - 1), (5 % 2**pack, 5 % 2**pack, 2**pack - 1)]
    dut = ProcessingElement(Dataflow.WS, pack, True, pack.bit_length() + 1, 16, 2)
    got = []

    async def bench(ctx):
        for a, w, mask in cases:
            ctx.set(dut.ctrl.load_en, 1)
            ctx.set(dut.ctrl.load_sel, 1)
            ctx.set(dut.weight, w)
            await ctx.tick()
            ctx.set(dut.ctrl.load_en, 0)
            ctx.set(dut.ctrl.rf_sel, 1)
            ctx.set(dut.a, a)
            ctx.set(dut.ctrl.mask, mask)
            await _product_latency(ctx)
            got.append(ctx.get(dut.product))

    _run(dut, bench)

    def pm1(word, c):  # +1 for a set bit, -1 for a clear one
        return 1 if (word >> c) & 1 else -1

    want = [sum(pm1(a, c) * pm1(w, c) for c in range(pack) if (mask >> c) & 1) for a, w, mask in cases]
    assert got == want


def test_os_accumulates_in_one_half_while_the_other_drains():
    bits, acc_bits = 8, 20
    dut = ProcessingElement(Dataflow.OS, bits, False, 2 * bits, acc_bits, 4)
    seq = [(-128, -128), (127, -128), (-3, 9), (-100, 100)]
    got = []

    async def bench(ctx):
        async def mac(a, w, sel, first):
            ctx.set(dut.a, a & 0xFF)
            ctx.set(dut.weight, w & 0xFF)
            ctx.set(dut.ctrl.mask, 1)
            ctx.set(dut.ctrl.acc_en, 0)
            await _product_latency(ctx)
            ctx.set(dut.ctrl.acc_en, 1)
            ctx.set(dut.ctrl.acc_sel, sel)
            ctx.set(dut.ctrl.acc_first, first)
            await ctx.tick()
            ctx.set(dut.ctrl.acc_en, 0)

        for step, (a, w) in enumerate(seq):  # entry 1 of half 0
            await mac(a, w, 1, step == 0)
        for step, (a, w) in enumerate(seq[:2]):  # entry 3 of half 1, while entry 1 is drained
            ctx.set(dut.ctrl.drain_sel, 1)
            got.append(ctx.get(dut.drain))
            await mac(a, w, 3, step == 0)
        ctx.set(dut.ctrl.drain_sel, 3)
        got.append(ctx.get(dut.drain))
        ctx.set(dut.ctrl.drain_sel, 1)
        got.append(ctx.get(dut.drain))

    _run(dut, bench)
    full = sum(a * w for a, w in seq)
    assert full < 0
    assert got == [full, full, 16384 - 16256, full]
