"""The mapping the accelerator runs, as a :class:`~model.accesses.Mapping`, and its counters as words.

:func:`accelerator_mapping` writes down, in one place, the schedule of
``docs/architecture.md`` ("Controller"; ``hw/controller/``): the pass plan of
:func:`model.tiling.plan` (DRAM-level loops over image and filter chunks, in
the plan's order), and in each pass the folds of :mod:`model.perf`:

* WS: filter groups, then reduction-word folds of ``rows * G`` words, then the
  pixels ``n e f``, then the ``G`` register-file slots; rows unroll the
  reduction words, columns the filters; the weights sit in the RF (cut above
  the slots), inputs and outputs in operand registers (the outputs' register
  is the column accumulator after the row sum);
* OS: filter groups, then pixel folds of ``rows * G`` pixels, then the
  reduction words ``c r s``, then the slots; rows unroll the pixels; the
  partial sums sit in the RF (cut above the reduction loops), weights and
  inputs in operand registers.

The GLB cut of every tensor is the pass. The hardware flattens the reduction
``k = (c*R + r)*S + s`` (WS) and the pixels ``p = (n*E + e)*F + f`` (OS) into
one index and folds it by ``rows`` and ``rows * G``; a fold is a loop nest of
the dimensions only when those sizes fall on the digits (e.g. ``rows`` divides
``S``, or is a multiple of ``R*S``), and :func:`accelerator_mapping` raises
otherwise. :func:`counter_words` turns the hardware counters into the same
``{level: {tensor: (reads, writes)}}`` form; lines (weights, partial sums)
count ``cols`` words, so the two agree when the filters fill every column
group (``M`` a multiple of ``cols``).
"""

from __future__ import annotations

from model.accesses import Mapping
from model.config import AcceleratorConfig, Dataflow
from model.energy import Level
from model.layer import ConvLayer
from model.mapping import conv_mapping
from model.tiling import Order, plan

__all__ = ["accelerator_mapping", "counter_words"]


def _fold(digits: list, sizes: tuple, what: str) -> list[list[tuple[str, int]]]:
    """Split a flattened index into per-dimension factors.

    ``digits`` lists ``(dimension, extent)`` from the least significant; the
    index is cut into chunks of ``sizes`` (least significant first) and a rest.
    Returns, per chunk and for the rest, the ``(dimension, factor)`` it takes.
    A chunk may split a digit only if it divides it (or it is the most
    significant one, where a remainder is allowed); else ``ValueError``.
    """
    digits = [list(x) for x in digits if x[1] > 1]
    out = []
    for q in sizes:
        taken = []
        while q > 1 and digits:
            d, ext = digits[0]
            last = len(digits) == 1
            if q % ext == 0 and not (last and q > ext):
                taken.append((d, ext))
                q //= ext
                digits.pop(0)
            elif ext % q == 0 or last:
                taken.append((d, q))
                digits[0][1] = -(-ext // q)
                q = 1
            else:
                raise ValueError(f"the accelerator folds the flattened {what} in chunks of {sizes}; a chunk of {q} "
                                 f"does not fall on the digit {d}={ext}, so the fold is not a loop nest of the "
                                 f"dimensions (choose sizes that divide or are multiples of the inner extents)")
        out.append(taken)
    out.append([tuple(x) for x in digits])
    return out


def _chain(d: str, parts: list[tuple[str, int]], outer: tuple = ()) -> tuple:
    """A dimension's chain from ``(role, factor)`` parts, least significant first (see :func:`conv_mapping`)."""
    chain, inside = [], 1
    for role, k in parts:
        chain.append((f"{d}_{role}", inside))
        inside *= k
    return tuple(outer) + tuple(reversed(chain or [(f"{d}_fold", 1)]))


def accelerator_mapping(config: AcceleratorConfig, layer: ConvLayer) -> Mapping:
    """The schedule ``config`` runs ``layer`` with, as a mapping (module notes).

    Raises
    ------
    ValueError
        If the layer does not fit the build (:func:`model.tiling.plan`), its plan
        cuts images into row/column bands or channel tiles (the mapping expresses
        image and filter passes only), the build is binary (``bits=1`` packs channels into words, which the loop
        nest of channels does not express), or a fold does not fall on the
        dimensions' digits.
    """
    if config.binary:
        raise ValueError("accelerator_mapping needs a multi-bit build: bits=1 packs channels into words")
    the_plan = plan(config, layer)
    if not the_plan.whole_images:
        raise ValueError(f"accelerator_mapping covers plans of whole images; {layer} runs in bands or channel tiles "
                         f"(tiles {the_plan.sizes})")
    n_count, m_chunk = the_plan.passes[0].n_count, the_plan.passes[0].m_count
    ws = config.dataflow is Dataflow.WS
    folded = ("c", "r", "s") if ws else ("n", "e", "f")  # most significant first
    extent = {"c": layer.C, "r": layer.R, "s": layer.S, "n": n_count, "e": layer.E, "f": layer.F}
    chunks = _fold([(d, extent[d]) for d in reversed(folded)], (config.rows, config.rf_sets),
                   "reduction" if ws else "pixels")
    parts = {d: [] for d in "nmcefrs"}
    for role, chunk in zip(("row", "slot", "fold"), chunks):
        for d, k in chunk:
            parts[d].append((role, k))
    tiles = {d: _chain(d, parts[d]) for d in "cefrs"}
    tiles["n"] = _chain("n", parts["n"], (("n_pass", n_count),))
    tiles["m"] = _chain("m", [("col", config.cols), ("group", -(-m_chunk // config.cols))], (("m_pass", m_chunk),))
    passes = ["n_pass", "m_pass"] if the_plan.order is Order.IMAGES_OUTER else ["m_pass", "n_pass"]
    streamed = ("n", "e", "f") if ws else ("c", "r", "s")  # WS streams pixels, OS reduction words
    folds = [f"{d}_fold" for d in folded] + [f"{d}_fold" for d in streamed]
    slots = [f"{d}_slot" for d in folded]
    order = passes + ["m_group"] + folds + slots
    held, regs = ("weights", ("input", "output")) if ws else ("output", ("input", "weights"))
    rf_cut = len(order) - len(slots) if ws else len(passes) + 1 + len(folded)  # WS: the slots; OS: from the words
    keep = {held: (len(passes), rf_cut, Level.RF)} | {t: (len(passes), len(order), Level.REG) for t in regs}
    return conv_mapping(layer, tiles=tiles, order=order, rows=[f"{d}_row" for d in folded], cols=("m_col",),
                        keep=keep, name=f"accelerator-{config.dataflow.value}")


def counter_words(config: AcceleratorConfig, counters: dict) -> dict:
    """The hardware counters as ``{level: {tensor: (reads, writes)}}`` words (module notes).

    Weight and partial-sum lines read or written by the array count ``cols``
    words; the host's lane accesses one word each; the host's partial-sum
    reads are the DRAM writes. Only the levels the hardware counts are given:
    RF (the weights in WS, the partial sums in OS), GLB and DRAM.
    """
    c, cols = counters, config.cols
    host_psum_reads = c["dram_psum_writes"]
    rf = ({"weights": (c["rf_weight_reads"], c["rf_weight_writes"])} if config.dataflow is Dataflow.WS
          else {"output": (c["rf_psum_reads"], c["rf_psum_writes"])})
    return {
        Level.RF: rf,
        Level.GLB: {
            "input": (c["glb_ifmap_reads"], c["glb_ifmap_writes"]),
            "weights": (c["glb_weight_reads"] * cols, c["glb_weight_writes"]),
            "output": ((c["glb_psum_reads"] - host_psum_reads) * cols + host_psum_reads, c["glb_psum_writes"] * cols),
        },
        Level.DRAM: {
            "input": (c["dram_ifmap_reads"], 0),
            "weights": (c["dram_weight_reads"], 0),
            "output": (0, c["dram_psum_writes"]),
        },
    }
