"""Where a network's accelerator layers run: the golden model, or (once the memory system lands) the RTL.

:func:`run_accelerator_layer` is the single dispatch point: ``qconv run``
calls it for every ungrouped layer a network's convolutions are lowered to
(:meth:`model.network.lowering.ConvPlan.calls`), with the layer's signed
operands and its requantization (None: raw accumulators).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.network.executor import golden_accelerator
from model.program import RequantParams

__all__ = ["Backend", "BackendUnavailable", "check_backend", "run_accelerator_layer"]


class Backend(StrEnum):
    """Where accelerator layers run."""

    MODEL = "model"  #: the golden integer model (with the analytical performance model)
    VERILATOR = "verilator"  #: co-simulated on the RTL with Verilator
    ICARUS = "icarus"  #: co-simulated on the RTL with Icarus Verilog


class BackendUnavailable(ValueError):
    """The backend cannot run networks yet."""


def check_backend(backend: Backend) -> None:
    """Raise :class:`BackendUnavailable` before anything runs if ``backend`` cannot run networks yet."""
    if Backend(backend) is not Backend.MODEL:
        raise BackendUnavailable(
            f"--backend {backend} is not available yet: whole networks run on the RTL once the memory-system "
            f"work lets every layer fit the buffers; use --backend model (or `qconv sim --layer ...` for one layer)")


def run_accelerator_layer(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
                          requant: RequantParams | None, backend: Backend) -> np.ndarray:
    """Run one ungrouped layer on ``backend``: requantized outputs (or raw accumulators if ``requant`` is None), NMEF.

    Parameters
    ----------
    config : AcceleratorConfig
    layer : ConvLayer
        Ungrouped (``groups=1``), batch included.
    x, w : ndarray
        Signed ``config.bits`` operands, NCHW and MCRS (int64).
    requant : RequantParams or None
    backend : Backend
    """
    check_backend(backend)
    return golden_accelerator(config)(layer, x, w, requant)
