"""Integer host operations with ONNX Runtime's CPU semantics, bit for bit, and each rounding rule stated.

Every quantized tensor holds integers ``q`` of a :class:`QType` with a per-tensor
``scale`` (float32) and ``zero_point``: real value ``scale * (q - zero_point)``.
The rules below are those of ONNX Runtime's CPU kernels (MLAS) on x86-64 with
AVX2/FMA, read from its source and checked value by value against ONNX Runtime
by the tests. ``fl(.)`` is rounding to the nearest float32 (ties to even), ``rne``
rounding a float32 to the nearest integer with ties to even (the CPU's default
mode, ``_mm_cvtps_epi32``, ``std::nearbyintf``), ``sat`` clamping to the type's
range. Every float operation is a float32 operation unless a fused
multiply-add (one rounding) is named.

=============================  ==================================================================
operation                      rule
=============================  ==================================================================
dequantize                     ``fl(float(q - z) * s)`` (``DequantizeLinear``)
quantize                       ``sat(rne(fl(v / s)) + z)`` (``MlasQuantizeLinear``: a division)
requantize accumulators        ``sat(rne(fl(fl(acc + bias) * m)) + z)`` with ``m = fl(fl(sx * sw) / sy)``
                               (``MlasRequantizeOutput``: QLinearConv, QGemm, QLinearMatMul)
add (fused, ``QLinearAdd``)    ``ra = fl(sa / sc)``, ``rb = fl(sb / sc)``,
                               ``k = fl(zc - fma(ra, za, fl(rb * zb)))``,
                               ``sat(rne(fma(a, ra, fma(b, rb, k))))`` (``MlasQLinearAddKernelAvx2``)
average pool (fused)           float32 sum of the dequantized window in row-major order, ``fl(sum / n)``,
                               then ``sat(rne(fl(fl(v / s) + z)))`` (``QLinearAveragePool``; the zero
                               point is added *before* rounding)
global average pool (fused)    requantize accumulators with ``acc = sum(q) - zx * HW`` and
                               ``m = fl(sx / fl(sy * HW))`` (``MlasQLinearGlobalAveragePool``)
max pool                       exact integer maximum over the window, padding excluded
requantize element-wise        ``quantize(dequantize(q))`` (``QLinearConcat``, and a scale change
                               around MaxPool, Flatten or Reshape, which ONNX Runtime runs in float)
Relu, Clip, add (float path)   ``quantize(f(dequantize(...)))`` with ``f`` in float32
=============================  ==================================================================

Every function takes and returns int64 arrays of ``q`` values (the ONNX
tensor's values, e.g. 0..255 for uint8), except :func:`dequantize` (float32).
On CPUs without AVX2 ONNX Runtime adds with a different kernel; the
comparison (``qconv run --compare``) would show it.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

__all__ = [
    "QType", "fma32", "dequantize", "quantize", "requantize_accumulators", "accumulator_scale",
    "qlinear_add", "float_add", "average_pool", "global_average_pool", "max_pool", "requantize_elementwise",
    "activation", "pad_windows",
]

_F32 = np.float32


class QType(StrEnum):
    """Integer element types of quantized tensors (ONNX ``uint8`` and ``int8``)."""

    UINT8 = "uint8"
    INT8 = "int8"

    @property
    def lo(self) -> int:
        """Smallest value."""
        return 0 if self is QType.UINT8 else -128

    @property
    def hi(self) -> int:
        """Largest value."""
        return 255 if self is QType.UINT8 else 127

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype ONNX Runtime returns."""
        return np.dtype(self.value)


def fma32(a, b, c) -> np.ndarray:
    """Fused multiply-add in float32: ``a * b + c`` rounded once to float32 (ties to even).

    The product of two float32 values is exact in float64; the float64 sum
    ``s`` and its exact error ``e`` (Knuth's two-sum) give the exact result
    ``s + e``. Rounding ``s`` to float32 is then correct except when ``s``
    lies exactly halfway between two float32 values and ``e != 0`` (a double
    rounding); there the result is the neighbour on the side of ``e``.
    """
    a, b, c = (np.asarray(v, dtype=_F32).astype(np.float64) for v in (a, b, c))
    p = a * b
    s = p + c
    t = s - p
    e = (p - (s - t)) + (c - t)
    r = s.astype(_F32)
    toward = np.where(s > r, np.inf, -np.inf).astype(_F32)
    other = np.nextafter(r, toward)
    midpoint = (r.astype(np.float64) + other.astype(np.float64)) / 2
    fix = (e != 0) & (s != r) & (s == midpoint)
    if not fix.any():
        return r
    pick_other = (e > 0) == (other > r)
    return np.where(fix & pick_other, other, r).astype(_F32)


def _saturate(values: np.ndarray, qtype: QType) -> np.ndarray:
    return np.clip(values, qtype.lo, qtype.hi).astype(np.int64)


def _rne(v: np.ndarray) -> np.ndarray:
    """float32 to integer, ties to even, as int64 (values beyond the int64 range never reach here)."""
    return np.rint(np.asarray(v, dtype=_F32)).astype(np.int64)


def dequantize(q: np.ndarray, scale, zero_point) -> np.ndarray:
    """``fl(float(q - z) * s)``: float32 real values (``DequantizeLinear``).

    ``scale`` and ``zero_point`` are scalars or arrays broadcasting against ``q``.
    """
    centred = (np.asarray(q, dtype=np.int64) - np.asarray(zero_point, dtype=np.int64)).astype(_F32)
    return centred * np.asarray(scale, dtype=_F32)


def quantize(v: np.ndarray, scale, zero_point: int, qtype: QType) -> np.ndarray:
    """``sat(rne(fl(v / s)) + z)`` (``QuantizeLinear``, MLAS: a float32 division, then rounding)."""
    scaled = np.asarray(v, dtype=_F32) / _F32(scale)
    return _saturate(_rne(scaled) + int(zero_point), qtype)


def accumulator_scale(input_scale, weight_scale, output_scale) -> np.ndarray:
    """``m = fl(fl(sx * sw) / sy)``, float32, one per weight scale (QLinearConv's ``output_scales``)."""
    product = _F32(input_scale) * np.asarray(weight_scale, dtype=_F32).reshape(-1)
    return product / _F32(output_scale)


def requantize_accumulators(acc: np.ndarray, scale: np.ndarray, zero_point: int, qtype: QType,
                            axis: int = 1) -> np.ndarray:
    """``sat(rne(fl(fl(acc) * m)) + z)`` (``MlasRequantizeOutput``), bias already in ``acc``.

    Parameters
    ----------
    acc : ndarray
        int32-range integers (accumulator plus bias).
    scale : ndarray
        float32 multipliers ``m``: one value, or one per channel along ``axis``.
    zero_point : int
        Output zero point.
    qtype : QType
        Output type.
    axis : int
        Channel axis of ``acc`` for per-channel ``scale``.
    """
    acc = np.asarray(acc, dtype=np.int64)
    m = np.asarray(scale, dtype=_F32).reshape(-1)
    if m.size > 1:
        shape = [1] * acc.ndim
        shape[axis] = m.size
        m = m.reshape(shape)
    product = acc.astype(_F32) * m
    return _saturate(_rne(product) + int(zero_point), qtype)


def qlinear_add(a: np.ndarray, sa, za: int, b: np.ndarray, sb, zb: int, sc, zc: int, qtype: QType) -> np.ndarray:
    """Fused quantized add (``QLinearAdd``, ``MlasQLinearAddKernelAvx2``): see the module table.

    ``a`` and ``b`` have the same shape (no broadcasting).
    """
    ra, rb = _F32(sa) / _F32(sc), _F32(sb) / _F32(sc)
    fixed = _F32(zc) - fma32(ra, _F32(za), rb * _F32(zb))
    partial = fma32(np.asarray(b, dtype=_F32), rb, fixed)
    return _saturate(_rne(fma32(np.asarray(a, dtype=_F32), ra, partial)), qtype)


def float_add(a: np.ndarray, sa, za: int, b: np.ndarray, sb, zb: int) -> np.ndarray:
    """The float path of a quantized add: ``fl(dequantize(a) + dequantize(b))`` (float32 values)."""
    return dequantize(a, sa, za) + dequantize(b, sb, zb)


def pad_windows(a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, int, int, int],
                fill) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows of an NCHW array and the mask of real (non-padded) positions.

    ``pads`` are (top, left, bottom, right). Returns ``windows`` of shape
    (N, C, E, F, R, S) (padded positions hold ``fill``) and ``real`` of shape
    (E, F, R, S).
    """
    top, left, bottom, right = pads
    width = ((0, 0), (0, 0), (top, bottom), (left, right))
    padded = np.pad(a, width, constant_values=fill)
    real = np.pad(np.ones(a.shape[2:], bool), width[2:], constant_values=False)
    view = np.lib.stride_tricks.sliding_window_view
    windows = view(padded, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return windows, view(real, kernel)[::stride[0], ::stride[1]]


def average_pool(q: np.ndarray, scale_in, zero_in: int, scale_out, zero_out: int, qtype: QType,
                 kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, int, int, int],
                 count_include_pad: bool) -> np.ndarray:
    """Fused quantized average pooling (``QLinearAveragePool``): see the module table.

    The float32 sum runs over the window's real positions in row-major order
    (a padded position adds an exact 0.0, which changes no sum); the count is
    ``R*S`` with ``count_include_pad``, else the number of real positions.
    """
    values = dequantize(q, scale_in, zero_in)
    windows, real = pad_windows(values, kernel, stride, pads, _F32(0))
    total = np.zeros(windows.shape[:4], dtype=_F32)
    for r in range(kernel[0]):
        for s in range(kernel[1]):
            total = total + windows[..., r, s]
    count = np.full(real.shape[:2], kernel[0] * kernel[1]) if count_include_pad else real.sum(axis=(2, 3))
    mean = total / count.astype(_F32)
    shifted = mean / _F32(scale_out) + _F32(zero_out)
    return _saturate(_rne(shifted), qtype)


def global_average_pool(q: np.ndarray, scale_in, zero_in: int, scale_out, zero_out: int, qtype: QType) -> np.ndarray:
    """Fused quantized global average pooling (``QLinearGlobalAveragePool``): N, C, 1, 1."""
    q = np.asarray(q, dtype=np.int64)
    size = q.shape[2] * q.shape[3]
    acc = q.sum(axis=(2, 3), keepdims=True) - int(zero_in) * size
    scale = _F32(scale_in) / (_F32(scale_out) * _F32(size))
    return requantize_accumulators(acc, scale, zero_out, qtype)


def max_pool(q: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             pads: tuple[int, int, int, int]) -> np.ndarray:
    """Integer max pooling over the real positions of each window (exact; padding never wins)."""
    lowest = np.iinfo(np.int64).min
    windows, _ = pad_windows(np.asarray(q, dtype=np.int64), kernel, stride, pads, lowest)
    return windows.max(axis=(4, 5))


def requantize_elementwise(q: np.ndarray, scale_in, zero_in: int, scale_out, zero_out: int,
                           qtype: QType) -> np.ndarray:
    """``quantize(dequantize(q))`` to another grid; the identity when the grids are equal."""
    if _F32(scale_in) == _F32(scale_out) and int(zero_in) == int(zero_out):
        return np.asarray(q, dtype=np.int64)
    return quantize(dequantize(q, scale_in, zero_in), scale_out, zero_out, qtype)


def activation(v: np.ndarray, lo, hi) -> np.ndarray:
    """Relu (``lo = 0``, ``hi = inf``) or Clip in float32: ``min(max(v, lo), hi)``."""
    return np.minimum(np.maximum(np.asarray(v, dtype=_F32), _F32(lo)), _F32(hi))
