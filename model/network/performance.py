"""Cycles, DRAM traffic and energy of the accelerator layers a network runs.

:func:`layer_performance` is the one place a layer's figures come from: today
the analytical model (:func:`model.perf.predict`, which has no memory stalls)
and the Horowitz 45 nm energy table (:func:`model.energy.accelerator_energy`).
``predict`` refuses a layer that does not fit the build's buffers; such a
layer's figures are *unavailable*, with the reason, never estimated. The
memory-system work replaces this function's body (stalls, split layers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from model.config import AcceleratorConfig
from model.energy import accelerator_energy, total
from model.layer import ConvLayer
from model.perf import predict

__all__ = ["ENERGY_TABLE", "LayerPerformance", "layer_performance", "combine"]

#: Energy table of the figures (absolute, pJ).
ENERGY_TABLE = "horowitz"


@dataclass(frozen=True)
class LayerPerformance:
    """Figures of one layer (or of a node's layers); all None with ``unavailable`` saying why.

    Attributes
    ----------
    cycles, stall_cycles : int or None
    dram_bytes : int or None
        Input and weight words written into the buffers plus outputs read back
        (``out_bits`` each), in bytes, rounded up.
    energy_pj : float or None
    unavailable : str or None
    """

    cycles: int | None
    stall_cycles: int | None
    dram_bytes: int | None
    energy_pj: float | None
    unavailable: str | None = None


@functools.lru_cache(maxsize=4096)
def layer_performance(config: AcceleratorConfig, layer: ConvLayer, out_bits: int) -> LayerPerformance:
    """Predicted figures of one ungrouped ``layer`` on ``config`` whose outputs are read back ``out_bits`` wide."""
    try:
        prediction = predict(config, layer)
    except ValueError as err:
        return LayerPerformance(None, None, None, None, unavailable=str(err))
    c = prediction.counters
    bits = (c["dram_ifmap_reads"] + c["dram_weight_reads"]) * config.word_bits + c["dram_psum_writes"] * out_bits
    energy = total(accelerator_energy(config, c, ENERGY_TABLE))
    return LayerPerformance(prediction.cycles, 0, -(-bits // 8), energy)


def combine(parts: list[LayerPerformance]) -> LayerPerformance:
    """The figures of layers run one after the other (unavailable if any part is)."""
    missing = next((p.unavailable for p in parts if p.unavailable), None)
    if missing or not parts:
        return LayerPerformance(None, None, None, None, unavailable=missing or "no layers")
    return LayerPerformance(sum(p.cycles for p in parts), sum(p.stall_cycles for p in parts),
                            sum(p.dram_bytes for p in parts), sum(p.energy_pj for p in parts))
