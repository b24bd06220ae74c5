"""Passes of a depthwise layer on the System: several channel groups of ``cols`` channels per pass.

A depthwise layer (``groups = C = M``) runs natively: a pass computes ``k`` channel groups of
``cols`` channels (the layer's last group fewer), column ``j`` on channel ``j`` of a group. The
ifmap buffer holds each group's input as *lines* -- the ``cols`` channel words of one pixel at
consecutive words, a line at every multiple of ``cols`` -- group after group (``H*W`` lines each),
and every read of a row is a whole line, of which PE ``(i, j)`` multiplies lane ``j``
(:data:`model.contract.FLAG_FIELDS`, ``depthwise``). To the controller the pass is a one-channel
layer (``C = Cw = 1``, ``Kw = R*S``), so it keeps its walkers, folds, padding and cycle count:

* **OS** (rows: output pixels, columns: channels) runs the ``k`` groups as the tile's *images*
  (``N = k``, one filter group of ``min(cols, channels)`` columns), so that its folds of ``rows``
  pixels run across the groups: a fold holds pixels of at most two groups when a band has a fold
  of pixels or more, and reads both groups' weight lines, each row multiplying its group's
  (``hw/controller/output_stationary.py``). Every PE is busy but in the pass's last fold;
* **WS** (rows: the ``R*S`` taps) runs them as ``k`` filter groups, each reading its own input
  ``gstride = H*W`` lines on (two word folds of ``rows = 8`` for a 3x3 kernel: at most 9/16 busy).

A pass's ``m0``, ``m_count`` are its groups' channels, ``n0``, ``n_count`` its images (one, in OS).

The tiles: every size of images ``n`` (OS: 1), groups ``k`` (OS: 1 unless every band has a fold of
pixels), output rows ``e`` and columns ``f`` (the
:func:`model.tiling.plan` candidates) whose lines fit the ifmap buffer (``n*k*rows_in*cols_in <=
ifmap_depth / cols``), psum lines the psum buffer (``k*n*e*f``) and weight lines the weight buffer
(``k*R*S``); the loops groups, images, rows, columns (outermost first), so a group tile's weights
load once and every input line once but for the halos of the bands. A depthwise layer is
memory-bound (9 MACs per input and output byte against the array's 64 MACs per cycle), so the
choice is the fewest DRAM bytes -- the bands with the least halo -- then the fewest compute cycles
(more groups per pass: fewer passes, whose fixed start and tail cost ``2*rows + 4`` cycles each),
then the fewest passes.

Only a System whose ifmap buffer has a bank per column has line reads
(:func:`model.contract.depthwise_reads`, :func:`native`); elsewhere, and for grouped layers
with ``1 < groups < C``, :mod:`model.grouped` runs the layer as ungrouped blocks.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

from model.config import AcceleratorConfig, Dataflow
from model.contract import PIPELINE_TAIL, depthwise_reads, word_bytes
from model.layer import ConvLayer
from model.tiling import Pass, axis_spans, chunks, fold_cycles, tile_at, tile_sizes

__all__ = ["native", "depthwise_passes"]


def native(config: AcceleratorConfig, layer: ConvLayer) -> bool:
    """Whether the System built for ``config`` runs ``layer`` as depthwise passes: a depthwise layer
    (``groups = C = M > 1``) on a build with line reads (:func:`model.contract.depthwise_reads`)."""
    return layer.groups > 1 and layer.depthwise and depthwise_reads(config, word_bytes(config))


def _passes(config: AcceleratorConfig, layer: ConvLayer, n: int, k: int, e: int, f: int) -> tuple[Pass, ...]:
    """The passes of tiles of ``n`` images, ``k`` groups, ``e`` output rows and ``f`` columns (module notes);
    a pass's ``m0``, ``m_count`` are its groups' channels, ``n0``, ``n_count`` its images."""
    cols, one = config.cols, dataclasses.replace(layer, C=1, M=1, groups=1)
    os_ = config.dataflow is Dataflow.OS
    passes = []
    for g0, gc in chunks(-(-layer.M // cols), k):
        m0, width = g0 * cols, min(layer.M, (g0 + gc) * cols) - g0 * cols
        first = True
        for n0, nc in chunks(layer.N, n):
            for e0, ec in chunks(layer.E, e):
                for f0, fc in chunks(layer.F, f):
                    # OS: the hardware runs the groups as images of one filter group (Tile.fold_groups)
                    tile, h0, w0 = tile_at(config, one, nc, width, 0, 1, e0, ec, f0, fc)
                    passes.append(Pass(n0, nc, m0, width, 0, 1, e0, f0, h0, w0,
                                       dataclasses.replace(tile, depthwise=True, fold_groups=os_), load_ifmap=True,
                                       load_weights=first, accumulate=False, read_out=True))
                    first = False
    return tuple(passes)


def depthwise_passes(config: AcceleratorConfig, layer: ConvLayer) -> tuple[Pass, ...]:
    """The passes of the depthwise ``layer`` on buffers of ``config``'s sizes (module notes).

    Raises
    ------
    ValueError
        If the build does not run ``layer`` natively (:func:`native`), or when one output pixel of one
        group does not fit a buffer (naming the buffer, the lines needed and the lines it has).
    """
    if not native(config, layer):
        raise ValueError(f"layer {layer} is not depthwise on a build with a bank of the ifmap buffer per column "
                         f"(cols={config.cols}, axi_data_bits={config.axi_data_bits}, bits={config.bits})")
    cols, taps = config.cols, layer.R * layer.S
    lines, groups = config.ifmap_depth // cols, -(-layer.M // cols)
    os_ = config.dataflow is Dataflow.OS
    smallest = {"ifmap buffer": (axis_spans(layer.H, layer.E, layer.R, layer.stride, layer.pad, 1)[1]
                                 * axis_spans(layer.W, layer.F, layer.S, layer.stride, layer.pad, 1)[1], lines),
                "weight buffer": (taps, config.weight_depth)}
    for name, (needed, available) in smallest.items():
        if needed > available:
            raise ValueError(f"depthwise layer {layer} cannot be tiled: one output pixel of one channel group needs "
                             f"{needed} lines of the {name}, which has {available}")
    best = None
    for e in tile_sizes(layer.E):
        rows_sum, rows_max = axis_spans(layer.H, layer.E, layer.R, layer.stride, layer.pad, e)
        for f in tile_sizes(layer.F):
            cols_sum, cols_max = axis_spans(layer.W, layer.F, layer.S, layer.stride, layer.pad, f)
            if rows_max * cols_max > lines or e * f > config.psum_depth:
                continue
            in_lines = rows_sum * cols_sum   # per image and group: every band's input, halos included
            # OS: a pass of several groups needs bands of a fold or more (a fold then holds two groups)
            whole_folds = min(e, layer.E % e or e) * min(f, layer.F % f or f) >= config.rows * config.rf_sets
            for n in tile_sizes(layer.N) if not os_ else [1]:
                for k in tile_sizes(groups) if whole_folds or not os_ else [1]:
                    if (n * k * rows_max * cols_max > lines or k * n * e * f > config.psum_depth
                            or k * taps > config.weight_depth):
                        continue
                    key = (in_lines, *_cycles(config, layer, n, k, e, f))
                    if best is None or key < best[0]:
                        best = (key, (n, k, e, f))
    return _passes(config, layer, *best[1])


def _sizes(total: int, size: int) -> Counter:
    """How many chunks of each length :func:`model.tiling.chunks` cuts ``total`` into."""
    return Counter(length for _, length in chunks(total, size))


def _cycles(config: AcceleratorConfig, layer: ConvLayer, n: int, k: int, e: int, f: int) -> tuple[int, int]:
    """(compute cycles, passes) of :func:`_passes`'s tiles, summed over their distinct shapes."""
    span, stream = config.rows * config.rf_sets, layer.R * layer.S
    total = count = 0
    for (kc, a), (nc, b), (ec, c), (fc, d) in itertools.product(
            *(_sizes(t, size).items() for t, size in ((-(-layer.M // config.cols), k), (layer.N, n), (layer.E, e),
                                                        (layer.F, f)))):
        # OS: the groups are images of one filter group; WS: filter groups
        folds = -(-kc * nc * ec * fc // span) if config.dataflow is Dataflow.OS else kc * -(-stream // span)
        times = a * b * c * d
        total += times * (fold_cycles(config, folds, nc * ec * fc if config.dataflow is Dataflow.WS else stream)
                          + PIPELINE_TAIL[config.dataflow] + 1)
        count += times
    return total, count
