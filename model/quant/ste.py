"""Straight-through estimators for quantization-aware training.

Quantizers have zero gradient almost everywhere, so training uses their
forward value with a surrogate gradient: the identity inside the clipping
range and zero outside it (where the output is pinned to an end of the grid
and moving the input changes nothing). Each function returns the forward
value and that 0/1 mask; the backward pass is ``grad_x = grad_y * mask``.
"""

from __future__ import annotations

import numpy as np

from model.quant.uniform import quantize

__all__ = ["fake_quantize_ste", "sign_ste"]


def fake_quantize_ste(x, bits: int, scheme: str = "symmetric", granularity: str = "tensor", axis: int = 0,
                      group_size: int | None = None, **options) -> tuple[np.ndarray, np.ndarray]:
    """Fake-quantize ``x`` and return the straight-through mask.

    Takes :func:`model.quant.quantize`'s arguments. The mask is 1 where the
    clamp to ``[qmin, qmax]`` is inactive, i.e. ``x`` in
    ``[scale * (qmin - zero_point - 1/2), scale * (qmax - zero_point + 1/2)]``,
    and 0 elsewhere.

    Returns
    -------
    y : ndarray
        ``quantize(x, ...).dequantize()``, float64.
    mask : ndarray
        float64 0/1, the shape of ``x``.
    """
    qt = quantize(x, bits, scheme, granularity, axis, group_size, **options)
    x = np.asarray(x, dtype=np.float64)
    lo = qt.scale * (qt.qmin - qt.zero_point - 0.5)
    hi = qt.scale * (qt.qmax - qt.zero_point + 0.5)
    return qt.dequantize(), ((x >= lo) & (x <= hi)).astype(np.float64)


def sign_ste(x, clip: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``sign(x)`` with ``sign(0) = +1``, and the mask ``|x| <= clip`` (the hard-tanh estimator).

    Returns
    -------
    y : ndarray
        float64 in {-1, +1}.
    mask : ndarray
        float64 0/1.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, 1.0, -1.0), (np.abs(x) <= clip).astype(np.float64)
