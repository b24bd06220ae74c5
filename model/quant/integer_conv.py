"""Integer convolution with zero points, and its accelerator form.

With ``x ~ sx * (xq - zx)`` and ``w[m] ~ sw[m] * (wq[m] - zw[m])`` the real
convolution is ``sx * sw[m] * acc`` with the integer accumulator::

    acc[n, m, e, f] = sum over real (non-padded) positions of (xq - zx) * (wq - zw[m])

(a padded position stands for real 0). :func:`zero_point_conv` computes it
exactly from the raw stored integers, widened to int64 before any zero point
is subtracted, by the gemmlowp expansion::

    acc = conv(xq, wq) - zw[m] * conv(xq, 1) - zx * conv(1_real, wq) + zx * zw[m] * conv(1_real, 1)

where ``conv(xq, wq)`` is the raw product the accelerator computes
(:func:`model.conv.conv2d_int`) and ``1_real`` is 1 on real input positions.

The accelerator form (symmetric weights, ``zw = 0``): pad the input with its
zero point on the host (:func:`pad_with_zero_point`) and run the layer with
``pad=0``; then ``acc = conv(xq_padded, wq) - zx * sum(wq[m])``, and the
correction is input-independent, folded into the bias (:func:`fold_input_zero_point`).
"""

from __future__ import annotations

import numpy as np

from model.conv import conv2d_int
from model.validate import check_int

__all__ = ["zero_point_conv", "pad_with_zero_point", "fold_input_zero_point"]


def _weight_zero_points(w_zero, M: int) -> np.ndarray:
    zw = np.asarray(w_zero)
    if not np.issubdtype(zw.dtype, np.integer):
        raise TypeError(f"w_zero must hold integers, not dtype {zw.dtype}")
    if zw.ndim > 1 or (zw.ndim == 1 and zw.size != M):
        raise ValueError(f"w_zero must be a scalar or have one entry per filter (M={M}), not shape {zw.shape}")
    return np.broadcast_to(zw.astype(np.int64).reshape(-1), (M,))[None, :, None, None]


def zero_point_conv(xq: np.ndarray, x_zero: int, wq: np.ndarray, w_zero=0, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Exact ``sum (xq - x_zero) * (wq - w_zero)`` over real positions, NMEF int64.

    Parameters
    ----------
    xq : ndarray
        Stored input integers, NCHW (within the signed 16-bit range).
    x_zero : int
        Input zero point (per tensor).
    wq : ndarray
        Stored weight integers, MCRS (within the signed 16-bit range).
    w_zero : int or 1-D array of int
        Weight zero point, per tensor or one per filter.
    stride, pad : int
        As :func:`model.conv.conv2d_int`; padding stands for real 0.
    """
    check_int("x_zero", x_zero, -(2**16), 2**16)
    raw = conv2d_int(xq, wq, stride, pad)
    N, C, H, W = xq.shape
    M, _, R, S = wq.shape
    zw = _weight_zero_points(w_zero, M)
    real = np.ones((1, C, H, W), np.int64)
    ones = np.ones((1, C, R, S), np.int64)
    acc = raw - int(x_zero) * conv2d_int(real, wq, stride, pad)
    if np.any(zw):
        count = conv2d_int(real, ones, stride, pad)  # real positions under each window
        acc = acc - zw * conv2d_int(xq, ones, stride, pad) + int(x_zero) * zw * count
    return acc


def pad_with_zero_point(xq: np.ndarray, x_zero: int, pad: int) -> np.ndarray:
    """NCHW input padded by ``pad`` on every side with ``x_zero`` (real 0), so the layer runs with ``pad=0``."""
    check_int("pad", pad, 0)
    return np.pad(xq, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=x_zero)


def fold_input_zero_point(bias: np.ndarray, wq: np.ndarray, x_zero: int) -> np.ndarray:
    """Bias that absorbs the input zero point: ``bias[m] - x_zero * sum(wq[m])`` (int64, one per filter)."""
    return np.asarray(bias, dtype=np.int64) - int(x_zero) * wq.reshape(wq.shape[0], -1).astype(np.int64).sum(axis=1)
