"""model.tiling: pass plans, against a brute-force enumeration and a numpy execution of the tiles."""

import itertools

import numpy as np
import pytest

from model.config import AcceleratorConfig, Dataflow
from model.contract import PIPELINE_TAIL
from model.conv import conv2d_int
from model.dram import DramConfig
from model.layer import NAMED_LAYERS, ConvLayer
from model.tiling import Objective, Order, plan, plan_words

TINY = AcceleratorConfig.preset("tiny")  # ifmap 1024 words, weights 128 lines, psum 512 lines, 2x2
SMALL = AcceleratorConfig(rows=2, cols=2, ifmap_depth=64, weight_depth=16, psum_depth=32)


def test_layer_that_fits_is_one_pass():
    p = plan(TINY, ConvLayer(N=2, C=2, H=4, W=4, M=3, R=2, S=2))
    assert len(p.passes) == 1
    (ps,) = p.passes
    assert (ps.n0, ps.n_count, ps.m0, ps.m_count, ps.load_ifmap, ps.load_weights) == (0, 2, 0, 3, True, True)
    assert (ps.accumulate, ps.read_out, ps.tile.pad_top, ps.tile.H) == (False, True, 0, 4)
    assert p.whole_images


def test_psum_buffer_split_moves_each_word_once():
    # 12x12 1x1 conv, N=2, M=4: both filter groups of both images need 576 > 512 psum lines. Every input
    # word, weight and output still crosses once: ifmap 2*144 = 288 + weights 4 + outputs 2*4*144 = 1152.
    p = plan(TINY, ConvLayer(N=2, C=1, H=12, W=12, M=4, R=1, S=1))
    assert len(p.passes) > 1 and p.dram_words == 1444


def test_ifmap_buffer_splits_the_images():
    # C=3, 16x16: 768 words per image; 1024 hold one image: 3 passes, weights written once.
    p = plan(TINY, ConvLayer(N=3, C=3, H=16, W=16, M=2, R=3, S=3))
    assert [(s.n0, s.n_count) for s in p.passes] == [(0, 1), (1, 1), (2, 1)]
    assert [s.load_weights for s in p.passes] == [True, False, False]


def test_row_bands_hand_worked():
    # H=12, 3x3, stride 2, pad 1 -> E=6. On SMALL (64 words) one band of 3 output rows reads input rows
    # -1..5 (top band: rows 0..5 loaded, one padded row above) or 5..11 (7 rows, no padding): 6*6 = 36 and
    # 7*6 = 42 words; the two bands share input row 5 (the halo).
    p = plan(SMALL, ConvLayer(C=1, H=12, W=6, M=2, R=3, S=3, stride=2, pad=1))
    bands = [(s.e0, s.tile.E, s.h0, s.tile.H, s.tile.pad_top) for s in p.passes]
    assert bands == [(0, 3, 0, 6, 1), (3, 3, 5, 7, 0)]
    assert not p.whole_images
    assert p.dram_words == 36 + 42 + 2 * 9 + 2 * 6 * 3


def test_channel_tiles_accumulate_and_read_once():
    p = plan(SMALL, ConvLayer(C=4, H=4, W=4, M=3, R=3, S=3, pad=1))  # Kw = 36 > 16 weight lines
    assert p.sizes.cw == 1 and not p.whole_images
    for group in (p.passes[i:i + 4] for i in range(0, len(p.passes), 4)):
        assert [(s.cw0, s.accumulate, s.read_out) for s in group] == [
            (0, False, False), (1, True, False), (2, True, False), (3, True, True)]


@pytest.mark.parametrize(
    "config, layer, words",
    [
        (TINY, ConvLayer(C=1000, H=3, W=3, M=1, R=3, S=3), ["C*R*S=9000", "max_reduction=8192"]),
        (TINY, ConvLayer(C=1, H=40, W=40, M=1, R=33, S=33),
         ["one output pixel in one channel word needs 1089 words of the ifmap buffer", "has 1024"]),
        (TINY, ConvLayer(C=1, H=12, W=12, M=1, R=12, S=12), ["needs 144 lines of the weight buffer", "has 128"]),
    ],
)
def test_layers_that_cannot_be_tiled_raise(config, layer, words):
    with pytest.raises(ValueError) as err:
        plan(config, layer)
    for w in words:
        assert w in str(err.value)


def test_grouped_layers_are_refused_until_the_hardware_runs_them():
    dw = ConvLayer(C=8, H=6, W=6, M=8, R=3, S=3, pad=1, groups=8)
    with pytest.raises(ValueError, match="groups=8; the accelerator.s host-port path runs groups=1 only: run it from DRAM"):
        plan(AcceleratorConfig(), dw)


# -- an independent brute force: every tile size, every loop order ------------------------------

def _span(o0, count, size, kernel, stride, pad):
    """Input indices the outputs o0..o0+count-1 read, clipped to the input (independent of model.tiling)."""
    used = [o * stride + t - pad for o in range(o0, o0 + count) for t in range(kernel)]
    inside = [i for i in used if 0 <= i < size]
    return (min(inside), max(inside) + 1) if inside else (0, 0)


def _plans(config, layer):
    """Every plan of every tile size and every order of the n, m, e, f loops (channels innermost):
    yields (sizes, DRAM words, the passes' (n, m, channel words, e, f) counts)."""
    cpw, cols = config.channels_per_word, config.cols
    cw = -(-layer.C // cpw)
    for n, g, c, e, f in itertools.product(range(1, layer.N + 1), range(1, -(-layer.M // cols) + 1),
                                           range(1, cw + 1), range(1, layer.E + 1), range(1, layer.F + 1)):
        m = min(layer.M, g * cols)
        if g * c * layer.R * layer.S > config.weight_depth or -(-m // cols) * n * e * f > config.psum_depth:
            continue
        rows = {e0: _span(e0, min(e, layer.E - e0), layer.H, layer.R, layer.stride, layer.pad)
                for e0 in range(0, layer.E, e)}
        cols_in = {f0: _span(f0, min(f, layer.F - f0), layer.W, layer.S, layer.stride, layer.pad)
                   for f0 in range(0, layer.F, f)}
        biggest = max(h1 - h0 for h0, h1 in rows.values()) * max(w1 - w0 for w0, w1 in cols_in.values())
        if n * c * biggest > config.ifmap_depth:
            continue
        ranges = {"n": range(0, layer.N, n), "m": range(0, layer.M, m), "e": range(0, layer.E, e),
                  "f": range(0, layer.F, f)}
        for loops in itertools.permutations("nmef"):
            words, prev_in, prev_w, counts = 0, None, None, []
            for at in itertools.product(*(ranges[d] for d in loops)):
                i = dict(zip(loops, at))
                nc, mc = min(n, layer.N - i["n"]), min(m, layer.M - i["m"])
                ec, fc = min(e, layer.E - i["e"]), min(f, layer.F - i["f"])
                (h0, h1), (w0, w1) = rows[i["e"]], cols_in[i["f"]]
                for c0 in range(0, cw, c):
                    cc = min(c, cw - c0)
                    if (i["n"], i["e"], i["f"], c0) != prev_in:
                        words += nc * cc * (h1 - h0) * (w1 - w0)
                    if (i["m"], c0) != prev_w:
                        words += mc * cc * layer.R * layer.S
                    prev_in, prev_w = (i["n"], i["e"], i["f"], c0), (i["m"], c0)
                    counts.append((nc, mc, cc, ec, fc))
                words += nc * mc * ec * fc
            yield (n, m, c, e, f), words, counts


def _brute_force_words(config, layer):
    """Fewest DRAM words over every plan of :func:`_plans`."""
    return min(words for _, words, _ in _plans(config, layer))


def _reference_pass_cycles(config, n, m, c, e, f, layer):
    """Cycles of one pass, period by period as docs/architecture.md ("Timing") states the schedule:
    a first period of ``rows*G`` cycles (WS: load fold 0; OS: walk its pixels), one period per fold of
    ``G*stream`` cycles or ``G*max(stream, rows)`` while a load (of the next fold) or an OS drain (of the
    previous fold) shares it, OS a last drain of ``rows*G``, the pipeline tail and the cycle ``done`` rises."""
    g, rows, ws = config.rf_sets, config.rows, config.dataflow is Dataflow.WS
    pixels, kw, groups = n * e * f, c * layer.R * layer.S, -(-m // config.cols)
    folds = groups * -(-(kw if ws else pixels) // (rows * g))
    stream = pixels if ws else kw
    total = rows * g + (0 if ws else rows * g) + PIPELINE_TAIL[config.dataflow] + 1
    for fold in range(folds):
        shared = fold + 1 < folds or (not ws and fold >= 1)
        total += g * max(stream, rows if shared else 0)
    return total


def _brute_force_time(config, layer, dram):
    """The least (compute + ceil(bytes / bandwidth), bytes) over every plan of :func:`_plans`."""
    outputs = layer.N * layer.M * layer.E * layer.F
    best = None
    for _, words, counts in _plans(config, layer):
        nbytes = -(-((words - outputs) * config.word_bits + outputs * config.bits) // 8)
        cycles = sum(_reference_pass_cycles(config, *count, layer) for count in counts)
        key = (cycles + -(-nbytes // dram.bandwidth), nbytes)
        best = key if best is None else min(best, key)
    return best


BRUTE_LAYERS = [
    ConvLayer(C=1, H=12, W=6, M=2, R=3, S=3, stride=2, pad=1),
    ConvLayer(C=1, H=3, W=30, M=2, R=3, S=3, pad=1),
    ConvLayer(C=4, H=4, W=4, M=3, R=3, S=3, pad=1),
    ConvLayer(C=1, H=4, W=4, M=5, R=3, S=3),
    ConvLayer(N=3, C=1, H=5, W=5, M=2, R=3, S=3),
    ConvLayer(C=3, H=9, W=9, M=3, R=1, S=1, stride=2),  # 1x1 stride 2: single-row bands skip unused rows
    ConvLayer(N=2, C=2, H=7, W=7, M=4, R=2, S=2, stride=1, pad=1),
    ConvLayer(C=2, H=10, W=5, M=2, R=4, S=3, stride=3, pad=2),
]


@pytest.mark.parametrize("layer", BRUTE_LAYERS, ids=str)
@pytest.mark.parametrize("config", [SMALL, SMALL.replace(bits=1, pack=2)], ids=["8bit", "binary-pack2"])
def test_no_plan_moves_fewer_words_than_the_planner(config, layer):
    p = plan(config, layer, Objective.BYTES)
    assert p.dram_words == plan_words(config, layer, p.passes)
    assert p.dram_words == _brute_force_words(config, layer)


@pytest.mark.parametrize("layer", BRUTE_LAYERS, ids=str)
@pytest.mark.parametrize("config, dram", [
    (SMALL, DramConfig()), (SMALL.replace(dataflow=Dataflow.OS), DramConfig()),
    (SMALL.replace(bits=1, pack=2), DramConfig(bandwidth=1)),
    (SMALL.replace(rf_depth=4, dataflow=Dataflow.OS), DramConfig(bandwidth=2)),
], ids=["ws-8bit-bw8", "os-8bit-bw8", "ws-binary-pack2-bw1", "os-rf4-bw2"])
def test_no_plan_is_faster_than_the_time_planner(config, dram, layer):
    p = plan(config, layer, Objective.TIME, dram)
    assert p.objective is Objective.TIME and p.dram_words == plan_words(config, layer, p.passes)
    assert (p.estimated_cycles, p.dram_bytes) == _brute_force_time(config, layer, dram)


def test_time_objective_fixes_the_strided_1x1_layer():
    # 1x1 stride 2 (ResNet-18 layer2_0_downsample): the fewest bytes take one-pixel passes at 1/8 of the
    # array (each fold streams 1 slot, loading the next fold takes rows=8); TIME takes larger tiles.
    layer, config = NAMED_LAYERS["resnet18_layer2_0_downsample"], AcceleratorConfig()
    by_bytes, by_time = plan(config, layer, Objective.BYTES), plan(config, layer)
    ideal = layer.macs // config.pes
    assert len(by_bytes.passes) == layer.E * layer.F and by_bytes.cycles > 8 * ideal
    assert by_time.objective is Objective.TIME and by_time.cycles < ideal * 1.01
    assert by_time.estimated_cycles < by_bytes.estimated_cycles and by_time.dram_bytes > by_bytes.dram_bytes


def test_bad_objective_and_dram_are_refused():
    with pytest.raises(TypeError, match="objective must be an Objective"):
        plan(TINY, ConvLayer(C=1, H=4, W=4, M=1, R=1, S=1), "time")
    with pytest.raises(TypeError, match="dram must be a DramConfig"):
        plan(TINY, ConvLayer(C=1, H=4, W=4, M=1, R=1, S=1), Objective.TIME, 8)


def _execute(config, layer, the_plan, x, w):
    """Run every pass of ``the_plan`` on its own tile with numpy, accumulating as the hardware does."""
    cpw = config.channels_per_word
    out = np.zeros(layer.output_shape, np.int64)
    psum = None
    for p in the_plan.passes:
        t = p.tile
        c0, c1 = p.cw0 * cpw, p.cw0 * cpw + t.C
        tile_x = x[p.n0:p.n0 + t.N, c0:c1, p.h0:p.h0 + t.H, p.w0:p.w0 + t.W]
        # the tile's own padding: pad_top/pad_left before it, and enough after it for E x F windows
        bottom = max(0, (t.E - 1) * t.stride + t.R - t.pad_top - t.H)
        right = max(0, (t.F - 1) * t.stride + t.S - t.pad_left - t.W)
        padded = np.pad(tile_x, ((0, 0), (0, 0), (t.pad_top, bottom), (t.pad_left, right)))
        part = conv2d_int(padded, w[p.m0:p.m0 + t.M, c0:c1], t.stride, 0)[:, :, :t.E, :t.F]
        psum = part if not p.accumulate else psum + part
        if p.read_out:
            out[p.n0:p.n0 + t.N, p.m0:p.m0 + t.M, p.e0:p.e0 + t.E, p.f0:p.f0 + t.F] = psum
    return out


@pytest.mark.parametrize("objective", list(Objective), ids=str)
@pytest.mark.parametrize("layer", BRUTE_LAYERS, ids=str)
def test_tiles_computed_apart_give_the_whole_convolution(layer, objective):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (layer.N, layer.C, layer.H, layer.W))
    w = rng.integers(-128, 128, (layer.M, layer.C, layer.R, layer.S))
    p = plan(SMALL, layer, objective)
    assert p.objective is objective
    assert np.array_equal(_execute(SMALL, layer, p, x, w), conv2d_int(x, w, layer.stride, layer.pad))


@pytest.mark.parametrize("name", [n for n in NAMED_LAYERS if n.startswith(("resnet18", "vgg16", "mobilenet_v1_pw"))
                                  or n == "mobilenet_v1_conv1"])
def test_every_named_layer_plans_on_the_default_build(name):
    layer, config = NAMED_LAYERS[name], AcceleratorConfig()
    p = plan(config, layer)
    compulsory = layer.N * layer.C * layer.H * layer.W + layer.M * layer.C * layer.R * layer.S + layer.N * layer.M * layer.E * layer.F
    assert p.dram_words >= compulsory or layer.stride > layer.R  # strided 1x1 layers need not read every input
    assert p.order in tuple(Order)
    for ps in p.passes:
        t = ps.tile
        assert t.N * ps.cw_count * t.H * t.W <= config.ifmap_depth
        assert -(-t.M // config.cols) * ps.cw_count * t.R * t.S <= config.weight_depth
        assert -(-t.M // config.cols) * t.N * t.E * t.F <= config.psum_depth
