"""Property-based tests (hypothesis) of the golden convolutions, loop nests and quantizers.

Each property is checked on random shapes, strides, paddings and bit widths
rather than on a hand-picked list: the vectorised convolution equals the
literal loop nest and the float64 reference, convolution is linear in its
input and in its weights, padding and striding mean what they say, batches
are independent, and the binary XNOR-popcount convolution equals the +1/-1
integer convolution.

Loop nests (:mod:`model.loopnest`, :func:`model.mapping.conv_mapping`): every
loop order, every tiling (remainders and tiles of tiles included) and every
mapping (chains in any order, spatial loops, any cuts) executes to the reference convolution.

Quantizers (:mod:`model.quant`): codes stay in the integer range, the step is
the documented one, quantize-dequantize is within half a step inside the
range, quantize is monotone, values past the range clip to the end codes,
per-channel and per-group quantization are per-tensor quantization of each
channel or group alone, and the binary / ternary / power-of-two codes lie in
their sets. Library defects the properties found (and that are now fixed)
have regression tests at the end.

Runs are deterministic under CI (``CI=true`` selects the derandomised
``ci`` profile; ``HYPOTHESIS_PROFILE`` overrides) and kept small so the
whole file takes seconds.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model.conv import conv2d_binary, conv2d_float, conv2d_int, conv2d_loops
from model.data import random_operands
from model.layer import ConvLayer
from model.loopnest import conv_nest, execute
from model.mapping import conv_mapping
from model.quant import (CALIBRATIONS, ROUNDING_MODES, SCHEMES, binarize, integer_range, log_quantize, quantize,
                         ternarize)
from model.quant.grid import SMALLEST_STEP, grid_parameters, quantize_values

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


# -- loop nests: every order and tiling is the same convolution -----------------------------------

DIMS = "nmcefrs"
#: Loop points a drawn nest may enumerate (the executor materialises every one; keeps examples at milliseconds).
MAX_POINTS = 100_000


def _run(nest, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return execute(nest, {"input": x, "weights": w})


@given(layer=layers(max_dim=5), order=st.permutations(DIMS), bits=st.integers(2, 16), seed=seeds)
def test_every_loop_order_equals_the_reference_conv(layer, order, bits, seed):
    """Any of the 5040 orders of the seven conv loops computes the literal seven-loop convolution.

    Interchange only reorders the additions into each output, so with exact
    integers the result may not change, whether the order is given to
    ``conv_nest`` or applied later with ``interchange``.
    """
    x, w = _operands(layer, bits, seed)
    ref = conv2d_loops(x, w, layer.stride, layer.pad)
    assert np.array_equal(_run(conv_nest(layer, "".join(order)), x, w), ref)
    assert np.array_equal(_run(conv_nest(layer).interchange(order), x, w), ref)


@st.composite
def tiled_conv_nests(draw):
    """A small layer and its conv nest with each loop tiled 0..2 times, then every loop permuted.

    Tile sizes run from 1 to one past the bound, so remainders (guards), exact
    tiles and tiles larger than the loop all occur; the second split of a loop
    may cut its outer or its inner part (guards rewritten through a tile).
    """
    layer = draw(layers(max_dim=4, max_channels=2, max_filters=2))
    nest = conv_nest(layer)
    for d in DIMS:
        name = d
        for level in range(draw(st.integers(0, 2))):
            outer, inner = f"{d}{level}o", f"{d}{level}i"
            nest = nest.tile(name, draw(st.integers(1, nest.loop(name).bound + 1)), outer, inner)
            name = draw(st.sampled_from((outer, inner)))
    nest = nest.interchange(draw(st.permutations(nest.names)))
    if draw(st.booleans()):
        nest = nest.squeeze()
    assume(math.prod(lp.bound for lp in nest.loops) <= MAX_POINTS)
    return layer, nest


@given(case=tiled_conv_nests(), bits=st.integers(2, 16), seed=seeds)
def test_every_tiling_and_loop_order_equals_the_reference_conv(case, bits, seed):
    """Tiling (with remainder guards) and interchange keep the iteration set, so the conv is unchanged.

    A guard that drops too few iterations adds products twice, one that drops
    too many loses them: either changes an output against ``conv2d_loops``.
    """
    layer, nest = case
    x, w = _operands(layer, bits, seed)
    assert np.array_equal(_run(nest, x, w), conv2d_loops(x, w, layer.stride, layer.pad)), str(nest)


@st.composite
def conv_mappings(draw):
    """A small layer and a :func:`conv_mapping` of it: random chains, spatial loops, any order and cuts."""
    layer = draw(layers(max_dim=4, max_channels=2, max_filters=2))
    full = dict(zip(DIMS, (layer.N, layer.M, layer.C, layer.E, layer.F, layer.R, layer.S)))
    spatial = draw(st.permutations(DIMS))[:draw(st.integers(0, 2))]
    tiles, temporal = {}, []
    for d in DIMS:
        t2 = draw(st.integers(1, full[d] + 1))
        t1 = draw(st.integers(1, t2))
        tiles[d] = ((f"{d}3", t2), (f"{d}2", t1), (f"{d}1", 1))
        temporal += [f"{d}3", f"{d}2"] + ([] if d in spatial else [f"{d}1"])
    order = draw(st.permutations(temporal))
    cuts = lambda: sorted(draw(st.integers(0, len(order))) for _ in range(2))  # noqa: E731
    keep = {t: (*cuts(), draw(st.sampled_from(("REG", "RF")))) for t in ("input", "weights", "output")}
    mapping = conv_mapping(layer, tiles=tiles, order=order, rows=[f"{d}1" for d in spatial[:1]],
                           cols=[f"{d}1" for d in spatial[1:]], keep=keep)
    assume(math.prod(lp.bound for lp in mapping.nest.loops) <= MAX_POINTS)
    return layer, mapping


@given(case=conv_mappings(), bits=st.integers(2, 16), seed=seeds)
def test_every_mapping_equals_the_reference_conv(case, bits, seed):
    """A mapping (three-level chains in any order, spatial loops, any cuts) still computes the conv.

    ``conv_mapping`` builds its own split loops and remainder guards (not
    through ``LoopNest.tile``), so its nests are checked separately.
    """
    layer, mapping = case
    x, w = _operands(layer, bits, seed)
    assert np.array_equal(_run(mapping.nest, x, w), conv2d_int(x, w, layer.stride, layer.pad)), str(mapping.nest)


# -- grouped and depthwise convolution --------------------------------------------------------------


@st.composite
def grouped_layers(draw, max_dim: int = 6, max_groups: int = 4) -> ConvLayer:
    """A small valid grouped layer: 1..4 groups of 1..3 channels and 1..3 filters (depthwise included)."""
    base = draw(layers(max_dim=max_dim, max_channels=1, max_filters=1))
    groups = draw(st.integers(1, max_groups))
    return ConvLayer(**base.to_dict() | {"C": groups * draw(st.integers(1, 3)), "M": groups * draw(st.integers(1, 3)),
                                         "groups": groups})


def _block_diagonal(layer: ConvLayer, w: np.ndarray) -> np.ndarray:
    """Ungrouped MCRS weights equal to grouped ``w``: each filter's group channels, zeros elsewhere."""
    full = np.zeros((layer.M, layer.C, layer.R, layer.S), np.int64)
    for m in range(layer.M):
        g = m // layer.group_filters
        full[m, g * layer.group_channels:(g + 1) * layer.group_channels] = w[m]
    return full


@given(layer=grouped_layers(), bits=st.integers(2, 16), seed=seeds)
def test_grouped_conv_is_the_ungrouped_conv_of_each_group(layer, bits, seed):
    """A grouped conv equals the concatenated ungrouped convs of each group's slices, and the
    ungrouped conv with block-diagonal (zero outside the group) weights."""
    x, w = _operands(layer, bits, seed)
    args = (layer.stride, layer.pad)
    out = conv2d_int(x, w, *args, layer.groups)
    assert out.shape == layer.output_shape
    slices = zip(np.split(x, layer.groups, axis=1), np.split(w, layer.groups, axis=0))
    assert np.array_equal(out, np.concatenate([conv2d_loops(xg, wg, *args) for xg, wg in slices], axis=1))
    assert np.array_equal(out, conv2d_int(x, _block_diagonal(layer, w), *args))
    assert np.array_equal(out, conv2d_loops(x, w, *args, layer.groups))
    assert np.array_equal(out, conv2d_float(x, w, *args, layer.groups).astype(np.int64))


@given(layer=grouped_layers(), seed=seeds)
def test_grouped_binary_equals_plus_minus_one_grouped_conv(layer, seed):
    xb, wb = _operands(layer, 1, seed)
    expected = conv2d_int(2 * xb - 1, _block_diagonal(layer, 2 * wb - 1), layer.stride, layer.pad)
    assert np.array_equal(conv2d_binary(xb, wb, layer.stride, layer.pad, layer.groups), expected)


@given(layer=grouped_layers(max_dim=4, max_groups=3), order=st.permutations("ngmcefrs"), bits=st.integers(2, 16),
       seed=seeds)
def test_every_grouped_loop_order_and_group_tiling_equals_the_grouped_conv(layer, order, bits, seed):
    """The grouped nest (a group loop ``g``; ``m`` and ``c`` within the group) in any order, and with
    the group loop tiled by 2 (a remainder when G is odd), is the grouped conv."""
    assume(layer.groups > 1)
    x, w = _operands(layer, bits, seed)
    ref = conv2d_int(x, _block_diagonal(layer, w), layer.stride, layer.pad)
    assert np.array_equal(_run(conv_nest(layer, "".join(order)), x, w), ref)
    tiled_order = [name for d in order for name in (("g_o", "g_i") if d == "g" else (d,))]
    assert np.array_equal(_run(conv_nest(layer).tile("g", 2).interchange(tiled_order), x, w), ref)


# -- quantizers: integer range, round-trip error, monotonicity, clipping, granularity, code sets --------------

NEAREST = tuple(m for m in ROUNDING_MODES if m != "floor")
reals = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
real_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), elements=reals)


@st.composite
def real_ranges(draw) -> tuple[float, float]:
    """A calibration range ``lo <= hi`` (empty, one-sided or straddling zero)."""
    a, b = draw(reals), draw(reals)
    return min(a, b), max(a, b)


def _stored_range(bits: int, scheme: str) -> tuple[int, int]:
    """The documented stored range, written out independently of ``integer_range``."""
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if scheme == "symmetric" else (0, 2**bits - 1)


def _grid_ends(lo: float, hi: float, scheme: str) -> tuple[float, float]:
    """The real range the grid must cover: ``[-A, A]`` (symmetric) or ``[lo, hi]`` widened to contain 0."""
    if scheme == "symmetric":
        a = max(abs(lo), abs(hi))
        return -a, a
    return min(lo, 0.0), max(hi, 0.0)


def _expected_step(lo: float, hi: float, bits: int, scheme: str) -> float:
    """The documented step: the grid's real width over ``2**bits - 1`` intervals.

    At least the smallest normal float64 (a subnormal step loses precision or
    underflows to 0), and 1.0 for a zero width.
    """
    glo, ghi = _grid_ends(lo, hi, scheme)
    return max((ghi - glo) / (2**bits - 1), SMALLEST_STEP) if ghi > glo else 1.0


@given(x=real_arrays, bits=st.integers(2, 16), scheme=st.sampled_from(SCHEMES),
       calibration=st.sampled_from(CALIBRATIONS), power_of_two=st.booleans(), rounding=st.sampled_from(ROUNDING_MODES),
       clip=st.none() | real_ranges())
def test_codes_lie_in_the_integer_range(x, bits, scheme, calibration, power_of_two, rounding, clip):
    """Every code and zero point fits the stored ``bits``-bit range, whatever the values and calibration.

    Values far outside a given ``clip`` range must saturate, never wrap or
    overflow; the range is the documented one (signed / unsigned ``bits``-bit).
    """
    qmin, qmax = _stored_range(bits, scheme)
    assert integer_range(bits, scheme) == (qmin, qmax)
    qt = quantize(x, bits, scheme, calibration=calibration, power_of_two=power_of_two, rounding=rounding, clip=clip)
    assert qt.q.dtype == np.int64 and qt.q.shape == x.shape
    assert (qt.qmin, qt.qmax) == (qmin, qmax)
    assert np.all((qt.q >= qmin) & (qt.q <= qmax))
    assert qmin <= qt.zero_point <= qmax and qt.scale > 0
    if scheme == "symmetric":
        assert qt.zero_point == 0


@given(lo_hi=real_ranges(), fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
       bits=st.integers(2, 16), scheme=st.sampled_from(SCHEMES), power_of_two=st.booleans(),
       rounding=st.sampled_from(ROUNDING_MODES))
def test_dequantize_is_within_half_a_step_inside_the_range(lo_hi, fractions, bits, scheme, power_of_two, rounding):
    """Inside the calibrated range, ``|dequantize(quantize(x)) - x| <= scale / 2`` (``< scale`` for floor).

    The step is first checked against the documented formula (a power of two
    in ``[step, 2 * step)`` when ``power_of_two``) so that the bound cannot be
    met by a needlessly coarse grid; real 0.0 must come back exactly.
    """
    lo, hi = lo_hi
    glo, ghi = _grid_ends(lo, hi, scheme)
    x = np.clip(glo + np.array(fractions) * (ghi - glo), glo, ghi)
    x = np.concatenate([x, [lo, hi, glo, ghi, 0.0]])
    qt = quantize(x, bits, scheme, clip=(lo, hi), power_of_two=power_of_two, rounding=rounding)
    step = _expected_step(lo, hi, bits, scheme)
    if power_of_two:
        assert np.frexp(qt.scale)[0] == 0.5 and step * (1 - 1e-12) <= qt.scale < 2 * step * (1 + 1e-12)
    else:
        assert math.isclose(qt.scale, step, rel_tol=1e-12)
    err = np.abs(qt.dequantize() - x)
    bound = qt.scale if rounding == "floor" else qt.scale / 2
    assert np.all(err <= bound + 1e-9 * (np.abs(x) + qt.scale)), (err.max(), qt.scale)
    assert qt.dequantize()[-1] == 0.0
    # the whole-tensor minmax calibration covers every value, so the same bound holds
    qt = quantize(x, bits, scheme, power_of_two=power_of_two, rounding=rounding)
    bound = qt.scale if rounding == "floor" else qt.scale / 2
    assert np.all(np.abs(qt.dequantize() - x) <= bound + 1e-9 * (np.abs(x) + qt.scale))


@given(x=st.lists(reals, min_size=2, max_size=40), lo_hi=real_ranges(), bits=st.integers(2, 16),
       scheme=st.sampled_from(SCHEMES), power_of_two=st.booleans(), rounding=st.sampled_from(ROUNDING_MODES))
def test_quantize_is_monotone(x, lo_hi, bits, scheme, power_of_two, rounding):
    """On one grid, a larger real never gets a smaller code (rounding and clamping are monotone).

    Checked on values inside and outside the range, and on the grid map
    ``quantize_values`` with the grid of ``grid_parameters`` directly.
    """
    x = np.sort(np.array(x))
    q = quantize(x, bits, scheme, clip=lo_hi, power_of_two=power_of_two, rounding=rounding).q
    assert np.all(np.diff(q) >= 0), q
    scale, zero = grid_parameters(*lo_hi, bits, scheme, power_of_two, rounding)
    assert np.all(np.diff(quantize_values(x, scale, zero, bits, scheme, rounding)) >= 0)


@given(lo_hi=real_ranges(), beyond=st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=10),
       bits=st.integers(2, 16), scheme=st.sampled_from(SCHEMES), rounding=st.sampled_from(ROUNDING_MODES))
def test_values_outside_the_range_clip_to_the_end_codes(lo_hi, beyond, bits, scheme, rounding):
    """Past the covered range, codes saturate at ``qmin`` / ``qmax``.

    The covered range is ``[-A, A]`` (symmetric) or ``[lo, hi]`` widened to 0
    (asymmetric). With rounding to nearest any value beyond it clips; with
    floor rounding a value one step beyond it does. Distances are in steps.
    Ranges whose step is raised (to 1.0 for an all-zero range, to the
    smallest normal float64 for a tinier step) are left out: their grids
    cover more than the range.
    """
    lo, hi = lo_hi
    qmin, qmax = _stored_range(bits, scheme)
    glo, ghi = _grid_ends(lo, hi, scheme)
    assume((ghi - glo) / (2**bits - 1) >= SMALLEST_STEP)  # the step is the width over 2**bits - 1 intervals
    step = _expected_step(lo, hi, bits, scheme)
    d = np.array(beyond) + (1.0 if rounding == "floor" else 0.0)
    qt = quantize(np.concatenate([ghi + d * step, glo - d * step]), bits, scheme, clip=(lo, hi), rounding=rounding)
    assert np.all(qt.q[:len(d)] == qmax), qt.q
    assert np.all(qt.q[len(d):] == qmin), qt.q


@st.composite
def channel_cases(draw):
    """A real array, a channel axis and a group size dividing that axis."""
    x = draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), elements=reals))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    length = x.shape[axis]
    group = draw(st.sampled_from([g for g in range(1, length + 1) if length % g == 0]))
    return x, axis, group


@given(case=channel_cases(), bits=st.integers(2, 16), scheme=st.sampled_from(SCHEMES),
       calibration=st.sampled_from(CALIBRATIONS), power_of_two=st.booleans(), rounding=st.sampled_from(ROUNDING_MODES))
def test_per_channel_and_group_equal_per_tensor_of_each_slice(case, bits, scheme, calibration, power_of_two, rounding):
    """Per-channel (per-group) quantization of a channel (group) is per-tensor quantization of it alone.

    Granularity only decides which values share a grid: a channel's codes,
    step and zero point may not depend on the other channels, on the axis
    chosen, or on where the channel sits.
    """
    x, axis, group = case
    opts = dict(calibration=calibration, power_of_two=power_of_two, rounding=rounding)
    for granularity, size in (("channel", 1), ("group", group)):
        qt = quantize(x, bits, scheme, granularity, axis, group if granularity == "group" else None, **opts)
        for start in range(0, x.shape[axis], size):
            idx = np.arange(start, start + size)
            alone = quantize(np.take(x, idx, axis), bits, scheme, **opts)
            assert np.array_equal(np.take(qt.q, idx, axis), alone.q), (granularity, start)
            assert np.all(np.take(qt.scale, idx, axis) == alone.scale), (granularity, start)
            assert np.all(np.take(qt.zero_point, idx, axis) == alone.zero_point), (granularity, start)


@given(x=real_arrays, data=st.data())
def test_binary_and_ternary_codes_lie_in_their_sets(x, data):
    """Binary codes are the signs ``{-1, +1}`` of ``x`` (``sign(0) = +1``); ternary ones are in ``{-1, 0, +1}``.

    The binary scale is each channel's mean ``|x|``; a non-zero ternary code
    has the sign of its value, and the stored binary bits are ``(q + 1) / 2``.
    """
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    b = binarize(x, axis)
    assert set(np.unique(b.q)) <= {-1, 1}
    assert np.array_equal(b.q, np.where(x < 0, -1, 1))
    assert np.array_equal(b.bits, (b.q + 1) // 2)
    mean_abs = np.abs(x).mean(axis=tuple(i for i in range(x.ndim) if i != axis % x.ndim), keepdims=True)
    assert np.allclose(b.alpha, mean_abs, rtol=1e-12, atol=0)
    t = ternarize(x, axis, threshold=data.draw(st.floats(0.0, 0.99)))
    assert set(np.unique(t.q)) <= {-1, 0, 1}
    assert np.all((t.q == 0) | (np.sign(t.q) == np.sign(x)))
    assert np.all(t.alpha >= 0)


@given(x=real_arrays, bits=st.integers(2, 16), rounding=st.sampled_from(NEAREST))
def test_power_of_two_codes_are_signed_powers_of_two(x, bits, rounding):
    """Base-2 log quantization gives 0 or ``sign(x) * 2**e``, ``e`` among ``2**(bits-1) - 1`` exponents.

    With rounding to nearest in the log domain a kept value is within half an
    octave of its level, and a dropped non-zero value is below the smallest
    level's half octave.
    """
    lq = log_quantize(x, bits, base=2.0, rounding=rounding)
    v = lq.dequantize()
    assert set(np.unique(lq.sign)) <= {-1, 0, 1}
    nz = v != 0
    assert np.all(np.frexp(np.abs(v[nz]))[0] == 0.5)  # exact powers of two
    assert np.all(np.sign(v[nz]) == np.sign(x[nz]))
    if not np.any(x):
        assert not np.any(nz)
        return
    assert lq.max_exponent - lq.min_exponent + 1 == 2 ** (bits - 1) - 1
    assert np.all((lq.exponent >= lq.min_exponent) & (lq.exponent <= lq.max_exponent))
    log2 = np.log2(np.abs(x[nz]))
    assert np.all(np.abs(log2 - lq.exponent[nz]) <= 0.5 + 1e-12)
    dropped = (~nz) & (x != 0)
    assert np.all(np.log2(np.abs(x[dropped])) <= lq.min_exponent - 0.5 + 1e-12)


# -- library defects these properties found, now fixed (regression tests) --------------------------------


def test_a_nest_without_loops_runs_its_one_iteration():
    """A 1x1 conv of one pixel squeezes to a nest without loops, which still has one iteration.

    ``conv_mapping`` always squeezes, so every mapping of such a layer used
    to fail to execute (``LoopNest.loop_values`` could not enumerate zero loops).
    """
    layer = ConvLayer(N=1, C=1, H=1, W=1, M=1, R=1, S=1)
    x, w = np.array([[[[3]]]]), np.array([[[[-5]]]])
    nest = conv_nest(layer).squeeze()
    assert nest.loops == () and nest.loop_values().shape == (1, 0)
    assert np.array_equal(_run(nest, x, w), [[[[-15]]]])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_tiny_nonzero_range_still_gets_a_positive_step(scheme):
    """A range narrower than ``(2**bits - 1) * 2.2e-308`` gets the smallest normal step, not 0 (or a subnormal).

    The step used to underflow to 0.0 (codes ``-2**63``, divide-by-zero
    warnings, which are errors in this suite).
    """
    x = np.array([0.0, 5e-324])
    qmin, qmax = _stored_range(8, scheme)
    qt = quantize(x, 8, scheme)
    assert qt.scale == SMALLEST_STEP and np.all((qt.q >= qmin) & (qt.q <= qmax)) and qmin <= qt.zero_point <= qmax
    assert np.all(np.abs(qt.dequantize() - x) <= qt.scale / 2)


def test_values_far_past_a_tiny_grid_saturate_silently():
    """``x / scale`` may overflow float64 (1e6 on a step of 1e-300); the code is still the end code, without warnings."""
    qt = quantize(np.array([1e6, 0.0, -1e6]), 8, "asymmetric", clip=(0.0, 1e-300))
    assert np.array_equal(qt.q, [255, 0, 0])
    qt = quantize(np.array([1e6, 0.0, -1e6]), 8, "symmetric", clip=(0.0, 5e-324))
    assert np.array_equal(qt.q, [127, 0, -128])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_log_quantize_of_exact_zeros_is_silent():
    """Exact zeros (pruned weights, ReLU outputs) are ordinary input and must not warn (warnings are errors here).

    ``log_quantize`` used to round ``log(0) = -inf`` ("invalid value" RuntimeWarnings).
    """
    lq = log_quantize(np.array([0.0, 1.0, -4.0, -0.0]), 4)
    assert np.array_equal(lq.sign, [0, 1, -1, 0])
    assert np.array_equal(lq.dequantize(), [0.0, 1.0, -4.0, 0.0])
