"""``exp``, ``log`` and ``cos`` from IEEE basic operations only: the same bits on every CPU.

Why. numpy picks its float64 ``exp`` and ``log`` by the CPU it runs on: with
AVX-512 it uses its own vector code, without it the C library's. The two
differ in the last bit for some inputs (measured here: ``np.exp``, ``np.log``,
``np.power``, ``np.exp2``, ``np.log2`` change under
``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL"``; sums, ``einsum``, matrix
products, ``np.cos`` and every basic operation do not, and neither does the
number of BLAS threads). Plain training shrugs that off, but quantization-aware
training does not: one last-bit difference in a softmax moves a weight across
a rounding boundary, and from there the runs diverge (QAT-2 97.77% against
95.54% on the same data, seed and code). The digits CNN's training therefore
uses these functions, built from ``+ - * /``, ``rint``, ``frexp`` and
``ldexp`` (each exactly rounded by IEEE 754, one ufunc at a time, so no
fused multiply-add can change them): the study gives the same numbers on any
machine.

Accuracy: within a few units in the last place of the true value (checked
against numpy in the tests); speed: about ten ufunc passes, negligible on the
network's 32 x 10 logits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["exp", "log", "cos"]

# Cody-Waite splits: the high parts have trailing zero bits, so k * HI is exact for |k| < 2**11.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_PIO2_HI = 1.57079632673412561417e+00
_PIO2_LO = 6.07710050650619224932e-11
# Beyond these, exp over- or underflows (to inf, or to 0 through the subnormals).
_EXP_MAX, _EXP_MIN = 709.782712893384, -745.1332191019412


def _horner(x: np.ndarray, coefficients) -> np.ndarray:
    """``sum(c[i] * x**i)`` by Horner's rule, highest coefficient first in ``coefficients``."""
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def _inverse_factorials(n: int) -> list[float]:
    """``1/n!, 1/(n-1)!, ..., 1/0!`` (each the double nearest the exact fraction)."""
    out, f = [], 1
    for k in range(n + 1):
        out.append(1.0 / f)
        f *= k + 1
    return out[::-1]


_EXP_TAYLOR = _inverse_factorials(13)  # |r| <= ln2/2: the first left-out term is below 2**-58


def exp(x) -> np.ndarray:
    """``e**x``, float64, elementwise; ``inf`` above about 709.78, 0 below about -745.13, NaN stays NaN."""
    x = np.asarray(x, dtype=np.float64)
    clipped = np.clip(np.where(np.isnan(x), 0.0, x), _EXP_MIN - 1.0, _EXP_MAX + 1.0)
    k = np.rint(clipped * (1.0 / _LN2_HI))
    r = (clipped - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln2 / 2 (plus rounding)
    with np.errstate(over="ignore", under="ignore"):  # past the ends the result is inf or 0, as intended
        out = np.ldexp(_horner(r, _EXP_TAYLOR), k.astype(np.int64))
    out = np.where(x > _EXP_MAX, np.inf, np.where(x < _EXP_MIN, 0.0, out))
    return np.where(np.isnan(x), np.nan, out)


# log(m) = 2 atanh(s) = 2 (s + s**3/3 + s**5/5 + ...), s = (m-1)/(m+1), |s| <= 0.172: 12 terms reach 2**-60.
_ATANH_SERIES = [1.0 / (2 * k + 1) for k in range(11, -1, -1)]


def log(x) -> np.ndarray:
    """Natural logarithm, float64, elementwise; ``-inf`` at 0, NaN below 0 and for NaN, ``inf`` at ``inf``."""
    x = np.asarray(x, dtype=np.float64)
    normal = np.isfinite(x) & (x > 0)
    m, e = np.frexp(np.where(normal, x, 1.0))  # x = m * 2**e, m in [1/2, 1)
    small = m < np.sqrt(0.5)
    m = np.where(small, 2.0 * m, m)  # now m in [sqrt(1/2), sqrt(2))
    e = (e - small).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    log_m = 2.0 * s * _horner(s * s, _ATANH_SERIES)
    out = e * _LN2_HI + (log_m + e * _LN2_LO)
    special = np.where(x == 0, -np.inf, np.where(x == np.inf, np.inf, np.nan))
    return np.where(normal, out, special)


_SIN_TAYLOR = [(-1) ** (k // 2) * c for k, c in enumerate(_inverse_factorials(19)[::-1]) if k % 2][::-1]
_COS_TAYLOR = [(-1) ** (k // 2) * c for k, c in enumerate(_inverse_factorials(18)[::-1]) if k % 2 == 0][::-1]


def cos(x) -> np.ndarray:
    """Cosine, float64, elementwise, for ``|x| <= 1e5`` (where the one-step argument reduction is exact enough).

    ``x = k * pi/2 + r`` with ``|r| <= pi/4``; then ``cos x`` is ``cos r``,
    ``-sin r``, ``-cos r`` or ``sin r`` by ``k mod 4``, each a Taylor series.
    """
    x = np.asarray(x, dtype=np.float64)
    if np.any(~(np.abs(x) <= 1e5)):
        raise ValueError(f"cos takes finite |x| <= 1e5, not {float(x[~(np.abs(x) <= 1e5)].flat[0])!r}")
    k = np.rint(x * (1.0 / _PIO2_HI))
    r = (x - k * _PIO2_HI) - k * _PIO2_LO
    r2 = r * r
    c = _horner(r2, _COS_TAYLOR)
    s = r * _horner(r2, _SIN_TAYLOR)
    quadrant = k.astype(np.int64) % 4
    return np.choose(quadrant, [c, -s, -c, s])
