"""Property-based tests (hypothesis) of the golden convolutions.

Each property is checked on random shapes, strides, paddings and bit widths
rather than on a hand-picked list: the vectorised convolution equals the
literal loop nest and the float64 reference, convolution is linear in its
input and in its weights, padding and striding mean what they say, batches
are independent, and the binary XNOR-popcount convolution equals the +1/-1
integer convolution.

Runs are deterministic under CI (``CI=true`` selects the derandomised
``ci`` profile; ``HYPOTHESIS_PROFILE`` overrides) and kept small so the
whole file takes seconds.
"""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.conv import conv2d_binary, conv2d_float, conv2d_int, conv2d_loops
from model.data import random_operands
from model.layer import ConvLayer

_COMMON = dict(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("dev", **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() == "true" else "dev"))


@st.composite
def layers(draw, max_dim: int = 6, max_batch: int = 2, max_channels: int = 3, max_filters: int = 3) -> ConvLayer:
    """A small valid layer: any kernel up to the padded input, stride 1..3, pad 0..2."""
    H = draw(st.integers(1, max_dim))
    W = draw(st.integers(1, max_dim))
    pad = draw(st.integers(0, 2))
    R = draw(st.integers(1, H + 2 * pad))
    S = draw(st.integers(1, W + 2 * pad))
    return ConvLayer(
        N=draw(st.integers(1, max_batch)), C=draw(st.integers(1, max_channels)), H=H, W=W,
        M=draw(st.integers(1, max_filters)), R=R, S=S, stride=draw(st.integers(1, 3)), pad=pad,
    )


def _operands(layer: ConvLayer, bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return random_operands(layer, bits, np.random.default_rng(seed))


seeds = st.integers(0, 2**32 - 1)


@given(layer=layers(), bits=st.integers(2, 16), seed=seeds)
def test_vectorised_equals_loop_nest_and_float(layer, bits, seed):
    x, w = _operands(layer, bits, seed)
    fast = conv2d_int(x, w, layer.stride, layer.pad)
    assert fast.shape == layer.output_shape and fast.dtype == np.int64
    assert np.array_equal(fast, conv2d_loops(x, w, layer.stride, layer.pad))
    assert np.array_equal(fast, conv2d_float(x, w, layer.stride, layer.pad).astype(np.int64))


@given(layer=layers(max_dim=8, max_channels=4, max_filters=4), bits=st.integers(2, 15), seed=seeds,
       a=st.integers(-1, 1), b=st.integers(-1, 1))
def test_linear_in_the_input(layer, bits, seed, a, b):
    # bits <= 15 and |a|, |b| <= 1 keep a*x1 + b*x2 inside the signed 16-bit operand range.
    x1, w = _operands(layer, bits, seed)
    x2, _ = _operands(layer, bits, seed + 1)
    conv = lambda x: conv2d_int(x, w, layer.stride, layer.pad)  # noqa: E731
    assert np.array_equal(conv(a * x1 + b * x2), a * conv(x1) + b * conv(x2))


@given(layer=layers(max_dim=8, max_channels=4, max_filters=4), bits=st.integers(2, 15), seed=seeds)
def test_linear_in_the_weights(layer, bits, seed):
    x, w1 = _operands(layer, bits, seed)
    _, w2 = _operands(layer, bits, seed + 1)
    conv = lambda w: conv2d_int(x, w, layer.stride, layer.pad)  # noqa: E731
    assert np.array_equal(conv(w1 - w2), conv(w1) - conv(w2))
    assert np.array_equal(conv(np.zeros_like(w1)), np.zeros(layer.output_shape, np.int64))


@given(layer=layers(max_dim=8), bits=st.integers(2, 16), seed=seeds)
def test_padding_is_explicit_zeros(layer, bits, seed):
    x, w = _operands(layer, bits, seed)
    p = layer.pad
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    assert np.array_equal(conv2d_int(x, w, layer.stride, p), conv2d_int(padded, w, layer.stride, 0))


@given(layer=layers(max_dim=8), bits=st.integers(2, 16), seed=seeds)
def test_stride_subsamples_the_unit_stride_output(layer, bits, seed):
    x, w = _operands(layer, bits, seed)
    dense = conv2d_int(x, w, 1, layer.pad)
    s = layer.stride
    assert np.array_equal(conv2d_int(x, w, s, layer.pad), dense[:, :, ::s, ::s])


@given(layer=layers(max_batch=3), bits=st.integers(2, 16), seed=seeds)
def test_batch_items_are_independent(layer, bits, seed):
    x, w = _operands(layer, bits, seed)
    whole = conv2d_int(x, w, layer.stride, layer.pad)
    for n in range(layer.N):
        assert np.array_equal(whole[n:n + 1], conv2d_int(x[n:n + 1], w, layer.stride, layer.pad))


@given(layer=layers(max_channels=70), seed=seeds)
def test_binary_equals_plus_minus_one_conv(layer, seed):
    # Up to 70 channels: packed words of 64 channels, the second one partial.
    xb, wb = _operands(layer, 1, seed)
    expected = conv2d_int(2 * xb - 1, 2 * wb - 1, layer.stride, layer.pad)
    assert np.array_equal(conv2d_binary(xb, wb, layer.stride, layer.pad), expected)


@given(layer=layers(), seed=seeds)
def test_binary_output_bounded_by_real_positions(layer, seed):
    # |dot product| <= number of real (non-padded) positions, with the parity of that count.
    xb, wb = _operands(layer, 1, seed)
    out = conv2d_binary(xb, wb, layer.stride, layer.pad)
    real = conv2d_int(np.ones((layer.N, layer.C, layer.H, layer.W), np.int64),
                      np.ones(layer.weight_shape, np.int64), layer.stride, layer.pad)
    assert np.all(np.abs(out) <= real)
    assert np.all((out - real) % 2 == 0)
