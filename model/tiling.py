"""Pass planner: split a layer whose tensors do not fit the global buffers into passes.

A *pass* is one run of the accelerator on a chunk of images (``n0 .. n0+n_count``)
and a chunk of filters (``m0 .. m0+m_count``, ``m0`` and the chunk size multiples
of ``cols`` except for the last chunk). The host (the testbench playing DRAM)
writes the pass's input and weight tiles into the global buffer, runs the pass
and reads its outputs back. A tile already in the buffer from the previous pass
is not written again.

Buffer needs of a pass (``Cw = ceil(C / channels_per_word)``, ``Kw = Cw*R*S``,
``groups = ceil(m_count / cols)``):

* ifmap buffer: ``n_count * Cw * H * W`` words;
* weight buffer: ``groups * Kw`` lines;
* psum buffer: ``groups * n_count * E * F`` lines.

Two loop orders are considered, images outer (the ifmap tile changes least
often) or filters outer (the weight tile changes least often); for every
filter-chunk size the largest image chunk that fits is taken, and the plan with
the fewest DRAM words (then the fewest passes) wins. Splitting the output
rows ``E`` (with input halos) is out of scope: a layer must fit one whole image
and ``cols`` filters at a time, else :func:`plan` raises.

Used by the driver (:mod:`model.program`) and the analytical model
(:mod:`model.perf`), so both see the same passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.config import AcceleratorConfig
from model.contract import reduction_words, words_per_pixel
from model.layer import ConvLayer

__all__ = ["Pass", "Plan", "plan"]


@dataclass(frozen=True)
class Pass:
    """One run of the accelerator: images ``n0..n0+n_count-1`` x filters ``m0..m0+m_count-1``.

    ``load_ifmap`` / ``load_weights`` are False when the tile is already in the
    buffer from the previous pass.
    """

    n0: int
    n_count: int
    m0: int
    m_count: int
    load_ifmap: bool
    load_weights: bool


@dataclass(frozen=True)
class Plan:
    """The passes of a layer, in execution order, and the DRAM words they move."""

    passes: tuple[Pass, ...]
    order: str  #: "images-outer" or "filters-outer"
    dram_words: int


def _need(config: AcceleratorConfig, layer: ConvLayer, n_count: int, groups: int) -> dict[str, tuple[int, int]]:
    """Buffer name -> (needed, available) for a pass of ``n_count`` images and ``groups`` filter groups."""
    cw = words_per_pixel(config, layer)
    return {
        "ifmap buffer": (n_count * cw * layer.H * layer.W, config.ifmap_depth),
        "weight buffer": (groups * reduction_words(config, layer), config.weight_depth),
        "psum buffer": (groups * n_count * layer.E * layer.F, config.psum_depth),
    }


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(size, total - start)) for start in range(0, total, size)]


def _passes(order: str, n_chunks, m_chunks) -> tuple[Pass, ...]:
    passes = []
    prev_n = prev_m = None
    pairs = (
        [(n, m) for n in n_chunks for m in m_chunks]
        if order == "images-outer"
        else [(n, m) for m in m_chunks for n in n_chunks]
    )
    for (n0, nc), (m0, mc) in pairs:
        passes.append(Pass(n0, nc, m0, mc, load_ifmap=(n0, nc) != prev_n, load_weights=(m0, mc) != prev_m))
        prev_n, prev_m = (n0, nc), (m0, mc)
    return tuple(passes)


def _dram_words(config: AcceleratorConfig, layer: ConvLayer, passes: tuple[Pass, ...]) -> int:
    cw, kw = words_per_pixel(config, layer), reduction_words(config, layer)
    words = layer.N * layer.M * layer.E * layer.F  # every output is read back once
    for p in passes:
        words += p.load_ifmap * p.n_count * cw * layer.H * layer.W + p.load_weights * p.m_count * kw
    return words


def plan(config: AcceleratorConfig, layer: ConvLayer) -> Plan:
    """The pass plan of ``layer`` on ``config`` (fewest DRAM words, then fewest passes).

    Raises
    ------
    ValueError
        If ``C*R*S`` exceeds ``config.max_reduction``, or one image with
        ``cols`` filters does not fit a buffer; the message names the buffer,
        the size needed and the size available.
    """
    if layer.reduction > config.max_reduction:
        raise ValueError(
            f"layer C*R*S={layer.reduction} exceeds max_reduction={config.max_reduction} of this build "
            f"(weight_depth={config.weight_depth} x channels_per_word={config.channels_per_word})"
        )
    for name, (needed, available) in _need(config, layer, 1, 1).items():
        if needed > available:
            raise ValueError(
                f"layer {layer} does not fit: one image with {config.cols} filters needs {needed} "
                f"{'words' if name == 'ifmap buffer' else 'lines'} of the {name}, which has {available} "
                f"(splitting output rows is not supported)"
            )
    m_groups = -(-layer.M // config.cols)
    best = None
    for groups in range(1, m_groups + 1):
        if any(n > a for n, a in _need(config, layer, 1, groups).values()):
            break
        per_image = _need(config, layer, 1, groups)
        n_count = min(layer.N, *(per_image[b][1] // per_image[b][0] for b in ("ifmap buffer", "psum buffer")))
        n_chunks = _chunks(layer.N, n_count)
        m_chunks = _chunks(layer.M, groups * config.cols)
        for order in ("images-outer", "filters-outer"):
            passes = _passes(order, n_chunks, m_chunks)
            key = (_dram_words(config, layer, passes), len(passes))
            if best is None or key < best[0]:
                best = (key, Plan(passes, order, key[0]))
    return best[1]
