"""Exact analytical model of the accelerator: cycles and every hardware counter, without simulating.

It follows the same pass plan (:func:`model.tiling.plan`, whose
:func:`~model.tiling.pass_cycles` is the formula below) and fold order as the
controller (``hw/controller/``); ``docs/architecture.md`` ("Controller", "Timing")
states the schedule. Per pass, with ``G = rf_sets``, ``span = rows*G``, ``P`` pixels,
``Kw`` reduction words, ``Mg`` filter groups and ``L`` the stream length of a
fold (``P`` for WS, ``Kw`` for OS):

* the controller runs *periods*; a period ends when every activity it holds
  (stream the current fold: ``G*L`` cycles; load the next fold's register-file
  context: ``span`` cycles; OS only, drain the previous fold: ``span`` cycles)
  has issued its last slot, so a period lasts ``G*L`` or ``G*max(L, rows)``;
* WS: ``span`` (load fold 0) + one period per fold (the last one without a load);
* OS: ``span`` (walk fold 0's pixels) + one period per fold + ``span`` (drain
  the last fold);
* plus :data:`model.contract.PIPELINE_TAIL` cycles of pipeline after the last
  issue and one cycle in which ``done`` rises.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from model.config import AcceleratorConfig, Dataflow
from model.contract import COUNTERS, PIPELINE_TAIL, Tile, ifmap_tile_words, pass_shape
from model.layer import ConvLayer
from model.tiling import Pass, pass_cycles, plan

__all__ = ["Prediction", "predict", "pass_cycles"]


@dataclass(frozen=True)
class Prediction:
    """Predicted run of a layer: ``counters["cycles"] == cycles``; ``busy_cycles`` the cycles the
    accelerator is busy, which ``utilization`` is over (``cycles``, unless passes overlap:
    :func:`model.system_perf.predict_accelerator`)."""

    cycles: int
    counters: dict
    macs: int
    utilization: float
    ideal_cycles: int
    naive_cycles: int
    passes: int
    busy_cycles: int


def _naive_pass_cycles(config: AcceleratorConfig, tile: Tile) -> int:
    """The same folds, each paying its own load, stream, drain and pipeline tail (no overlap)."""
    shape = pass_shape(config, tile)
    drain = shape.span if config.dataflow is Dataflow.OS else 0
    return shape.folds * (shape.span + config.rf_sets * shape.stream + drain + PIPELINE_TAIL[config.dataflow]) + 1


@functools.lru_cache(maxsize=65536)
def _inside(size: int, out: int, kernel: int, stride: int, pad: int) -> int:
    """Number of (output index, kernel tap) pairs that land inside a tile's input along one axis
    (``pad``: how far the first window starts before the tile)."""
    return sum(1 for o in range(out) for t in range(kernel) if 0 <= o * stride + t - pad < size)


def predict(config: AcceleratorConfig, layer: ConvLayer, passes: tuple[Pass, ...] | None = None) -> Prediction:
    """Cycles and every counter of :data:`COUNTERS` for ``layer`` on ``config``, exactly.

    ``passes``: the passes run (default :func:`model.tiling.plan`'s; the System runs
    :func:`model.commands.system_plan`'s).

    Raises
    ------
    ValueError
        If the layer does not fit the build (see :func:`model.tiling.plan`).
    """
    passes = plan(config, layer).passes if passes is None else passes
    c = dict.fromkeys(COUNTERS, 0)
    naive = 0
    for ps in passes:
        t = ps.tile
        shape = pass_shape(config, t)
        p, folds, m_groups, kw = shape.P, shape.folds, shape.m_groups, shape.Kw
        groups = -(-t.M // config.cols)   # the tile's filter groups (a fold_groups tile's hardware sees one)
        # outputs the array computes: a fold_groups tile's every lane, those past M with zero weights
        outputs = p * ((m_groups - 1) * config.cols + shape.last_cols)
        read = t.N * t.E * t.F * t.M * ps.read_out  # only the last channel tile's outputs are read back
        inside = _inside(t.H, t.E, t.R, t.stride, t.pad_top) * _inside(t.W, t.F, t.S, t.stride, t.pad_left)
        c["cycles"] += pass_cycles(config, t)
        naive += _naive_pass_cycles(config, t)
        c["macs"] += outputs * t.C * t.R * t.S
        ifmap_words = ps.load_ifmap * ifmap_tile_words(config, t)
        weight_words = ps.load_weights * ps.m_count * kw   # an OS depthwise pass: every group's
        c["dram_ifmap_reads"] += ifmap_words
        c["dram_weight_reads"] += weight_words
        c["dram_psum_writes"] += read
        c["glb_ifmap_writes"] += ifmap_words
        c["glb_weight_writes"] += weight_words
        # every (pixel, reduction word) that is not padding is read once per filter group
        c["glb_ifmap_reads"] += groups * t.N * shape.Cw * inside
        c["glb_psum_reads"] += read  # the host reads every output once
        if config.dataflow is Dataflow.WS:
            c["glb_weight_reads"] += m_groups * kw
            c["glb_psum_reads"] += m_groups * (shape.k_folds - 1 + ps.accumulate) * p
            c["glb_psum_writes"] += m_groups * shape.k_folds * p
            c["rf_weight_reads"] += outputs * kw
            c["rf_weight_writes"] += t.M * kw
        else:
            c["glb_weight_reads"] += folds * kw * (2 if t.fold_groups else 1)   # two groups' lines
            c["glb_psum_reads"] += ps.accumulate * m_groups * p  # the drain's read-modify-write
            c["glb_psum_writes"] += m_groups * p
            c["rf_psum_reads"] += outputs * kw  # kw-1 accumulate reads + one drain read per output
            c["rf_psum_writes"] += outputs * kw
    # the layer's MACs, not the counter's: a grouped layer run as ungrouped blocks (model.grouped)
    # also multiplies the zero weights of other groups' channels
    lanes = config.pes * config.channels_per_word
    return Prediction(
        cycles=c["cycles"],
        counters=c,
        macs=layer.macs,
        utilization=layer.macs / (c["cycles"] * lanes),
        ideal_cycles=-(-layer.macs // lanes),
        naive_cycles=naive,
        passes=len(passes),
        busy_cycles=c["cycles"],
    )
