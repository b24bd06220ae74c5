"""Integer-only inference: requantization, zero-point convolution and the integer network.

References: exact rational arithmetic (``fractions.Fraction``) for the
requantization formula, a convolution of explicitly widened differences and
the float64 convolution of dequantized values for the zero-point algebra,
and a float recomputation of every layer for the integer network.
"""

from fractions import Fraction

import numpy as np
import pytest

from model.config import AcceleratorConfig
from model.conv import conv2d_float, conv2d_int
from model.quant import (fold_input_zero_point, pad_with_zero_point, quantize, quantize_multiplier, requantize,
                         zero_point_conv)
from model.quant.binary_network import build_binary_network
from model.quant.plans import binary_plan
from model.quant.integer_network import build_integer_network
from model.quant.network import LAYERS, forward, init_parameters


def _reference(acc, bias, multiplier, shift, zero_point, bits, relu):
    """The requantization formula in exact rationals, element by element (Python's round is half-to-even)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo = max(lo, zero_point) if relu else lo
    y = round(Fraction((int(acc) + int(bias)) * int(multiplier), 2 ** (31 + int(shift))))
    return min(max(y + zero_point, lo), hi)


@pytest.mark.parametrize("bits,relu", [(8, False), (8, True), (4, True), (16, False), (2, False)])
def test_requantize_matches_exact_rational_reference(bits, relu):
    rng = np.random.default_rng(bits + relu)
    M = 6
    acc = rng.integers(-2**24, 2**24, size=(3, M, 4, 4))
    acc[0, 0, 0, :2] = [2**31 - 1 - 1000, -2**31 + 1000]  # int32 extremes
    bias = rng.integers(-1000, 1000, size=M)
    real = np.exp(rng.uniform(np.log(1e-7), np.log(4.0), size=M))
    multiplier, shift = quantize_multiplier(real)
    zero_point = int(rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1)))
    out = requantize(acc, multiplier, shift, zero_point, bits, relu, bias=bias)
    want = np.vectorize(_reference)(acc, bias[None, :, None, None], multiplier[None, :, None, None],
                                    shift[None, :, None, None], zero_point, bits, relu)
    assert np.array_equal(out, want)
    # and within one output step of the real-valued rescale where nothing is clamped
    real_out = (acc + bias[None, :, None, None]) * real[None, :, None, None] + zero_point
    free = (out > -(2 ** (bits - 1))) & (out < 2 ** (bits - 1) - 1) & (out > (zero_point if relu else -np.inf))
    assert np.all(np.abs(out - real_out)[free] <= 0.5 + 1e-6 * np.abs(real_out[free]))


def test_requantize_ties_round_half_to_even_by_name():
    acc = np.arange(-5, 6)
    half = 2**30  # multiplier 0.5, shift 0
    assert requantize(acc, half, 0, 0, 8).tolist() == [-2, -2, -2, -1, 0, 0, 0, 1, 2, 2, 2]
    assert requantize(acc, half, 0, 0, 8, rounding="half_away").tolist() == [-3, -2, -2, -1, -1, 0, 1, 1, 2, 2, 3]
    assert requantize(acc, half, 0, 3, 8, relu=True).tolist() == [3, 3, 3, 3, 3, 3, 3, 4, 5, 5, 5]


def test_quantize_multiplier_precision_and_range():
    real = np.array([1e-9, 0.001, 0.3, 0.5, 0.9999999999, 1.0, 7.5, 1e6])
    multiplier, shift = quantize_multiplier(real)
    assert np.all((multiplier >= 2**30) & (multiplier < 2**31))
    approx = multiplier / 2.0 ** (31 + shift)
    assert np.all(np.abs(approx - real) <= real * 2.0**-31)
    assert quantize_multiplier(0.0) == (0, 0)
    with pytest.raises(ValueError, match=r"real multiplier must be 0 or in \[2\*\*-32, 2\*\*31\), not 1e-12"):
        quantize_multiplier([0.5, 1e-12])
    with pytest.raises(ValueError, match="real multiplier must be finite and >= 0"):
        quantize_multiplier(-1.0)


@pytest.mark.parametrize("call,match", [
    (lambda: requantize(np.ones(3, np.int64), 2**31, 0, 0, 8), r"multiplier must be in 0\.\.2147483647, not 2147483648"),
    (lambda: requantize(np.ones(3, np.int64), 2**30, 40, 0, 8), r"shift must be in -31\.\.31, not 40"),
    (lambda: requantize(np.ones(3, np.int64), 2**30, 0, 128, 8), r"zero_point must be in -128\.\.127, not 128"),
    (lambda: requantize(np.ones(3, np.int64), 2**30, 0, 0, 1), r"bits must be in 2\.\.16, not 1"),
    (lambda: requantize(np.array([2**31]), 2**30, 0, 0, 8), r"acc \+ bias must be in the int32 range .* not 2147483648"),
    (lambda: requantize(np.ones(3), 2**30, 0, 0, 8), "acc must hold integers"),
])
def test_requantize_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.parametrize("w_scheme,w_gran", [("symmetric", "channel"), ("asymmetric", "channel"), ("asymmetric", "tensor")])
@pytest.mark.parametrize("stride,pad", [(1, 0), (1, 1), (2, 1)])
def test_zero_point_conv_equals_widened_and_dequantized_conv(w_scheme, w_gran, stride, pad):
    rng = np.random.default_rng(stride * 10 + pad)
    x = rng.uniform(-0.5, 2.0, size=(2, 3, 6, 6))
    w = rng.normal(size=(4, 3, 3, 3))
    qx = quantize(x, 8, "asymmetric")
    qw = quantize(w, 8, w_scheme, w_gran, axis=0)
    zw = np.asarray(qw.zero_point).reshape(-1)
    acc = zero_point_conv(qx.q, qx.zero_point, qw.q, zw if zw.size > 1 else int(zw[0]), stride, pad)
    widened = conv2d_int(qx.q.astype(np.int64) - qx.zero_point, qw.q.astype(np.int64) - qw.zero_point, stride, pad)
    assert np.array_equal(acc, widened)
    sw = np.broadcast_to(np.asarray(qw.scale).reshape(-1), (4,))[None, :, None, None]
    real = acc * qx.scale * sw
    assert np.allclose(real, conv2d_float(qx.dequantize(), qw.dequantize(), stride, pad), rtol=1e-12, atol=1e-9)
    # against the unquantized operands: the error is bounded by the steps
    dx, dw = qx.scale / 2, np.broadcast_to(qw.scale, w.shape) / 2
    bound = conv2d_float(np.abs(x) + dx, dw, stride, pad) + conv2d_float(np.ones_like(x) * dx, np.abs(w), stride, pad)
    assert np.all(np.abs(real - conv2d_float(x, w, stride, pad)) <= bound + 1e-9)


def test_accelerator_form_equals_zero_point_conv():
    rng = np.random.default_rng(9)
    xq = rng.integers(-128, 128, size=(2, 4, 5, 5))
    wq = rng.integers(-127, 128, size=(3, 4, 3, 3))
    bias = rng.integers(-500, 500, size=3)
    zx = -37
    direct = zero_point_conv(xq, zx, wq, 0, 1, 1) + bias[None, :, None, None]
    padded = pad_with_zero_point(xq, zx, 1)
    assert padded.shape == (2, 4, 7, 7) and np.all(padded[:, :, 0] == zx)
    folded = conv2d_int(padded, wq, 1, 0) + fold_input_zero_point(bias, wq, zx)[None, :, None, None]
    assert np.array_equal(direct, folded)


@pytest.mark.parametrize("bits", [8, 4])
def test_integer_network_within_one_step_of_float_reference(bits):
    rng = np.random.default_rng(bits)
    params = init_parameters(rng)
    params.biases = [rng.normal(0, 0.1, size=b.shape) for b in params.biases]
    images = rng.uniform(0, 1, size=(6, 1, 8, 8))
    net = build_integer_network(params, [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)], (-6.0, 6.0), bits)
    outputs = net.forward(images)
    assert outputs[-1].shape == (6, 10) and np.array_equal(net.predict(images), outputs[-1].argmax(axis=1))
    for i, layer in enumerate(net.layers):
        xq, grid_in, grid_out = outputs[i], net.grids[i], net.grids[i + 1]
        assert xq.min() >= -(2 ** (bits - 1)) and xq.max() < 2 ** (bits - 1)
        acc = layer.accumulate(xq)
        assert acc.shape == layer.accelerator_layer(len(xq)).output_shape
        # float reference: the real conv of the dequantized input and weights, plus the float bias, on the output grid
        w_real = layer.weights * layer.weight_scale[:, None, None, None]
        real = conv2d_float(grid_in.dequantize(xq), w_real, 1, layer.layer.pad)
        acc_scale = grid_in.scale * layer.weight_scale
        bias_q = layer.bias + grid_in.zero_point * layer.weights.reshape(layer.layer.M, -1).sum(axis=1)
        lo, hi = -(2 ** (grid_out.bits - 1)), 2 ** (grid_out.bits - 1) - 1
        floor = max(lo, grid_out.zero_point) if layer.relu else lo
        got = requantize(acc, layer.multiplier, layer.shift, layer.output_zero_point, layer.output_bits, layer.relu,
                         bias=layer.bias)
        # with the integer bias: only the final rounding (and the 2**-31 multiplier error) remain
        ref = np.clip((real + (bias_q * acc_scale)[None, :, None, None]) / grid_out.scale + grid_out.zero_point, floor, hi)
        assert np.all(np.abs(got - ref) <= 0.5 + 1e-6), f"layer {i}: {np.abs(got - ref).max()} steps"
        if grid_out.bits == bits:  # hidden layers: with the float bias too, within one output step
            ref = np.clip((real + params.biases[i][None, :, None, None]) / grid_out.scale + grid_out.zero_point, floor, hi)
            assert np.all(np.abs(got - ref) <= 1.0), f"layer {i}: {np.abs(got - ref).max()} steps"
        pooled = got.reshape(*got.shape[:2], got.shape[2] // layer.pool, layer.pool, -1, layer.pool).max(axis=(3, 5))
        assert np.array_equal(layer.finish(acc), pooled)
        assert np.array_equal(pooled.reshape(outputs[i + 1].shape), outputs[i + 1])


def test_binary_network_equals_its_float_model():
    rng = np.random.default_rng(11)
    params = init_parameters(rng)
    params.biases = [rng.normal(0, 0.5, size=b.shape) for b in params.biases]
    images = rng.uniform(0, 1, size=(8, 1, 8, 8))
    logits, cache = forward(params, images, binary_plan())
    net = build_binary_network(params, (float(logits.min()), float(logits.max())))
    outputs = net.forward(images)
    for i in range(len(LAYERS) - 1):
        assert np.array_equal(outputs[i + 1], (cache[i]["out"] >= 0).astype(np.uint8)), f"layer {i}"
    # logits: the bias is rounded to accumulator units (alpha / 2 at most), then one output step
    alpha = np.abs(params.weights[-1]).mean(axis=(1, 2, 3))
    assert np.all(np.abs(net.logit_grid.dequantize(outputs[-1]) - logits) <= alpha / 2 + net.logit_grid.scale)


def test_zero_point_conv_bad_input():
    xq = np.zeros((1, 2, 4, 4), np.int64)
    wq = np.zeros((3, 2, 3, 3), np.int64)
    with pytest.raises(ValueError, match=r"w_zero must be a scalar or have one entry per filter \(M=3\), not shape \(2,\)"):
        zero_point_conv(xq, 0, wq, np.array([1, 2]))
    with pytest.raises(TypeError, match="w_zero must hold integers"):
        zero_point_conv(xq, 0, wq, 0.5)
    with pytest.raises(ValueError, match="x has C=2 channels but w has C=3"):
        zero_point_conv(xq, 0, np.zeros((3, 3, 3, 3), np.int64))


def test_integer_layers_fit_the_default_accelerator():
    """Every layer of the 8-bit network is a shape the default build takes, and its accumulators fit acc_bits."""
    config = AcceleratorConfig()
    rng = np.random.default_rng(12)
    net = build_integer_network(init_parameters(rng), [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)], (-6.0, 6.0), config.bits)
    outputs = net.forward(rng.uniform(0, 1, size=(3, 1, 8, 8)))
    for layer, xq in zip(net.layers, outputs):
        shape = layer.accelerator_layer(len(xq))
        assert shape.pad == 0 and shape.reduction <= config.max_reduction
        acc = layer.accumulate(xq)
        assert np.abs(acc).max() < 2 ** (config.acc_bits - 1)
        assert np.abs(acc.astype(np.int64) + layer.bias[None, :, None, None]).max() < 2**31
