"""Post-training calibration: the real range each quantization group should cover.

Each method reads sample values arranged as rows (one row per group that
shares a scale) and returns the range ``[lo, hi]`` of every row:

* ``"minmax"``: the smallest and largest value, so nothing is clipped;
* ``"percentile"``: the ``100 - p`` and ``p`` percentiles, so outliers are clipped;
* ``"mse"``: the min/max range shrunk by the factor, among
  :data:`MSE_CLIP_RATIOS`, whose quantize-dequantize error has the least
  mean square (clipping error traded against rounding error).
"""

from __future__ import annotations

import numpy as np

from model.quant.grid import grid_parameters, quantize_values
from model.quant.rounding import DEFAULT_ROUNDING
from model.validate import check_choice

__all__ = ["CALIBRATIONS", "MSE_CLIP_RATIOS", "calibrate_rows"]

#: Calibration methods of :func:`calibrate_rows`.
CALIBRATIONS = ("minmax", "percentile", "mse")
#: Fractions of the min/max range tried by ``"mse"`` calibration.
MSE_CLIP_RATIOS = np.linspace(0.05, 1.0, 96)
_WORK_ELEMENTS = 1 << 22  # values quantized at once by "mse" calibration


def calibrate_rows(rows: np.ndarray, bits: int, scheme: str, method: str = "minmax", percentile: float = 99.99,
                   power_of_two: bool = False, rounding: str = DEFAULT_ROUNDING) -> tuple[np.ndarray, np.ndarray]:
    """Range ``(lo, hi)`` of every row of ``rows`` by a calibration method.

    Parameters
    ----------
    rows : ndarray
        2-D, one row per quantization group, float.
    bits, scheme, power_of_two, rounding
        The grid the range is for (``"mse"`` measures error on that grid).
    method : {"minmax", "percentile", "mse"}
    percentile : float
        Upper percentile for ``"percentile"``, in (50, 100].

    Returns
    -------
    lo, hi : ndarray
        float64, one entry per row.
    """
    check_choice("calibration", method, CALIBRATIONS)
    rows = np.asarray(rows, dtype=np.float64)
    if method == "percentile":
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], not {percentile!r}")
        return np.percentile(rows, 100.0 - percentile, axis=1), np.percentile(rows, percentile, axis=1)
    lo, hi = rows.min(axis=1), rows.max(axis=1)
    if method == "minmax":
        return lo, hi
    # every candidate ratio at once (in chunks that keep the work arrays small)
    chunk = max(1, _WORK_ELEMENTS // rows.size)
    errors = []
    for start in range(0, len(MSE_CLIP_RATIOS), chunk):
        ratio = MSE_CLIP_RATIOS[start:start + chunk, None]  # ratios x 1
        scale, zero = grid_parameters(ratio * lo, ratio * hi, bits, scheme, power_of_two, rounding)  # ratios x rows
        scale, zero = scale[..., None], zero[..., None]
        q = quantize_values(rows[None], scale, zero, bits, scheme, rounding)
        errors.append(np.mean((scale * (q - zero) - rows[None]) ** 2, axis=2))
    best = MSE_CLIP_RATIOS[np.argmin(np.concatenate(errors), axis=0)]  # the first (smallest) ratio among equals
    return best * lo, best * hi
