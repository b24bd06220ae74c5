"""The integer host operations against ONNX Runtime's kernels, value by value, and the float32 FMA against exact arithmetic.

Each rule of :mod:`model.network.host_ops` is run on many values (whole
grids of inputs where they fit) against a one-node ONNX Runtime model of the
kernel it copies; parameters are drawn where the candidate rules would differ
(near ties, accumulators beyond float32's 2**24).
"""

from fractions import Fraction

import numpy as np
import pytest
from onnx import TensorProto, TypeProto, helper, numpy_helper

from model.network.host_ops import (QType, average_pool, dequantize, fma32, global_average_pool, qlinear_add, quantize,
                                    requantize_accumulators, requantize_elementwise)
from sim.onnx_reference import session

F32 = np.float32
RNG = np.random.default_rng(13)


def _round_to_float32(exact: Fraction) -> np.float32:
    """Correct rounding (ties to even) of an exact rational to float32, by bisection on the float32 neighbours."""
    guess = np.float32(float(exact))
    below = guess if Fraction(float(guess)) <= exact else np.nextafter(guess, F32(-np.inf))
    above = np.nextafter(below, F32(np.inf))
    lo, hi = Fraction(float(below)), Fraction(float(above))
    if exact - lo != hi - exact:
        return below if exact - lo < hi - exact else above
    return below if int(below.view(np.int32)) % 2 == 0 else above


def test_fma32_rounds_once_like_exact_arithmetic():
    a = (RNG.standard_normal(3000) * 10).astype(F32)
    b = (RNG.standard_normal(3000) * 10).astype(F32)
    c = (RNG.standard_normal(3000) * 100).astype(F32)
    # midpoint cases: c cancels most of a*b so the exact sum sits near a float32 tie
    c[:1000] = -(a[:1000].astype(np.float64) * b[:1000]).astype(F32)
    got = fma32(a, b, c)
    want = np.array([_round_to_float32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))
                     for x, y, z in zip(a, b, c)], dtype=F32)
    assert np.array_equal(got, want)


def test_fma32_double_rounding_case():
    # a*b + c is just above a float32 midpoint that the float64 sum lands on exactly
    a, b = F32(1 + 2**-23), F32(1 + 2**-23)  # a*b = 1 + 2**-22 + 2**-46
    c = F32(2**-24)  # exact sum 1 + 2**-22 + 2**-24 + 2**-46: above the tie between 1+2**-22 and 1+2**-22+2**-23
    assert fma32(a, b, c) == F32(1 + 2**-22 + 2**-23)


def _one_node(op, inputs, x_name, x, inits, domain="", **attrs):
    """ONNX Runtime's result of one node on ``x`` (the other inputs are initializers)."""
    node = helper.make_node(op, inputs, ["y"], domain=domain, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(x_name, _onnx_type(x), x.shape)],
                              [helper.make_value_info("y", TypeProto())],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return session(model).run(None, {x_name: x})[0]


def _onnx_type(a):
    return {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8,
            np.dtype(np.int8): TensorProto.INT8}[a.dtype]


def test_quantize_and_dequantize_match_onnxruntime():
    for qtype in QType:
        s, z = F32(RNG.uniform(0.001, 0.1)), qtype.dtype.type(RNG.integers(qtype.lo, qtype.hi + 1))
        x = (RNG.standard_normal(20000) * 300 * s).astype(F32)
        x[:2000] = (RNG.integers(-600, 600, 2000) * 0.5 * s).astype(F32)  # ties of x / s
        y = _one_node("QuantizeLinear", ["x", "s", "z"], "x", x, {"s": s, "z": z})
        assert np.array_equal(quantize(x, s, int(z), qtype), y.astype(np.int64))
        qx = np.arange(qtype.lo, qtype.hi + 1).astype(qtype.dtype)
        assert np.array_equal(dequantize(qx, s, int(z)), _one_node("DequantizeLinear", ["x", "s", "z"], "x", qx,
                                                                    {"s": s, "z": z}))


def test_requantize_accumulators_match_qlinearconv_beyond_float32_integers():
    """A 1x1 QLinearConv with unit weights: acc = x - zx + bias, biases up to 2**30 (float32 rounds them)."""
    channels = 64
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    bias = RNG.integers(-2**30, 2**30, channels).astype(np.int32)
    bias[:16] = RNG.integers(-3000, 3000, 16)
    w_scale = RNG.uniform(0.5, 1.5, channels).astype(F32) * F32(2**-20)
    w_scale[:16] = RNG.uniform(0.001, 0.02, 16).astype(F32)
    sx, sy, zx, zy = F32(0.7), F32(0.3), np.uint8(77), np.uint8(130)
    inits = {"sx": sx, "zx": zx, "w": np.ones((channels, 1, 1, 1), np.int8), "sw": w_scale,
             "zw": np.zeros(channels, np.int8), "sy": sy, "zy": zy, "b": bias}
    y = _one_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"], "x", x, inits)
    acc = x.astype(np.int64) - int(zx) + bias[None, :, None, None]
    scale = (sx * w_scale) / sy
    assert np.array_equal(requantize_accumulators(acc, scale, int(zy), QType.UINT8), y.astype(np.int64))


@pytest.mark.parametrize("qtype", list(QType))
def test_qlinear_add_matches_onnxruntime_on_the_whole_input_grid(qtype):
    values = np.arange(qtype.lo, qtype.hi + 1)
    a, b = (v.astype(qtype.dtype).reshape(1, 1, 256, 256) for v in np.meshgrid(values, values))
    for _ in range(6):
        sa, sb, sc = (F32(RNG.uniform(0.01, 0.2)) for _ in range(3))
        za, zb, zc = (int(RNG.integers(qtype.lo, qtype.hi + 1)) for _ in range(3))
        inits = {"sa": sa, "za": qtype.dtype.type(za), "sb": sb, "zb": qtype.dtype.type(zb), "sc": sc,
                 "zc": qtype.dtype.type(zc), "bb": b}
        y = _one_node("QLinearAdd", ["a", "sa", "za", "bb", "sb", "zb", "sc", "zc"], "a", a, inits, "com.microsoft")
        assert np.array_equal(qlinear_add(a, sa, za, b, sb, zb, sc, zc, qtype), y.astype(np.int64))


@pytest.mark.parametrize("kernel, stride, pads, include", [
    ((3, 3), (1, 1), (1, 1, 1, 1), False), ((3, 3), (2, 2), (1, 1, 1, 1), True), ((2, 2), (2, 2), (0, 0, 0, 0), False),
    ((7, 7), (1, 1), (3, 2, 3, 2), False), ((3, 2), (1, 2), (0, 1, 2, 0), True),
])
def test_average_pool_matches_qlinearaveragepool(kernel, stride, pads, include):
    x = RNG.integers(0, 256, (2, 5, 11, 9)).astype(np.uint8)
    sx, sy, zx, zy = F32(0.037), F32(0.021), np.uint8(19), np.uint8(200)
    attrs = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(pads), count_include_pad=int(include))
    y = _one_node("QLinearAveragePool", ["x", "sx", "zx", "sy", "zy"], "x", x, {"sx": sx, "zx": zx, "sy": sy, "zy": zy},
                  "com.microsoft", **attrs)
    got = average_pool(x, sx, int(zx), sy, int(zy), QType.UINT8, kernel, stride, pads, include)
    assert np.array_equal(got, y.astype(np.int64))


@pytest.mark.parametrize("size", [1, 7, 14, 56])
def test_global_average_pool_matches_qlineargap(size):
    x = RNG.integers(0, 256, (2, 40, size, size)).astype(np.uint8)
    sx, sy, zx, zy = F32(0.05), F32(0.013), np.uint8(31), np.uint8(9)
    y = _one_node("QLinearGlobalAveragePool", ["x", "sx", "zx", "sy", "zy"], "x", x,
                  {"sx": sx, "zx": zx, "sy": sy, "zy": zy}, "com.microsoft")
    assert np.array_equal(global_average_pool(x, sx, int(zx), sy, int(zy), QType.UINT8), y.astype(np.int64))


def test_concat_requantizes_each_input_like_qlinearconcat():
    a = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    b = RNG.integers(0, 256, (1, 2, 16, 16)).astype(np.uint8)
    grids = {"sy": F32(0.011), "zy": np.uint8(100), "sa": F32(0.0371), "za": np.uint8(7), "sb": F32(0.011),
             "zb": np.uint8(100), "bb": b}
    y = _one_node("QLinearConcat", ["sy", "zy", "a", "sa", "za", "bb", "sb", "zb"], "a", a, grids, "com.microsoft",
                  axis=1)
    ours = np.concatenate([requantize_elementwise(a, grids["sa"], 7, grids["sy"], 100, QType.UINT8),
                           requantize_elementwise(b, grids["sb"], 100, grids["sy"], 100, QType.UINT8)], axis=1)
    assert np.array_equal(ours, y.astype(np.int64))
