"""Quantizers: rounding, uniform grids at every granularity, calibration, non-uniform, ternary and binary.

References are independent of the code under test: exact fractions for
rounding, the stated error bounds of a grid, least-squares optimality of
the binary/ternary scales, and direct definitions.
"""

from fractions import Fraction

import numpy as np
import pytest

from model.conv import conv2d_binary, conv2d_float
from model.quant import (ROUNDING_MODES, binarize, calibrate_rows, fake_quantize, log_quantize, quantize,
                         round_to_int, shift_right_rounded, ternarize)

CASES = [(scheme, granularity) for scheme in ("symmetric", "asymmetric") for granularity in ("tensor", "channel", "group")]


def _data(seed, shape=(6, 4, 3, 3)):
    rng = np.random.default_rng(seed)
    spread = np.exp(rng.normal(0, 1.5, size=(shape[0],) + (1,) * (len(shape) - 1)))  # channels of very different range
    return rng.normal(0.3, 1.0, size=shape) * spread


# -- rounding -------------------------------------------------------------------

def test_rounding_ties_by_name():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999999999999994, -0.7, 0.7])
    expected = {
        "half_even": [-2, -2, 0, 0, 2, 2, 0, -1, 1],
        "half_away": [-3, -2, -1, 1, 2, 3, 0, -1, 1],
        "half_up": [-2, -1, 0, 1, 2, 3, 0, -1, 1],
        "floor": [-3, -2, -1, 0, 1, 2, 0, -1, 0],
    }
    for mode in ROUNDING_MODES:
        assert round_to_int(x, mode).tolist() == expected[mode], mode
    assert np.array_equal(round_to_int(x), np.rint(x))  # the default is numpy's half-to-even


def _fraction_round(f: Fraction, mode: str) -> int:
    floor = f.numerator // f.denominator
    frac = f - floor
    if mode == "floor" or frac < Fraction(1, 2):
        return floor
    if frac > Fraction(1, 2):
        return floor + 1
    return {"half_even": floor + (floor % 2), "half_away": floor + (floor >= 0), "half_up": floor + 1}[mode]


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_integer_shift_is_exact_rounding_of_the_quotient(mode):
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.integers(-2**62, 2**62, 300), rng.integers(-40, 40, 200), [2**62 - 1, -2**62]])
    shift = rng.integers(0, 63, v.size)
    shift[-200:-100] = rng.integers(1, 4, 100)  # small shifts: many exact ties
    got = shift_right_rounded(v, shift, mode)
    want = [_fraction_round(Fraction(int(a), 2 ** int(s)), mode) for a, s in zip(v, shift)]
    assert got.tolist() == want
    # the float and integer roundings are one definition
    small = v[-200:-2]
    assert np.array_equal(shift_right_rounded(small, 2, mode), round_to_int(small / 4.0, mode))


# -- uniform quantization -------------------------------------------------------------

@pytest.mark.parametrize("scheme,granularity", CASES)
@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
def test_error_within_half_step_inside_the_range(scheme, granularity, bits):
    x = _data(bits)
    qt = quantize(x, bits, scheme, granularity, axis=0, group_size=2 if granularity == "group" else None)
    assert qt.q.dtype == np.int64 and qt.q.min() >= qt.qmin and qt.q.max() <= qt.qmax
    lo, hi = qt.clip_range()
    inside = (x >= lo) & (x <= hi)
    assert inside.mean() > 0.9
    err = np.abs(qt.dequantize() - x)
    bound = np.broadcast_to(qt.scale, x.shape) / 2 + 1e-15 * np.abs(x)  # plus float64 rounding of x / scale
    assert np.all(err[inside] <= bound[inside])
    # minmax calibration: every value is inside except a symmetric grid's unused top half step
    assert np.all(err <= bound)


@pytest.mark.parametrize("granularity", ["tensor", "channel", "group"])
def test_zero_is_exact_in_asymmetric_mode(granularity):
    rng = np.random.default_rng(7)
    for offset in (0.0, 3.0, -3.0):  # ranges straddling 0, all positive, all negative
        x = rng.normal(offset, 1.0, size=(4, 10))
        x[:, 3] = 0.0
        qt = quantize(x, 3, "asymmetric", granularity, axis=0, group_size=2 if granularity == "group" else None)
        assert np.all(qt.dequantize()[:, 3] == 0.0)
        assert np.all((qt.q[:, 3] == np.broadcast_to(qt.zero_point, x.shape)[:, 3]))
        assert qt.q.min() >= 0 and qt.q.max() <= 7


@pytest.mark.parametrize("scheme", ["symmetric", "asymmetric"])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_per_channel_never_worse_than_per_tensor(scheme, bits):
    for seed in range(5):
        x = _data(seed)
        tensor = quantize(x, bits, scheme, "tensor")
        channel = quantize(x, bits, scheme, "channel", axis=0)
        assert np.all(channel.scale <= tensor.scale * (1 + 1e-12))  # every channel's step (its error bound) is finer
        assert np.mean((channel.dequantize() - x) ** 2) <= np.mean((tensor.dequantize() - x) ** 2)


def test_channel_axis_and_group_extremes():
    x = _data(1, shape=(3, 8, 2))
    for axis in (1, -2):
        qt = quantize(x, 4, "symmetric", "channel", axis=axis)
        assert qt.scale.shape == (1, 8, 1) and qt.axis == 1
        assert np.allclose(qt.scale.reshape(-1), 2 * np.abs(x).max(axis=(0, 2)) / 15)
    one = quantize(x, 4, "asymmetric", "group", axis=1, group_size=1)
    per_channel = quantize(x, 4, "asymmetric", "channel", axis=1)
    whole = quantize(x, 4, "asymmetric", "group", axis=1, group_size=8)
    per_tensor = quantize(x, 4, "asymmetric", "tensor")
    assert np.array_equal(one.q, per_channel.q) and np.array_equal(whole.q, per_tensor.q)
    pairs = quantize(x, 4, "symmetric", "group", axis=1, group_size=2)
    assert np.array_equal(pairs.scale[0, ::2, 0], pairs.scale[0, 1::2, 0])
    assert np.allclose(pairs.scale[0, ::2, 0], 2 * np.abs(x.reshape(3, 4, 2, 2)).max(axis=(0, 2, 3)) / 15)


def test_symmetric_step_and_power_of_two_grid():
    x = np.array([-1.0, -0.3, 0.2, 0.6])
    qt = quantize(x, 4, "symmetric")
    assert qt.scale == 2.0 / 15 and qt.zero_point == 0
    assert qt.q.tolist() == [-8, -2, 2, 4]  # -1/(2/15) = -7.5 -> -8 (half to even); 0.6*7.5 = 4.5 -> 4
    fixed = quantize(x, 4, "symmetric", power_of_two=True)
    assert fixed.scale == 0.25  # 2/15 rounded up to a power of two
    assert np.all(np.abs(fixed.dequantize() - x) <= 0.125)
    assert np.array_equal(fake_quantize(x, 4), qt.dequantize())


def test_steps_stay_finite_at_the_float64_limits():
    """Ends near +-1.8e308 have a width that overflows float64, but their step does not; 2**1024 is no step."""
    x = np.array([-1.7e308, 0.0, 1.7e308])
    for scheme in ("symmetric", "asymmetric"):
        qt = quantize(x, 8, scheme)
        assert np.isfinite(qt.scale) and np.isclose(qt.scale, 1.7e308 / 255 * 2, rtol=1e-15, atol=0)
        assert np.all(np.abs(qt.dequantize() - x) <= qt.scale / 2 * (1 + 1e-12))  # ends may lie half a step off the grid
    with pytest.raises(ValueError, match=r"power_of_two: the range \[-1.7e\+308, 1.7e\+308\] at 2 bits"):
        quantize(x, 2, power_of_two=True)


def test_calibration_methods():
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(3, 4000))
    rows[:, 0] = 40.0  # one outlier per row
    lo_m, hi_m = calibrate_rows(rows, 4, "symmetric", "minmax")
    lo_p, hi_p = calibrate_rows(rows, 4, "symmetric", "percentile", percentile=99.9)
    lo_e, hi_e = calibrate_rows(rows, 4, "symmetric", "mse")
    assert np.all(hi_m == 40.0) and np.all(hi_p < hi_m) and np.all(lo_p > lo_m)
    assert np.all(hi_e < hi_m)

    def err(lo, hi):
        out = []
        for r, a, b in zip(rows, lo, hi):
            out.append(np.mean((fake_quantize(r, 4, clip=(a, b)) - r) ** 2))
        return np.array(out)

    assert np.all(err(lo_e, hi_e) < 0.5 * err(lo_m, hi_m))
    assert np.all(err(lo_e, hi_e) <= err(lo_p, hi_p) * 1.05)


@pytest.mark.parametrize("call,match", [
    (lambda x: quantize(x, 1), r"bits must be in 2\.\.16, not 1"),
    (lambda x: quantize(x, 17), r"bits must be in 2\.\.16, not 17"),
    (lambda x: quantize(x, 4, scheme="signed"), r"scheme must be one of 'symmetric', 'asymmetric', not 'signed'"),
    (lambda x: quantize(x, 4, granularity="row"), r"granularity must be one of .*not 'row'"),
    (lambda x: quantize(x, 4, granularity="group", axis=1, group_size=4), r"group_size must divide the length 6 of axis 1, not 4"),
    (lambda x: quantize(x, 4, granularity="group", axis=1), r"granularity='group' needs group_size"),
    (lambda x: quantize(x, 4, granularity="channel", group_size=2), r"group_size is only used with granularity='group'"),
    (lambda x: quantize(x, 4, granularity="group", axis=1, group_size=0), r"group_size must be in 1\.\.6, not 0"),
    (lambda x: quantize(x, 4, granularity="channel", axis=2), r"axis must be in -2\.\.1, not 2"),
    (lambda x: quantize(x, 4, rounding="nearest"), r"rounding must be one of .*not 'nearest'"),
    (lambda x: quantize(x, 4, calibration="kl"), r"calibration must be one of 'minmax', 'percentile', 'mse', not 'kl'"),
    (lambda x: quantize(x, 4, calibration="percentile", percentile=30), r"percentile must be in \(50, 100\], not 30"),
    (lambda x: quantize(x[:0], 4), r"x must not be empty"),
    (lambda x: quantize(x, 4, clip=(1.0, -1.0)), r"clip must be \(lo, hi\) with lo <= hi, not \(1\.0, -1\.0\)"),
    (lambda x: quantize(np.where(x > 0, np.nan, x), 4), r"x must be finite"),
    (lambda x: log_quantize(x, 4, base=1.0), r"base must be > 1, not 1\.0"),
    (lambda x: ternarize(x, threshold=1.5), r"threshold must be in \[0, 1\), not 1\.5"),
])
def test_bad_input_names_field_value_and_range(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.linspace(-1, 1, 12).reshape(2, 6))


def test_bad_types_are_type_errors():
    with pytest.raises(TypeError, match=r"bits must be an integer \(2\.\.16\), not '8'"):
        quantize(np.ones(3), "8")
    with pytest.raises(TypeError, match="x must hold real numbers"):
        quantize(np.array(["a"]), 8)


# -- non-uniform, ternary, binary --------------------------------------------------

def test_log_quantizer_levels_are_powers_of_two():
    rng = np.random.default_rng(2)
    x = rng.normal(size=1000) * 3
    lq = log_quantize(x, 4)
    y = lq.dequantize()
    nonzero = y != 0
    assert np.all(np.log2(np.abs(y[nonzero])) == np.round(np.log2(np.abs(y[nonzero]))))
    assert len(np.unique(np.abs(y[nonzero]))) <= 2 ** 3 - 1
    assert np.all(np.sign(y[nonzero]) == np.sign(x[nonzero]))
    big = np.abs(x) >= 2.0 ** lq.min_exponent * np.sqrt(2)  # inside the exponent range: within a factor sqrt(2)
    ratio = np.abs(y[big] / x[big])
    assert np.all((ratio >= 2 ** -0.5 - 1e-12) & (ratio <= 2 ** 0.5 + 1e-12))
    assert np.all(y[np.abs(x) < 2.0 ** (lq.min_exponent - 0.5) * 0.99] == 0)
    assert lq.max_exponent == round(np.log2(np.abs(x).max()))
    assert np.all(log_quantize(np.zeros(4), 3).dequantize() == 0)


def test_binary_scale_is_least_squares_and_xnor_matches_float():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(5, 3, 3, 3))
    b = binarize(w, axis=0)
    assert np.allclose(b.alpha.reshape(-1), np.abs(w).mean(axis=(1, 2, 3)))
    assert set(np.unique(b.q)) <= {-1, 1}
    # alpha = mean|w| minimises ||w - alpha * sign(w)||^2 over alpha
    for m in range(5):
        err = lambda a: np.sum((w[m] - a * b.q[m]) ** 2)  # noqa: E731
        assert err(b.alpha.flat[m]) <= min(err(b.alpha.flat[m] * f) for f in (0.9, 0.99, 1.01, 1.1))
    x = rng.normal(size=(2, 3, 5, 5))
    xb = binarize(x, axis=1)
    # XNOR-popcount convolution of the bits, scaled by alpha, equals the float conv of the +-alpha weights
    got = conv2d_binary(np.where(x >= 0, 1, 0).astype(np.uint8), b.bits, 1, 1) * b.alpha.reshape(1, -1, 1, 1)
    assert np.allclose(got, conv2d_float(np.sign(x) + (x == 0), b.dequantize(), 1, 1))
    assert np.array_equal(xb.q, np.where(x >= 0, 1, -1))


def test_ternary_threshold_rule_and_identities():
    rng = np.random.default_rng(6)
    w = rng.normal(size=(4, 50))
    t = ternarize(w, axis=0, threshold=0.7)
    band = 0.7 * np.abs(w).mean(axis=1, keepdims=True)
    assert np.array_equal(t.q, np.where(np.abs(w) > band, np.sign(w), 0))
    support = t.q != 0
    for m in range(4):
        assert np.isclose(t.alpha.flat[m], np.abs(w[m][support[m]]).mean())
    # ternary values are a fixed point: ternarizing them again changes nothing
    again = ternarize(t.dequantize(), axis=0, threshold=0.7)
    assert np.allclose(again.dequantize(), t.dequantize())
    # threshold 0 keeps every sign: the binary quantizer (for data without zeros)
    assert np.allclose(ternarize(w, threshold=0.0).dequantize(), binarize(w).dequantize())
    with pytest.raises(ValueError, match="ternary values hold 0"):
        _ = t.bits
