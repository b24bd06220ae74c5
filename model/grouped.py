"""Passes of a grouped layer with ``1 < groups < C`` on the System: ungrouped blocks of channels and filters.

Filter ``m`` of a grouped layer reads the ``C/G`` channels of its group ``m // (M/G)``. The
System runs the layer as ungrouped *blocks*: the filters of a run of whole column groups
(``cols`` filters each, the psum and output layout's unit) with the channels of every group
those filters belong to, consecutive column groups with the same channels in one block. A
block is an ungrouped layer of its own, tiled by :func:`model.tiling.plan` and run on the
layer's channel words and filters from its first ones, so its outputs land where the layer's
do. Its weights are the layer's made dense over the block's channels -- zeros for the
channels of another group -- which is exact: a filter's products with those channels are 0.

The cost of the zeros: when ``M/G`` is a multiple of ``cols`` a block is one group and none
are computed; otherwise a column group holds filters of ``cols / (M/G)`` groups (or parts of
two) and computes that many times the group's channels. The DRAM weights are the dense
``(M, C, R, S)`` (a LOAD takes a block's channel range of them). Binary builds take only the
first case (their weights are +1 or -1: there is no zero). A depthwise layer on a build without
line reads (:func:`model.depthwise.native`) runs so too, a column group of ``cols`` channels per block.
"""

from __future__ import annotations

import dataclasses

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.tiling import Objective, Pass, plan

__all__ = ["blocks", "grouped_passes"]


def blocks(config: AcceleratorConfig, layer: ConvLayer) -> list[tuple[int, int, int, int]]:
    """``(m0, m_count, c0, c_count)`` of the layer's blocks (module notes), in filter order.

    Raises
    ------
    ValueError
        On a binary build whose word (``pack`` channels) would hold channels of two groups, or whose
        column group would hold filters of two groups (a binary weight is +1 or -1: no zero for the
        other group's channels).
    """
    per_group_c, per_group_m, cpw = layer.C // layer.groups, layer.M // layer.groups, config.channels_per_word
    if per_group_c % cpw:
        raise ValueError(f"layer {layer} has C/groups={per_group_c} channels per group, not a multiple of the "
                         f"{cpw} channels a word packs (pack={config.pack}): a word would hold two groups")
    out: list[tuple[int, int, int, int]] = []
    for m0 in range(0, layer.M, config.cols):
        m1 = min(layer.M, m0 + config.cols)
        c0, c1 = m0 // per_group_m * per_group_c, ((m1 - 1) // per_group_m + 1) * per_group_c
        if out and out[-1][2:] == (c0, c1 - c0):
            out[-1] = (out[-1][0], m1 - out[-1][0], c0, c1 - c0)
        else:
            out.append((m0, m1 - m0, c0, c1 - c0))
    if config.binary and any(c_count != per_group_c for *_, c_count in out):
        raise ValueError(f"layer {layer} has M/groups={per_group_m} filters per group, not a multiple of "
                         f"cols={config.cols}: a column group would hold two groups' filters, and a binary weight "
                         f"has no zero for the other group's channels")
    return out


def grouped_passes(config: AcceleratorConfig, layer: ConvLayer, objective: Objective) -> tuple[Pass, ...]:
    """The passes of ``layer`` (``1 < groups < C``) on buffers of ``config``'s sizes: every block's
    :func:`model.tiling.plan` by ``objective``, moved to the block's filters and channel words.

    Raises
    ------
    ValueError
        What :func:`blocks` or :func:`model.tiling.plan` (for a block) refuses.
    """
    cpw, passes = config.channels_per_word, []
    for m0, m_count, c0, c_count in blocks(config, layer):
        block = dataclasses.replace(layer, C=c_count, M=m_count, groups=1)
        for i, ps in enumerate(plan(config, block, objective).passes):
            passes.append(dataclasses.replace(ps, m0=ps.m0 + m0, cw0=ps.cw0 + c0 // cpw,
                                              load_ifmap=ps.load_ifmap or i == 0,
                                              load_weights=ps.load_weights or i == 0))
    return tuple(passes)
