"""Passes of a depthwise layer on the System: one channel group of ``cols`` channels per pass.

A depthwise layer (``groups = C = M``) runs natively: a pass computes ``cols`` channels
(the last group fewer), filter (column) ``j`` on channel ``j`` of the group. The ifmap
buffer holds the group's input as *lines* -- the ``cols`` channel words of one pixel
at consecutive words, a line at every multiple of ``cols`` -- and every read of a row is
a whole line, of which PE ``(i, j)`` multiplies lane ``j``
(:data:`model.contract.FLAG_FIELDS`, ``depthwise``). To the controller the pass is
a one-channel layer (``C = Cw = 1``, ``Kw = R*S``) over an image of lines, so it keeps
its walkers, folds, padding and cycle count; OS maps rows to output pixels and
columns to channels (``Kw = 9`` words per fold: every PE busy), WS rows to the
``R*S`` taps (two word folds of ``rows = 8`` for a 3x3 kernel: at most 9/16 busy).

The tiles of a group are those :func:`model.tiling.plan` gives the one-channel
layer of ``cols`` filters on a buffer of ``ifmap_depth / cols`` lines (row bands with
halos, column tiles, images), by :attr:`~model.tiling.Objective.BYTES`: a channel
group's input is read once but for the halos, so the fewest bytes is the largest
band, which is also the fewest passes. The groups run one after the other, each
group's passes loading its input and (first) its ``R*S`` weight lines.

Only a System whose ifmap buffer has a bank per column has line reads
(:func:`model.contract.depthwise_reads`); grouped layers with ``1 < groups < C``
are not run (:func:`depthwise_passes` raises).
"""

from __future__ import annotations

import dataclasses

from model.config import AcceleratorConfig
from model.contract import depthwise_reads, word_bytes
from model.layer import ConvLayer
from model.tiling import Objective, Pass, plan

__all__ = ["depthwise_passes", "check_grouped"]


def check_grouped(config: AcceleratorConfig, layer: ConvLayer) -> None:
    """Refuse a grouped ``layer`` the System built for ``config`` cannot run natively.

    Raises
    ------
    ValueError
        If ``1 < groups < C`` (only depthwise grouping runs), or the build has no line reads
        (:func:`model.contract.depthwise_reads`: its ifmap banks are not one per column).
    """
    if not layer.depthwise:
        raise ValueError(f"layer {layer} has groups={layer.groups} with C={layer.C}, M={layer.M}; the System runs "
                         f"depthwise layers (groups = C = M) natively and ungrouped ones, not 1 < groups < C "
                         f"(run it as {layer.groups} ungrouped layers, one per group)")
    if not depthwise_reads(config, word_bytes(config)):
        raise ValueError(f"layer {layer} is depthwise, which needs an ifmap buffer of one bank per column "
                         f"(cols={config.cols}); this build's LOAD writes {config.axi_beat_bytes // word_bytes(config)} "
                         f"words per beat (axi_data_bits={config.axi_data_bits}, bits={config.bits}), "
                         f"so its ifmap has fewer banks")


def depthwise_passes(config: AcceleratorConfig, layer: ConvLayer) -> tuple[Pass, ...]:
    """The passes of the depthwise ``layer`` on buffers of ``config``'s sizes (module notes).

    Raises
    ------
    ValueError
        What :func:`check_grouped` refuses, or :func:`model.tiling.plan` for the one-channel layer
        on a buffer of ``ifmap_depth / cols`` lines (its message counts lines as words).
    """
    check_grouped(config, layer)
    cols = config.cols
    group = dataclasses.replace(layer, C=1, M=min(cols, layer.M), groups=1)
    lines = config.replace(ifmap_depth=config.ifmap_depth // cols)
    passes = []
    for m0 in range(0, layer.M, cols):
        width = min(cols, layer.M - m0)
        for i, ps in enumerate(plan(lines, group, Objective.BYTES).passes):
            passes.append(dataclasses.replace(
                ps, m0=m0, m_count=width, tile=dataclasses.replace(ps.tile, M=width, depthwise=True),
                load_ifmap=ps.load_ifmap or i == 0, load_weights=ps.load_weights or i == 0))
    return tuple(passes)
