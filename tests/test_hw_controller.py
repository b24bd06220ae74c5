"""Controller address generation in amaranth.sim against a Python enumeration of the dataflow's loop nest.

The enumeration states the schedule independently of the RTL: fold f starts when
the previous period ends; within it, stream slot (outer, g) issues at cycle
``start_f + outer*G + g``; row i of the slot covers reduction word / pixel
``group*rows*G + g*rows + i``; a padded position or a lane past the end reads nothing. The
controller's ports carry each read ``ISSUE_LATENCY`` cycles after its slot (a register).
"""

import pytest
from amaranth.sim import Simulator

from hw.controller import Controller
from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.contract import ISSUE_LATENCY, pack_descriptor, reduction_words, whole_tile, words_per_pixel
from model.program import descriptor_fields


def _expected(config, layer):
    rows, G = config.rows, config.rf_sets
    span = rows * G
    cw_n, kw = words_per_pixel(config, layer), reduction_words(config, layer)
    E, F, H, W = layer.E, layer.F, layer.H, layer.W
    P = layer.N * E * F
    m_groups = -(-layer.M // config.cols)

    def address(p, k):
        n, e, f = p // (E * F), p // F % E, p % F
        cw, r, s = k // (layer.R * layer.S), k // layer.S % layer.R, k % layer.S
        h, w = e * layer.stride + r - layer.pad, f * layer.stride + s - layer.pad
        return ((n * cw_n + cw) * H + h) * W + w if 0 <= h < H and 0 <= w < W else None

    ifmap, weights = [], []
    t = span  # fold 0 is loaded (WS) / walked (OS) during the first span cycles
    if config.dataflow == "ws":
        k_folds = -(-kw // span)
        folds = [(mg, kg) for mg in range(m_groups) for kg in range(k_folds)]
        for j in range(span):
            if j < kw:
                weights.append((j, j))
        for index, (mg, kg) in enumerate(folds):
            for p in range(P):
                for g in range(G):
                    for i in range(rows):
                        k = kg * span + g * rows + i
                        if k < kw and address(p, k) is not None:
                            ifmap.append((t + p * G + g, i, address(p, k)))
            if index + 1 < len(folds):
                mg1, kg1 = folds[index + 1]
                for j in range(span):
                    if kg1 * span + j < kw:
                        weights.append((t + j, mg1 * kw + kg1 * span + j))
            t += G * max(P, rows if index + 1 < len(folds) else 0)
    else:
        p_folds = -(-P // span)
        folds = [(mg, pg) for mg in range(m_groups) for pg in range(p_folds)]
        for index, (mg, pg) in enumerate(folds):
            for k in range(kw):
                weights.append((t + k * G, mg * kw + k))
                for g in range(G):
                    for i in range(rows):
                        p = pg * span + g * rows + i
                        if p < P and address(p, k) is not None:
                            ifmap.append((t + k * G + g, i, address(p, k)))
            side = index + 1 < len(folds) or index >= 1
            t += G * max(kw, rows if side else 0)
    return ([(c + ISSUE_LATENCY, i, a) for c, i, a in ifmap], [(c + ISSUE_LATENCY, a) for c, a in weights])


def _simulate(config, layer):
    dut = Controller(config)
    desc = pack_descriptor(config, descriptor_fields(config, whole_tile(config, layer)))
    ifmap, weights = [], []

    async def bench(ctx):
        ctx.set(dut.desc.as_value(), desc)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        cycle = 0
        while ctx.get(dut.busy):
            for i in range(config.rows):
                if ctx.get(dut.ifmap_read[i].en):
                    ifmap.append((cycle, i, ctx.get(dut.ifmap_read[i].addr)))
            if ctx.get(dut.weight_read.en):
                weights.append((cycle, ctx.get(dut.weight_read.addr)))
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return ifmap, weights


LAYERS = [
    ConvLayer(N=2, C=3, H=5, W=4, M=5, R=3, S=2, stride=2, pad=1),
    ConvLayer(C=2, H=3, W=3, M=3, R=3, S=3, pad=2),
    ConvLayer(C=5, H=3, W=3, M=2, R=1, S=1),
]


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("rows, cols, rf_depth", [(2, 2, 2), (3, 2, 4), (1, 3, 2)])
@pytest.mark.parametrize("layer", LAYERS, ids=str)
def test_read_addresses_follow_the_loop_nest(dataflow, rows, cols, rf_depth, layer):
    config = AcceleratorConfig.preset("tiny", dataflow=dataflow, rows=rows, cols=cols, rf_depth=rf_depth)
    want_ifmap, want_weights = _expected(config, layer)
    got_ifmap, got_weights = _simulate(config, layer)
    assert got_weights == sorted(want_weights)
    assert got_ifmap == sorted(want_ifmap)
