"""Golden convolutions against independent references.

References: the literal loop nest (Python ints), a float64 slice-sum
convolution, a hand-worked example, and for binary layers the +1/-1 integer
convolution with zero padding.
"""

import numpy as np
import pytest

from model.conv import conv2d_binary, conv2d_float, conv2d_int, conv2d_layer, conv2d_loops, pack_bits
from model.data import random_operands
from model.layer import ConvLayer

SHAPES = [
    # N, C, H, W, M, R, S, stride, pad
    (1, 3, 6, 7, 4, 3, 3, 1, 0),
    (2, 2, 5, 5, 3, 3, 3, 2, 1),  # N>1, stride 2 with padding
    (1, 1, 4, 4, 1, 1, 1, 1, 0),  # 1x1 kernel, C=1, M=1
    (1, 4, 5, 5, 2, 1, 1, 2, 0),  # 1x1 stride 2
    (1, 2, 3, 3, 2, 3, 3, 1, 0),  # kernel as large as the input
    (1, 1, 2, 3, 2, 4, 5, 1, 1),  # kernel larger than the input, fits with padding
    (3, 2, 6, 4, 5, 2, 3, 3, 2),
]


def _layer(shape):
    N, C, H, W, M, R, S, stride, pad = shape
    return ConvLayer(N=N, C=C, H=H, W=W, M=M, R=R, S=S, stride=stride, pad=pad)


def test_hand_worked_example():
    x = np.arange(9, dtype=np.int64).reshape(1, 1, 3, 3)  # 0..8
    w = np.array([[[[1, -1], [2, 0]]]], dtype=np.int64)
    # out[0,0] = 0*1 + 1*-1 + 3*2 + 4*0 = 5; out[0,1] = 1 - 2 + 8 = 7; out[1,0] = 3 - 4 + 12 = 11; out[1,1] = 4 - 5 + 14 = 13
    expected = np.array([[[[5, 7], [11, 13]]]])
    assert np.array_equal(conv2d_loops(x, w), expected)
    assert np.array_equal(conv2d_int(x, w), expected)
    # pad=1, stride=2: out[0,0] covers x[-1..0, -1..0]: only x[0,0]*w[1,1] = 0
    assert conv2d_int(x, w, stride=2, pad=1)[0, 0, 0, 0] == 0
    assert conv2d_int(x, w, stride=2, pad=1)[0, 0, 1, 1] == 4 * 1 - 5 + 7 * 2


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}C{}H{}W{}M{}R{}S{}st{}p{}".format(*s))
@pytest.mark.parametrize("bits", [2, 8, 16])
def test_vectorised_equals_loops_and_float(shape, bits):
    layer = _layer(shape)
    x, w = random_operands(layer, bits, np.random.default_rng(sum(shape) * bits))
    fast = conv2d_int(x, w, layer.stride, layer.pad)
    assert fast.dtype == np.int64 and fast.shape == layer.output_shape
    assert np.array_equal(fast, conv2d_loops(x, w, layer.stride, layer.pad))
    assert np.array_equal(fast, conv2d_float(x, w, layer.stride, layer.pad).astype(np.int64))


@pytest.mark.parametrize("bits", range(2, 17))
def test_extreme_values_every_width(bits):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    layer = ConvLayer(N=1, C=3, H=4, W=4, M=2, R=3, S=3, pad=1)
    rng = np.random.default_rng(bits)
    x = rng.choice([lo, hi], size=layer.input_shape).astype(np.int64)
    w = rng.choice([lo, hi], size=layer.weight_shape).astype(np.int16)
    fast = conv2d_int(x, w, 1, 1)
    assert np.array_equal(fast, conv2d_loops(x, w, 1, 1))
    # all-minimum operands: every interior output is 27 * lo * lo, exactly
    full = conv2d_int(np.full(layer.input_shape, lo), np.full(layer.weight_shape, lo), 1, 1)
    assert full[0, 0, 1, 1] == 27 * lo * lo


def test_long_reduction_stays_exact_past_float_mantissa():
    # 16-bit extremes over a reduction of 2**24: partial sums reach 2**54, beyond float64's exact range.
    x = np.full((1, 2**14, 32, 32), -(2**15), dtype=np.int16)
    w = np.full((1, 2**14, 32, 32), -(2**15), dtype=np.int16)
    assert conv2d_int(x, w)[0, 0, 0, 0] == 2**24 * 2**30


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}C{}H{}W{}M{}R{}S{}st{}p{}".format(*s))
def test_binary_equals_plus_minus_one_conv(shape):
    layer = _layer(shape)
    xb, wb = random_operands(layer, 1, np.random.default_rng(sum(shape)))
    expected = conv2d_loops(2 * xb - 1, 2 * wb - 1, layer.stride, layer.pad)
    assert np.array_equal(conv2d_binary(xb, wb, layer.stride, layer.pad), expected)
    assert np.array_equal(conv2d_layer(xb, wb, layer, 1), expected)


def test_binary_many_channels_spans_words():
    layer = ConvLayer(N=1, C=130, H=3, W=3, M=3, R=3, S=3, pad=1)  # three 64-bit words, last partial
    xb, wb = random_operands(layer, 1, np.random.default_rng(5))
    expected = conv2d_int(2 * xb - 1, 2 * wb - 1, 1, 1)
    assert np.array_equal(conv2d_binary(xb, wb, 1, 1), expected)


def test_binary_padding_contributes_nothing():
    # all +1 input and weights, 3x3 kernel, pad 1: a corner output sees 4 real positions per channel.
    x = np.ones((1, 2, 3, 3), np.uint8)
    w = np.ones((1, 2, 3, 3), np.uint8)
    out = conv2d_binary(x, w, pad=1)
    assert out[0, 0, 0, 0] == 2 * 4 and out[0, 0, 1, 1] == 2 * 9 and out[0, 0, 0, 1] == 2 * 6


def test_pack_bits_layout():
    bits = np.zeros((1, 70, 1, 1), np.uint8)
    bits[0, [0, 3, 64, 69], 0, 0] = 1
    packed = pack_bits(bits, axis=1)
    assert packed.shape == (1, 2, 1, 1)
    assert packed[0, 0, 0, 0] == 0b1001 and packed[0, 1, 0, 0] == (1 | 1 << 5)
    assert pack_bits(bits, axis=1, word=8).shape == (1, 9, 1, 1)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: conv2d_int(np.zeros((1, 1, 4)), np.zeros((1, 1, 1, 1), int)), ValueError, "x must have 4 dimensions"),
        (lambda: conv2d_int(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 1, 1), int)), TypeError, "x must hold integers"),
        (lambda: conv2d_int([[1]], np.zeros((1, 1, 1, 1), int)), TypeError, "x must be a numpy array"),
        (lambda: conv2d_int(np.zeros((1, 2, 4, 4), int), np.zeros((1, 3, 1, 1), int)), ValueError, "C=2 channels but w has C=3"),
        (lambda: conv2d_int(np.full((1, 1, 4, 4), 2**15), np.zeros((1, 1, 1, 1), int)), ValueError, "x holds 32768, outside the signed 16-bit range"),
        (lambda: conv2d_int(np.zeros((1, 1, 2, 2), int), np.zeros((1, 1, 3, 3), int)), ValueError, "kernel 3x3 is larger than the padded input 2x2"),
        (lambda: conv2d_int(np.zeros((1, 1, 4, 4), int), np.zeros((1, 1, 1, 1), int), stride=0), ValueError, "stride must be in >= 1, not 0"),
        (lambda: conv2d_binary(np.full((1, 1, 4, 4), 2), np.zeros((1, 1, 1, 1), int)), ValueError, "x_bits holds 2"),
        (lambda: conv2d_layer(np.zeros((1, 1, 4, 4), int), np.full((1, 1, 1, 1), 8), ConvLayer(C=1, H=4, W=4, M=1, R=1, S=1), 4), ValueError, "w holds 8, outside the signed 4-bit range -8..7"),
        (lambda: conv2d_layer(np.zeros((1, 1, 4, 5), int), np.zeros((1, 1, 1, 1), int), ConvLayer(C=1, H=4, W=4, M=1, R=1, S=1), 4), ValueError, r"x has shape \(1, 1, 4, 5\)"),
    ],
)
def test_bad_operands_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- grouped and depthwise convolution ------------------------------------------------------------

GROUPED = [
    # N, C, H, W, M, R, S, stride, pad, groups
    (1, 4, 5, 5, 4, 3, 3, 1, 1, 4),  # depthwise, padded
    (2, 6, 7, 6, 6, 3, 3, 2, 1, 6),  # depthwise, stride 2
    (1, 6, 5, 5, 9, 3, 2, 1, 0, 3),  # 3 groups of 2 channels and 3 filters
    (1, 4, 4, 4, 8, 1, 1, 1, 0, 2),  # grouped 1x1
    (1, 3, 4, 5, 6, 2, 2, 2, 2, 3),  # depthwise multiplier 2 (M = 2C)
]


def _grouped_layer(shape):
    *rest, groups = shape
    return ConvLayer(**_layer(tuple(rest)).to_dict() | {"groups": groups})


def _per_group_loops(x, w, stride, pad, groups):
    """The per-group loop nest: for each group, the ungrouped seven loops over its channels and filters."""
    N, C, H, W = x.shape
    M, Cg, R, S = w.shape
    Mg = M // groups
    E, F = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - S) // stride + 1
    out = np.zeros((N, M, E, F), np.int64)
    for n in range(N):
        for g in range(groups):
            for m in range(Mg):
                for c in range(Cg):
                    for e in range(E):
                        for f in range(F):
                            for r in range(R):
                                for s in range(S):
                                    h, v = e * stride + r - pad, f * stride + s - pad
                                    if 0 <= h < H and 0 <= v < W:
                                        out[n, g * Mg + m, e, f] += int(x[n, g * Cg + c, h, v]) * int(w[g * Mg + m, c, r, s])
    return out


@pytest.mark.parametrize("shape", GROUPED, ids=lambda s: "N{}C{}H{}W{}M{}R{}S{}st{}p{}g{}".format(*s))
@pytest.mark.parametrize("bits", [2, 8, 16])
def test_grouped_equals_the_per_group_loop_nest(shape, bits):
    layer = _grouped_layer(shape)
    x, w = random_operands(layer, bits, np.random.default_rng(sum(shape) + bits))
    assert w.shape == (layer.M, layer.C // layer.groups, layer.R, layer.S)
    ref = _per_group_loops(x, w, layer.stride, layer.pad, layer.groups)
    args = (layer.stride, layer.pad, layer.groups)
    assert np.array_equal(conv2d_loops(x, w, *args), ref)
    assert np.array_equal(conv2d_int(x, w, *args), ref)
    assert np.array_equal(conv2d_layer(x, w, layer, bits), ref)
    assert np.array_equal(conv2d_float(x, w, *args), ref.astype(np.float64))


@pytest.mark.parametrize("shape", GROUPED, ids=lambda s: "N{}C{}H{}W{}M{}R{}S{}st{}p{}g{}".format(*s))
def test_grouped_binary_equals_plus_minus_one_per_group_loops(shape):
    layer = _grouped_layer(shape)
    xb, wb = random_operands(layer, 1, np.random.default_rng(sum(shape)))
    ref = _per_group_loops(2 * xb - 1, 2 * wb - 1, layer.stride, layer.pad, layer.groups)
    assert np.array_equal(conv2d_binary(xb, wb, layer.stride, layer.pad, layer.groups), ref)
    assert np.array_equal(conv2d_layer(xb, wb, layer, 1), ref)


def test_depthwise_hand_worked_example():
    # Two channels, one 2x2 filter each: channel 0 sums its window, channel 1 takes top-left minus bottom-right.
    x = np.arange(18, dtype=np.int64).reshape(1, 2, 3, 3)
    w = np.array([[[[1, 1], [1, 1]]], [[[1, 0], [0, -1]]]], dtype=np.int64)
    out = conv2d_int(x, w, groups=2)
    assert out[0, 0].tolist() == [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]]
    assert out[0, 1].tolist() == [[-4, -4], [-4, -4]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: conv2d_int(np.zeros((1, 4, 3, 3), int), np.zeros((3, 2, 1, 1), int), groups=2), "M=3 filters; both must be multiples of groups=2"),
        (lambda: conv2d_int(np.zeros((1, 3, 3, 3), int), np.zeros((2, 1, 1, 1), int), groups=2), "C=3 channels and w has M=2"),
        (lambda: conv2d_int(np.zeros((1, 4, 3, 3), int), np.zeros((2, 1, 1, 1), int), groups=2), "w has C=1; with groups=2 it must be C/groups=2"),
        (lambda: conv2d_loops(np.zeros((1, 2, 3, 3), int), np.zeros((2, 1, 1, 1), int), groups=0), "groups must be in >= 1, not 0"),
        (lambda: conv2d_float(np.zeros((1, 2, 3, 3)), np.zeros((2, 2, 1, 1)), groups=2), "w has C=2; with groups=2 it must be C/groups=1"),
        (lambda: conv2d_binary(np.zeros((1, 2, 3, 3), int), np.zeros((3, 1, 1, 1), int), groups=2), "M=3 filters"),
    ],
)
def test_bad_groups_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
