"""Mapped loop nests: counts against an explicit-buffer simulation, hand counts, the search and the RTL's schedule."""

import itertools

import numpy as np
import pytest

from buffer_sim import simulate
from model.accelerator_mapping import accelerator_mapping, counter_words
from model.accesses import Keep, Mapping, analytical_counts, footprints
from model.config import AcceleratorConfig
from model.energy import HIERARCHIES, Hierarchy, Level, parse_table, table_from_dict
from model.layer import NAMED_LAYERS, ConvLayer
from model.loopnest import conv_nest, matmul_nest
from model.mapping import _Search, check_fits, conv_mapping, evaluate, pareto_front, search
from model.perf import predict

SMALL = [
    ConvLayer(C=3, H=7, W=6, M=5, R=3, S=2, stride=2, pad=1),
    ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3, pad=1),
    ConvLayer(N=2, C=3, H=8, W=8, M=4, R=1, S=1, stride=2),
    ConvLayer(C=4, H=5, W=5, M=6, R=3, S=2, pad=1, groups=2),  # grouped: a g dimension in every tensor
    ConvLayer(C=3, H=6, W=5, M=3, R=3, S=3, stride=2, pad=1, groups=3),  # depthwise
]
TINY = "N=1,C=4,H=6,W=6,M=4,R=3,S=3,stride=1,pad=1"
TENSORS = ("input", "weights", "output")


def _assert_matches_simulation(m: Mapping) -> None:
    sim = simulate(m)
    counts = analytical_counts(m)
    for level, per in counts.words.items():
        for t, v in per.items():
            assert v == sim["words"][str(level)][t], (str(level), t, m.describe())
    assert counts.compute_cycles == sim["cycles"]
    fp = footprints(m)
    for kind in ("GLB", "PE"):
        for t in fp[kind]:
            assert sim["largest"][kind][t] <= fp[kind][t], (kind, t, m.describe())


def _random_keep(rng, temporal: int, level_rf: str | None) -> dict:
    out = {}
    for t in TENSORS:
        glb = int(rng.integers(0, temporal + 1))
        pe = int(rng.integers(glb, temporal + 1))
        out[t] = (glb, pe, "RF" if t == level_rf else "REG")
    return out


def test_counts_equal_the_buffer_simulation_on_every_order():
    """Every order of five temporal loops, with random cuts, a spatial unroll on rows and columns, padding."""
    layer = ConvLayer(C=2, H=4, W=4, M=3, R=2, S=2, pad=1)  # E = F = 5
    rng = np.random.default_rng(0)
    tiles = {"m": (("m2", 2), ("m1", 1)), "f": (("f2", 2), ("f1", 1)), "e": (("e2", 1),), "c": (("c2", 1),),
             "r": (("r2", 1),), "s": (("s2", 1),)}
    temporal = ["m2", "c2", "e2", "r2", "s2"]
    for n, order in enumerate(itertools.permutations(temporal)):
        order = list(order) + ["f2"] if n % 2 else ["f2"] + list(order)
        keep = _random_keep(rng, len(order), TENSORS[n % 3])
        m = conv_mapping(layer, tiles=tiles, order=order, rows=("f1",), cols=("m1",), keep=keep)
        _assert_matches_simulation(m)


@pytest.mark.parametrize("layer", SMALL, ids=str)
def test_counts_equal_the_buffer_simulation_on_tiled_chains(layer):
    """Three-level chains with remainders (stride, padding, N > 1, groups) and random orders and cuts."""
    rng = np.random.default_rng(1)
    G = layer.groups
    full = {"n": layer.N, "g": G, "m": layer.M // G, "c": layer.C // G, "e": layer.E, "f": layer.F, "r": layer.R,
            "s": layer.S}
    for _ in range(6):
        tiles, names = {}, []
        for d, D in full.items():
            t2 = int(rng.integers(1, D + 1))
            t1 = int(rng.integers(1, t2 + 1))
            tiles[d] = ((f"{d}3", t2), (f"{d}2", t1), (f"{d}1", 1))
            names += [f"{d}3", f"{d}2"]
        rows, cols = ("g1",) if G > 1 else ("m1",), ("e1",)
        names += [f"{d}1" for d in full if f"{d}1" not in rows + cols]  # g's loops are ignored when G = 1
        order = list(rng.permutation(names))
        order.sort(key=lambda n: {"3": 0, "2": 1, "1": 2}[n[1]])  # a dimension's loops nest outer to inner
        keep = _random_keep(rng, len(order), TENSORS[int(rng.integers(0, 3))])
        _assert_matches_simulation(conv_mapping(layer, tiles=tiles, order=order, rows=rows, cols=cols, keep=keep))


def test_matmul_counts_equal_the_buffer_simulation():
    mm = matmul_nest(5, 4, 7).tile("k", 3).tile("i", 2).interchange(["i_o", "k_o", "k_i", "j", "i_i"])
    for glb, pe in ((0, 1), (1, 3), (2, 2)):
        keep = (Keep("A", glb, pe), Keep("B", 0, pe), Keep("C", glb, 3, Level.RF))
        _assert_matches_simulation(Mapping(mm, ("j",), ("i_i",), keep))


def _pixels_on_cols(order: str) -> Mapping:
    """A 1x1 conv: 4 filters on 4 columns, 2 channels and 4 pixels in time (``order``), registers everywhere."""
    layer = ConvLayer(C=2, H=2, W=2, M=4, R=1, S=1)
    tiles = {"m": (("m1", 1),)}
    keep = {t: (0, len(order), "REG") for t in TENSORS}
    return conv_mapping(layer, tiles=tiles, order=list(order), cols=("m1",), keep=keep)


def test_hand_counted_multicast_and_register_bypass():
    m = _pixels_on_cols("cef")  # 8 cycles, channels outermost
    w = analytical_counts(m).words
    assert w[Level.GLB]["input"] == (8, 8)  # a new input word every cycle, read once and multicast to 4 PEs
    assert w[Level.NOC]["input"] == (32, 0) and w[Level.REG]["input"] == (32, 32)  # but delivered to each PE
    assert w[Level.GLB]["weights"] == (8, 8)  # each PE's weight register holds over the pixels of one channel
    assert w[Level.NOC]["weights"] == (8, 0) and w[Level.REG]["weights"] == (32, 8)
    # every output is drained after each of its two MACs: 16 first arrivals (write), 16 accumulations (read,
    # write), 16 final drains to DRAM (read)
    assert w[Level.GLB]["output"] == (32, 32) and w[Level.DRAM]["output"] == (0, 16)
    assert w[Level.REG]["output"] == (32, 32) and w[Level.NOC]["output"] == (32, 0)
    m = _pixels_on_cols("efc")  # channels innermost: the outputs stay in their registers, the weights do not
    w = analytical_counts(m).words
    assert w[Level.GLB]["output"] == (16, 16) and w[Level.NOC]["output"] == (16, 0)
    assert w[Level.GLB]["weights"] == (32, 8) and w[Level.NOC]["weights"] == (32, 0)  # per cycle, no hidden buffer


def test_hand_counted_spatial_reduction():
    """Channels on 4 rows, one filter, one pixel: four partial sums per cycle reach the GLB as one word."""
    layer = ConvLayer(C=4, H=1, W=1, M=1, R=1, S=1)
    m = conv_mapping(layer, tiles={"c": (("c1", 1),)}, order=[], rows=("c1",),
                     keep={t: (0, 0, "REG") for t in TENSORS})
    w = analytical_counts(m).words
    assert w[Level.NOC]["output"] == (4, 0) and w[Level.GLB]["output"] == (1, 1)
    assert w[Level.GLB]["input"] == (4, 4) and w[Level.GLB]["weights"] == (4, 4)


def test_capacities_are_checked():
    layer = ConvLayer.parse(TINY)
    m = _pixels_on_cols("cef")
    check_fits(m, Hierarchy(rows=1, cols=4, glb_words=1000))
    with pytest.raises(ValueError, match="need 4 cols, the array has 2"):
        check_fits(m, Hierarchy(rows=1, cols=2))
    with pytest.raises(ValueError, match="GLB tiles need 32 words"):
        check_fits(m, Hierarchy(rows=1, cols=4, glb_words=31))
    with pytest.raises(ValueError, match="its buffer has 3"):
        check_fits(m, Hierarchy(rows=1, cols=4, glb_split=(3, 100, 100)))
    whole = conv_mapping(layer, tiles={}, order=list("cefrsm"), keep={t: (0, 0, "REG") for t in TENSORS})
    with pytest.raises(ValueError, match="operand register has reg_words=1"):
        check_fits(whole, Hierarchy(glb_words=10**6))
    with pytest.raises(ValueError, match="placed nowhere"):
        conv_mapping(layer, tiles={}, order=list("cefrs"), keep={t: (0, 0, "REG") for t in TENSORS})
    with pytest.raises(ValueError, match="spatial loops"):
        Mapping(conv_nest(layer), ("m",), (), tuple(Keep(t, 0, 0) for t in TENSORS))
    with pytest.raises(ValueError, match="needs 0 <= glb <= pe"):
        Mapping(conv_nest(layer), (), (), tuple(Keep(t, 3, 1) for t in TENSORS))


def _scored_mappings(layer, hierarchy, table="eyeriss"):
    """Every candidate the search scores on its best stage-one option, with the energy it scored."""
    s = _Search(layer, hierarchy, parse_table(table), 8, 20, "energy", 0.1, 10**6, 8, None)
    options, _ = s.stage_one()
    s.stage_two(options[0])
    return s, [(score[0], s.mapping(params, "")) for score, _, params in s.ranked]


def test_the_search_scores_exactly_what_the_counts_give():
    layer = ConvLayer.parse(TINY)
    hier = Hierarchy(rows=2, cols=2, rf_words=4, glb_words=300)
    s, scored = _scored_mappings(layer, hier)
    assert len(scored) > 50
    for energy, m in scored[::7]:
        assert evaluate(m, hier, "eyeriss", 8, 20).energy == pytest.approx(energy, rel=1e-12), m.describe()
    for _, m in scored[::25]:
        _assert_matches_simulation(m)


def test_the_search_bound_loses_nothing_and_beats_fixed_dataflows():
    layer = ConvLayer(C=4, H=5, W=5, M=4, R=3, S=3, pad=1)
    hier = Hierarchy(rows=2, cols=2, rf_words=2, glb_words=200)
    fast = search(layer, hier, table="horowitz", top=2)
    full = search(layer, hier, table="horowitz", top=2, bound=False)
    assert fast.best[0].energy == pytest.approx(full.best[0].energy)
    assert fast.pruning["skipped_by_bound"] > 0 and full.pruning["skipped_by_bound"] == 0
    assert fast.evaluated < full.evaluated
    best = fast.best[0]
    assert best.energy == pytest.approx(full.points[:, 0].min())
    check_fits(best.mapping, hier)
    assert sum(sum(v.values()) for v in best.breakdown.values()) == pytest.approx(best.energy)
    fastest = search(layer, hier, objective="cycles", top=1).best[0]
    assert fastest.cycles <= best.cycles and fastest.cycles >= -(-layer.macs // hier.pes)


def test_the_bound_loses_nothing_when_small_tiles_get_other_array_assignments():
    """A depthwise layer whose small GLB tiles rank array assignments the whole-layer tile does not keep.

    The floor once covered only the whole-layer tile's own assignments and so skipped the best option
    (203 508 instead of 202 734); it now covers every option's.
    """
    layer = ConvLayer(C=6, H=8, W=8, M=6, R=3, S=3, pad=1, groups=6)
    hier = Hierarchy(rows=3, cols=4, reg_words=1, rf_words=2, glb_words=500)
    table = {"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}
    fast = search(layer, hier, table=table_from_dict(table, "t"), bits=8, acc_bits=8, top=1)
    full = search(layer, hier, table=table_from_dict(table, "t"), bits=8, acc_bits=8, top=1, bound=False)
    assert fast.pruning["skipped_by_bound"] > 0
    assert fast.best[0].energy == full.best[0].energy == full.points[:, 0].min()


def test_the_bound_loses_nothing_on_lenet5_conv1():
    """The benchmark layer where the earlier floor skipped the best (2 771 492 instead of 2 230 292)."""
    table = table_from_dict({"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}, "zigzag-style")
    kwargs = dict(table=table, bits=8, acc_bits=8, top=1)
    fast = search(NAMED_LAYERS["lenet5_conv1"], HIERARCHIES["zigzag-16x16"], **kwargs)
    full = search(NAMED_LAYERS["lenet5_conv1"], HIERARCHIES["zigzag-16x16"], bound=False, **kwargs)
    assert fast.pruning["skipped_by_bound"] > 0
    assert fast.best[0].energy == full.best[0].energy == full.points[:, 0].min()


@pytest.mark.parametrize("name", ["lenet5_conv1", "small_3x3", "mobilenet_v1_dw12"])
def test_benchmark_picks_equal_the_buffer_simulation(name):
    """The best mapping under the benchmark's hardware and table (docs/loop-nests.md), counted cycle by cycle."""
    table = table_from_dict({"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}, "zigzag-style")
    hier = HIERARCHIES["zigzag-16x16"]
    best = search(NAMED_LAYERS[name], hier, table=table, bits=8, acc_bits=8, top=1).best[0]
    check_fits(best.mapping, hier)
    _assert_matches_simulation(best.mapping)


def test_the_search_maps_a_depthwise_layer():
    """Groups on the array: the best is no worse than a hand-written depthwise mapping, and its counts are exact."""
    layer = ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3, pad=1, groups=4)
    hier = Hierarchy(rows=4, cols=2, rf_words=0, glb_words=400)
    # channel groups on the rows, two output columns on the columns, every tensor in the GLB whole
    hand = conv_mapping(layer, tiles={"g": (("g1", 1),), "f": (("f2", 2), ("f1", 1))}, order=["e", "f2", "r", "s"],
                        rows=("g1",), cols=("f1",), keep={t: (0, 4, "REG") for t in TENSORS})
    ref = evaluate(hand, hier, "eyeriss", 8, 20)
    result = search(layer, hier, table="eyeriss", bits=8, acc_bits=20, top=1)
    best = result.best[0]
    assert best.energy <= ref.energy
    check_fits(best.mapping, hier)
    _assert_matches_simulation(best.mapping)
    assert "g" in {lp.dim for lp in best.mapping.nest.loops}


def test_search_errors():
    layer = ConvLayer.parse(TINY)
    with pytest.raises(ValueError, match="no GLB tile"):
        search(layer, Hierarchy(glb_words=5))
    with pytest.raises(ValueError, match="objective must be one of"):
        search(layer, objective="area")
    with pytest.raises(ValueError, match="margin must be a number"):
        search(layer, margin=-1)


def test_pareto_front():
    pts = np.array([[3, 1], [1, 3], [2, 2], [2, 3], [4, 4], [1, 4]])
    assert sorted(pareto_front(pts).tolist()) == [0, 1, 2]


# -- the accelerator's own schedule against its counters ----------------------------------------------

#: (build, layer): both dataflows, G = 1..3, padding, stride 2, N = 2, several image passes.
RTL_CASES = [
    (AcceleratorConfig(rows=3, cols=2, dataflow="ws"), ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3)),
    (AcceleratorConfig(rows=3, cols=2, dataflow="ws", rf_depth=6), ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3, pad=1)),
    (AcceleratorConfig(rows=4, cols=2, dataflow="ws"), ConvLayer(C=6, H=5, W=5, M=4, R=1, S=1)),
    # one image per pass (ifmap 108 words); a smaller weight buffer would now cut channels, which the
    # mapping does not express
    (AcceleratorConfig(rows=3, cols=2, dataflow="ws", ifmap_depth=108),
     ConvLayer(N=2, C=3, H=6, W=6, M=4, R=3, S=3, stride=2, pad=1)),
    (AcceleratorConfig(rows=2, cols=2, dataflow="os"), ConvLayer(C=3, H=6, W=6, M=4, R=3, S=3)),
    (AcceleratorConfig(rows=2, cols=2, dataflow="os", rf_depth=4), ConvLayer(C=3, H=8, W=8, M=4, R=3, S=3, pad=1)),
    (AcceleratorConfig(rows=2, cols=2, dataflow="os", ifmap_depth=108),
     ConvLayer(N=2, C=3, H=6, W=6, M=4, R=3, S=3)),
    (AcceleratorConfig(rows=2, cols=2, dataflow="os"), ConvLayer(N=2, C=3, H=6, W=6, M=4, R=3, S=3)),
]


def _assert_counters_equal_counts(config, layer, counters) -> None:
    """The mapping's words equal the counters, under these conventions (``counter_words``):

    * a weight or partial-sum *line* of the GLB (one counter step) is ``cols`` words of the mapping;
    * the host reads the finished outputs through the requantization lane one word at a time: those
      reads (= ``dram_psum_writes``) are GLB output reads of one word each, and they are the mapping's
      DRAM output writes (the mapping's ``F(glb)`` term of the GLB output reads);
    * the host's loads of inputs and weights into the buffers are the DRAM reads (``dram_*_reads``);
    * the RF counters are the RF tensor's (weights in WS, partial sums in OS); the hardware has no
      counter of operand registers or of the network, so REG and NoC are not compared.
    """
    counts = analytical_counts(accelerator_mapping(config, layer))
    assert counters["dram_psum_writes"] == layer.N * layer.M * layer.E * layer.F  # every output leaves once
    for level, per in counter_words(config, counters).items():
        for t, v in per.items():
            assert counts.words[level][t] == v, (config.dataflow, str(layer), str(level), t)
    assert counts.macs == counters["macs"]
    other, hw_other = (("output", ("rf_psum_reads", "rf_psum_writes")) if config.dataflow.value == "ws"
                       else ("weights", ("rf_weight_reads", "rf_weight_writes")))
    assert counts.words[Level.RF][other] == (0, 0)  # the other tensor has no RF ...
    assert all(counters[k] == 0 for k in hw_other)  # ... and the hardware counts none


@pytest.mark.parametrize("config,layer", RTL_CASES, ids=lambda x: x.dataflow.value if isinstance(x, AcceleratorConfig) else str(x))
def test_accelerator_mapping_counts_equal_the_hardware_counters(config, layer):
    """``model.perf.predict`` equals the RTL's counters (co-simulation tests); the mapping's counts equal it."""
    _assert_counters_equal_counts(config, layer, predict(config, layer).counters)
    check_fits(accelerator_mapping(config, layer), Hierarchy.from_config(config))


def test_accelerator_mapping_counts_equal_the_rtl_in_simulation():
    """Two layers run on the RTL in amaranth.sim: the counters it reports equal the mapping's counts."""
    from hw_exec import run_layers

    rng = np.random.default_rng(3)
    for config, layer in (RTL_CASES[0], RTL_CASES[4]):
        x = rng.integers(-8, 8, layer.input_shape)
        w = rng.integers(-8, 8, layer.weight_shape)
        (_, counters), = run_layers(config, [(layer, x, w)])
        _assert_counters_equal_counts(config, layer, counters)


def test_accelerator_mapping_refuses_folds_off_the_digits():
    with pytest.raises(ValueError, match="does not fall on the digit"):
        accelerator_mapping(AcceleratorConfig(rows=2, cols=2, dataflow="ws"), ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3))
    with pytest.raises(ValueError, match="multi-bit build"):
        accelerator_mapping(AcceleratorConfig(rows=2, cols=2, bits=1), ConvLayer(C=4, H=6, W=6, M=4, R=1, S=1))
