"""Loop nests: transformations keep meaning (executor == golden conv), MAC counts, hoisting, clear errors."""

import itertools

import numpy as np
import pytest

from model.conv import conv2d_int
from model.layer import NAMED_LAYERS, ConvLayer
from model.loopnest import (
    broadcast_nest, conv_nest, execute, hoist, matmul_nest, outer_sum_nest, tensor_trace, trace,
)

LAYERS = [
    ConvLayer(C=3, H=7, W=6, M=4, R=3, S=2, stride=2, pad=1),
    ConvLayer(N=2, C=2, H=5, W=5, M=3, R=3, S=3, pad=1),
    ConvLayer(C=4, H=6, W=6, M=5, R=1, S=1),
]


def _operands(layer, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, layer.input_shape), rng.integers(-128, 128, layer.weight_shape)


def _random_transform(nest, rng):
    """Tile two random loops by random sizes (remainders included), then shuffle every loop."""
    for i in range(2):
        name = nest.names[rng.integers(len(nest.names))]
        nest = nest.tile(name, int(rng.integers(1, nest.loop(name).bound + 2)), f"T{i}o", f"T{i}i")
    return nest.interchange(list(rng.permutation(nest.names)))


@pytest.mark.parametrize("layer", LAYERS, ids=str)
def test_transformed_conv_matches_golden(layer):
    x, w = _operands(layer)
    ref = conv2d_int(x, w, layer.stride, layer.pad)
    rng = np.random.default_rng(1)
    base = conv_nest(layer)
    for _ in range(6):
        nest = _random_transform(base, rng)
        assert np.array_equal(execute(nest, {"input": x, "weights": w}), ref), str(nest)


def test_every_order_and_tiling_counts_every_mac_once():
    layer = LAYERS[0]
    macs = layer.N * layer.M * layer.E * layer.F * layer.C * layer.R * layer.S
    base = conv_nest(layer).tile("e", 2).tile("c", 2).tile("m", 3)  # E=4, C=3, M=4: remainders on c and m
    for i, order in enumerate(itertools.permutations("nmcefrs")):  # all 5040 orders
        nest = conv_nest(layer, "".join(order))
        assert len(nest.loop_values()) == macs == nest.iterations
        if i % 7 == 0:
            tiled = base.interchange(np.random.default_rng(i).permutation(base.names))
            assert len(tiled.loop_values()) == macs == tiled.iterations


def test_tiling_with_remainder_visits_each_index_once():
    nest = broadcast_nest(3, 10).tile("i", 4).tile("i_i", 3)
    i_values = nest.dim_values(nest.loop_values())["i"]
    assert sorted(np.bincount(i_values)) == [3] * 10
    assert nest.loop("i_o").bound == 3 and nest.loop("i_i_o").bound == 2


def test_matmul_and_simple_nests_execute():
    rng = np.random.default_rng(2)
    a, b = rng.integers(-9, 9, (4, 6)), rng.integers(-9, 9, (6, 5))
    nest = matmul_nest(4, 5, 6).tile("k", 4).interchange(["k_o", "j", "i", "k_i"])
    assert np.array_equal(execute(nest, {"A": a, "B": b}), a @ b)
    va, vc = rng.integers(-9, 9, 5), rng.integers(-9, 9, 3)
    assert np.array_equal(execute(broadcast_nest(3, 5), {"A": va}), np.tile(va, (3, 1)))
    assert np.array_equal(execute(outer_sum_nest(3, 5).interchange("ij"), {"A": va, "C": vc}), va[None] + vc[:, None])


def test_hoisting_counts_loads_saved():
    N, M = 4, 6
    h = hoist(broadcast_nest(N, M))  # A[i] varies in the inner loop: nothing to hoist
    assert (h["A"].loads, h["A"].saved) == (N * M, 0)
    h = hoist(broadcast_nest(N, M).interchange("ij"))  # A[i] is invariant in the inner j loop
    assert (h["A"].loads, h["A"].hoisted_loads, h["A"].saved) == (N * M, M, N * M - M)
    assert h["A"].hoisted_out_of == ("j",)
    h = hoist(outer_sum_nest(N, M))
    assert h["C"].hoisted_loads == N and h["A"].hoisted_loads == N * M
    # conv: the output is read-modified-written once per (n, m, e, f) when c, r, s are innermost
    layer = ConvLayer(C=2, H=5, W=5, M=2, R=3, S=3, pad=1)
    h = hoist(conv_nest(layer, "nmefcrs"))
    assert h["output"].hoisted_loads == layer.N * layer.M * layer.E * layer.F
    assert h["input"].loads < layer.macs  # padded reads are not loads


def test_traces():
    nest = broadcast_nest(2, 3)
    assert tensor_trace(nest, "A").tolist() == [0, 1, 2, 0, 1, 2]
    assert tensor_trace(nest, "B").tolist() == [0, 1, 2, 3, 4, 5]
    # per iteration: A then B (B's addresses start after A's 3 words)
    assert trace(nest).tolist() == [0, 3, 1, 4, 2, 5, 0, 6, 1, 7, 2, 8]
    padded = conv_nest(ConvLayer(C=1, H=2, W=2, M=1, R=3, S=3, pad=1))
    assert tensor_trace(padded, "input").size == 16  # 4 outputs x 4 real taps each, padding skipped


@pytest.mark.parametrize("call, message", [
    (lambda n: n.interchange("ik"), "not a permutation"),
    (lambda n: n.interchange("i"), "not a permutation"),
    (lambda n: n.interchange(["j", "j"]), "not a permutation"),
    (lambda n: n.tile("k", 2), "unknown loop 'k'"),
    (lambda n: n.tile("i", 0), "tile size must be in >= 1, not 0"),
    (lambda n: n.tile("i", -3), "tile size must be in >= 1, not -3"),
    (lambda n: n.tile("i", 2, "j", "x"), "clash"),
    (lambda n: n.tensor("Z"), "unknown tensor 'Z'"),
    (lambda n: execute(n, {}), "missing operand 'A'"),
    (lambda n: execute(n, {"A": np.zeros(4, int)}), "has shape (4,), the nest needs (3,)"),
])
def test_clear_errors(call, message):
    with pytest.raises(ValueError) as err:
        call(broadcast_nest(2, 3))
    assert message in str(err.value)


def test_large_nests_are_refused_before_enumeration():
    with pytest.raises(ValueError, match="more than the 20000000 that are enumerated"):
        trace(conv_nest(NAMED_LAYERS["resnet18_conv4"]))


def test_bad_conv_order_and_sizes():
    with pytest.raises(ValueError, match="not a permutation"):
        conv_nest(LAYERS[0], "nmcefr")
    with pytest.raises(ValueError, match="N must be in >= 1, not 0"):
        broadcast_nest(0, 3)
    with pytest.raises(TypeError, match="tile size must be an integer"):
        broadcast_nest(2, 3).tile("i", 1.5)


@pytest.mark.parametrize("layer", [ConvLayer(C=4, H=5, W=5, M=4, R=3, S=3, stride=2, pad=1, groups=4),
                                   ConvLayer(N=2, C=6, H=4, W=5, M=9, R=2, S=3, pad=1, groups=3)], ids=str)
def test_grouped_nest_executes_to_the_grouped_conv(layer):
    x, w = _operands(layer)
    ref = conv2d_int(x, w, layer.stride, layer.pad, layer.groups)
    base = conv_nest(layer)
    assert base.names == ("n", "g", "m", "c", "e", "f", "r", "s") and base.iterations == layer.macs
    assert np.array_equal(execute(base, {"input": x, "weights": w}), ref)
    rng = np.random.default_rng(2)
    for _ in range(4):
        nest = _random_transform(base, rng)
        assert np.array_equal(execute(nest, {"input": x, "weights": w}), ref), str(nest)
    with pytest.raises(ValueError, match="not a permutation of 'ngmcefrs'"):
        conv_nest(layer, "nmcefrs")
