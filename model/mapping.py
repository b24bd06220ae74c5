"""Mapping search for a conv layer: loop orders x tile sizes under buffer capacities.

A conv mapping splits each dimension ``d`` (n m c e f r s) into four loops:
``d3`` over DRAM (steps of the GLB tile), ``d2`` inside the global buffer,
``d1`` unrolled over the PE array and ``d0`` inside one PE's register file
(:func:`conv_mapping`). Three dataflows fix what the register file holds and
which dimensions go to rows and columns:

* ``os`` (output-stationary): partial sums stay; RF loops ``c r s``; rows
  ``f`` or ``e``, columns ``m``;
* ``ws`` (weight-stationary): weights stay; RF loops ``e f``; rows ``c``,
  columns ``m``;
* ``is`` (input-stationary): inputs stay; RF loop ``m``; rows ``c``, columns
  ``f`` or ``e``.

:func:`search` explores, with this pruning: (1) loop orders are enumerated
per level and de-duplicated by their *signature* -- for every tensor, the set
of the level's loops below its innermost relevant loop -- which is exactly
what the access counts depend on; (2) a first stage picks GLB tile sizes and
the DRAM loop order alone (DRAM traffic depends only on them), rejecting
tiles that overflow the GLB and keeping the ``keep`` cheapest in DRAM
energy; (3) a second stage tries every dataflow, array assignment, RF tile
and GLB loop order on those and scores whole mappings by energy, DRAM words
or cycles. Cycles are the larger of compute (temporal iterations, one MAC
per PE per cycle) and DRAM transfer time. :func:`sweep` runs many layers on
a local process pool, Dask or Ray.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from model.accesses import Counts, Mapping, analytical_counts
from model.config import AcceleratorConfig
from model.energy import Hierarchy, TABLES, EnergyTable
from model.layer import ConvLayer
from model.loopnest import Guard, Loop, conv_nest
from model.validate import check_choice, check_int

__all__ = [
    "DATAFLOW_SPECS", "OBJECTIVES", "Evaluated", "SearchResult",
    "conv_mapping", "dram_words", "handwritten", "evaluate", "search", "pareto_front", "sweep",
]

DIMS = "nmcefrs"

#: Per dataflow: tensor held in the RF, RF loop dimensions (the held tensor does not depend on
#: them), (row, column) dimension choices, and the dimension along which the RF may hold several
#: words of the held tensor (its innermost loop: the other operand stays in the PE meanwhile).
DATAFLOW_SPECS = {
    "os": ("output", "crs", (("f", "m"), ("e", "m")), "f"),
    "ws": ("weights", "nef", (("c", "m"),), "m"),
    "is": ("input", "m", (("c", "f"), ("c", "e")), "c"),
}

OBJECTIVES = ("energy", "dram", "cycles")


def conv_mapping(layer: ConvLayer, *, glb_tile: dict, spatial: tuple, rf_tile: dict, dram_order: str,
                 glb_order: str, rf_order: str, rf_tensor: str, name: str = "") -> Mapping:
    """Build a conv :class:`Mapping` from tile sizes and per-level orders.

    Parameters
    ----------
    layer : ConvLayer
        The layer.
    glb_tile : dict
        Dimension -> extent of the GLB tile (default 1; raised to cover the
        array and RF tile, clipped to the dimension).
    spatial : tuple of (str, int)
        (dimension, PEs) for rows then columns.
    rf_tile : dict
        Dimension -> extent worked on inside one PE (default 1).
    dram_order, glb_order, rf_order : str
        Dimension letters, outermost first, of the loops at each level
        (dimensions whose loop has bound 1 may be left out).
    rf_tensor : str
        Tensor the RF holds: ``"input"``, ``"weights"`` or ``"output"``.
    name : str
        Label.
    """
    bounds = _full(layer)
    sp = dict(spatial)
    base = conv_nest(layer)
    loops, guards = [], []
    for d in DIMS:
        t0 = min(rf_tile.get(d, 1), bounds[d])
        t1 = min(t0 * sp.get(d, 1), bounds[d])
        t2 = min(max(glb_tile.get(d, 1), t1), bounds[d])
        chain = ((f"{d}3", bounds[d], t2), (f"{d}2", t2, t1), (f"{d}1", t1, t0), (f"{d}0", t0, 1))
        for i, (loop_name, extent, step) in enumerate(chain):  # a loop over `extent` in steps of `step`
            loops.append(Loop(loop_name, d, -(-extent // step), step))
            if extent % step:  # remainder: the loops from here inward must stay below `extent`
                guards.append(Guard(tuple((n, s) for n, _, s in chain[i:]), extent))
    nest = replace(base, loops=tuple(loops), guards=tuple(guards))
    nest = nest.squeeze()
    present = set(nest.names)
    levels = [[f"{d}{i}" for d in order if f"{d}{i}" in present] for i, order in
              ((3, dram_order), (2, glb_order), (1, "".join(d for d, _ in spatial)), (0, rf_order))]
    for i, lv in zip((3, 2, 1, 0), levels):
        missing = sorted(n for n in present if n.endswith(str(i)) and n not in lv)
        if missing:
            raise ValueError(f"loops {missing} are not placed by the level order (level {i})")
    order = [n for lv in levels for n in lv]
    nest = nest.interchange(order)
    glb = len(levels[0])
    rf = glb + len(levels[1]) + len(levels[2])
    return Mapping(nest, glb, rf, tuple(levels[2]), frozenset({rf_tensor}), name)


def _full(layer: ConvLayer) -> dict:
    return {"n": layer.N, "m": layer.M, "c": layer.C, "e": layer.E, "f": layer.F, "r": layer.R, "s": layer.S}


def _glb_words(layer: ConvLayer, t: dict) -> int:
    """Unclipped GLB footprint of a contiguous tile ``t`` (extent per dimension), all three tensors."""
    h = min((t["e"] - 1) * layer.stride + t["r"], t["e"] * t["r"])  # rows read; gaps when stride > R
    w = min((t["f"] - 1) * layer.stride + t["s"], t["f"] * t["s"])
    return (t["n"] * t["c"] * h * w + t["m"] * t["c"] * t["r"] * t["s"] + t["n"] * t["m"] * t["e"] * t["f"])


@lru_cache(maxsize=4096)
def _halo_words(out: int, tile: int, stride: int, kernel: int, pad: int, size: int) -> int:
    """Sum over output tiles of ``tile`` rows of the distinct in-bounds input rows they read."""
    taps = np.arange(kernel)
    total = 0
    for start in range(0, out, tile):
        rows = (np.arange(start, min(start + tile, out))[:, None] * stride + taps - pad).ravel()
        total += np.unique(rows[(rows >= 0) & (rows < size)]).size
    return total


def dram_words(layer: ConvLayer, tile: dict, order: str) -> dict[str, tuple[int, int]]:
    """DRAM (reads, writes) per tensor of GLB tiles ``tile`` visited in loop ``order``, in closed form.

    The same rule as :mod:`model.accesses` (kernel dimensions untiled): a
    tensor's tile is refetched when a DRAM loop at or above its innermost
    relevant loop advances, so its traffic is its whole (halo-counted) extent
    times the trip counts of the irrelevant loops above that point.
    """
    full = _full(layer)
    trips = {d: -(-full[d] // tile[d]) for d in DIMS}
    loops = [d for d in order if trips[d] > 1]

    def repeats(rel: str) -> int:
        inner = max((i for i, d in enumerate(loops) if d in rel), default=-1)
        return math.prod(trips[d] for d in loops[: inner + 1] if d not in rel)

    h = _halo_words(layer.E, tile["e"], layer.stride, layer.R, layer.pad, layer.H)
    w = _halo_words(layer.F, tile["f"], layer.stride, layer.S, layer.pad, layer.W)
    outputs = layer.N * layer.M * layer.E * layer.F
    drains = repeats("nmef") * outputs
    return {
        "input": (repeats("ncef") * layer.N * layer.C * h * w, 0),
        "weights": (repeats("mcrs") * layer.M * layer.C * layer.R * layer.S, 0),
        "output": (drains - outputs, drains),
    }


def handwritten(layer: ConvLayer, hierarchy: Hierarchy) -> dict[str, Mapping]:
    """Textbook OS, WS and IS mappings, the baselines a search must beat.

    Each streams one array fold at a time: the array takes ``rows x cols`` of
    its two dimensions, the RF loops run over the whole GLB tile, DRAM loops
    run filters outermost and GLB loops the kernel window outermost. The GLB
    tile starts with all channels and the whole output plane (of the RF
    dimensions; OS: all rows) and is halved -- channels first, then output
    rows, then columns -- until it fits the GLB.

    Raises
    ------
    ValueError
        If even the smallest such tile overflows the GLB.
    """
    full = _full(layer)
    out = {}
    for df, (held, rf_dims, choices, _) in DATAFLOW_SPECS.items():
        rd, cd = choices[0]
        spatial = ((rd, min(hierarchy.rows, full[rd])), (cd, min(hierarchy.cols, full[cd])))
        tile = {d: 1 for d in DIMS} | {"r": layer.R, "s": layer.S, "c": full["c"]} | {d: p for d, p in spatial}
        tile |= {d: full[d] for d in rf_dims} | ({"e": full["e"]} if df == "os" else {})
        for d in ("c", "e", "f"):
            floor = dict(spatial).get(d, 1)
            while tile[d] > floor and _glb_words(layer, tile) > hierarchy.glb_words:
                tile[d] = max(floor, -(-tile[d] // 2))
        if _glb_words(layer, tile) > hierarchy.glb_words:
            raise ValueError(f"the hand-written {df} mapping of {layer} needs {_glb_words(layer, tile)} GLB words, "
                             f"more than glb_words={hierarchy.glb_words}")
        rf_tile = {d: tile[d] for d in rf_dims}
        out[df] = conv_mapping(layer, glb_tile=tile, spatial=spatial, rf_tile=rf_tile, dram_order="nmcef",
                               glb_order="rsnmcef", rf_order=rf_dims, rf_tensor=held, name=f"hand-{df}")
    return out


@dataclass(frozen=True)
class Evaluated:
    """A scored mapping: its accesses, energy breakdown ``{level: {tensor: e}}``, cycles."""

    mapping: Mapping
    counts: Counts
    breakdown: dict
    energy: float
    cycles: int
    dram_words: int

    def score(self, objective: str) -> tuple:
        """Sort key for an objective (ties broken by the others)."""
        e, c, d = self.energy, self.cycles, self.dram_words
        return {"energy": (e, c, d), "dram": (d, e, c), "cycles": (c, e, d)}[objective]

    def summary(self) -> dict:
        """Plain-data view for reports."""
        return {
            "name": self.mapping.name,
            "mapping": self.mapping.describe(),
            "energy": self.energy,
            "cycles": self.cycles,
            "dram_words": self.dram_words,
            "breakdown": self.breakdown,
        }


def evaluate(m: Mapping, hierarchy: Hierarchy, table: EnergyTable, bits: int, acc_bits: int) -> Evaluated:
    """Energy breakdown and cycles of a mapping, from its analytical access counts.

    Operand words are ``bits`` wide, partial sums ``acc_bits``; cycles are the
    larger of compute cycles and DRAM words over the DRAM bandwidth.
    """
    counts = analytical_counts(m)
    width = {t.name: acc_bits if t is m.nest.output else bits for t in m.nest.tensors}
    breakdown = {"MAC": {"all": counts.macs * table.mac(bits, acc_bits)}}
    for level, per in counts.accesses.items():
        breakdown[level] = {t: (r + w) * table.access(level, width[t]) for t, (r, w) in per.items()}
    dram = counts.words("DRAM")
    cycles = max(counts.compute_cycles, math.ceil(dram / hierarchy.dram_words_per_cycle))
    energy = float(sum(sum(v.values()) for v in breakdown.values()))
    return Evaluated(m, counts, breakdown, energy, int(cycles), int(dram))


def _candidates(n: int) -> list[int]:
    """Tile extents tried for a dimension of extent ``n``: powers of two, ``n`` and ``ceil(n/k)``, k = 2..4."""
    vals = {1 << i for i in range(n.bit_length()) if 1 << i <= n} | {n} | {-(-n // k) for k in (2, 3, 4)}
    return sorted(vals)


@lru_cache(maxsize=4096)
def _orders(dims: str, relevant: tuple) -> tuple[str, ...]:
    """Orders of ``dims`` (outermost first) with distinct signatures (see the module notes).

    ``relevant`` holds, per tensor, the string of dimensions it depends on.
    """
    seen, out = set(), []
    for perm in itertools.permutations(dims):
        sig = []
        for rel in relevant:
            inner = max((i for i, d in enumerate(perm) if d in rel), default=-1)
            sig.append(frozenset(perm[inner + 1:]))
        sig = tuple(sig)
        if sig not in seen:
            seen.add(sig)
            out.append("".join(perm))
    return tuple(out)


def _stage_two(tile: dict, dram_order: str, full: dict, hierarchy: Hierarchy, relevant: tuple) -> list[dict]:
    """:func:`conv_mapping` arguments of every second-stage candidate on one GLB tile."""
    jobs = []
    for df, (held, rf_dims, choices, extra) in DATAFLOW_SPECS.items():
        for rd, cd in choices:
            spatial = ((rd, min(hierarchy.rows, tile[rd])), (cd, min(hierarchy.cols, tile[cd])))
            sp = dict(spatial)
            per_pe = {d: -(-tile[d] // sp.get(d, 1)) for d in DIMS}  # extent left for one PE
            options = [(full[d],) if d in "rs" else sorted({1, per_pe[d]}) for d in rf_dims]
            held_words = [k for k in (1, 2, 4, 8, 16) if k <= min(hierarchy.rf_words, per_pe[extra])]
            for combo in itertools.product(*options, held_words):
                rf_tile = dict(zip(rf_dims, combo[:-1])) | {extra: combo[-1]}
                inner = {d: min(tile[d], rf_tile.get(d, 1) * sp.get(d, 1)) for d in DIMS}
                glb_dims = "".join(d for d in DIMS if -(-tile[d] // inner[d]) > 1)
                for glb_order in _orders(glb_dims, relevant):
                    jobs.append(dict(glb_tile=tile, spatial=spatial, rf_tile=rf_tile, dram_order=dram_order,
                                     glb_order=glb_order, rf_order=rf_dims + extra, rf_tensor=held, name=df))
    return jobs


@dataclass
class SearchResult:
    """Outcome of :func:`search`: best mappings overall and per dataflow, the hand-written baselines, every point."""

    layer: ConvLayer
    objective: str
    best: list
    per_dataflow: dict
    handwritten: dict
    points: np.ndarray = field(repr=False)  # (energy, cycles) of every scored mapping
    evaluated: int = 0
    seconds: float = 0.0

    def summary(self) -> dict:
        """Plain-data view (JSON-ready)."""
        return {
            "layer": str(self.layer),
            "objective": self.objective,
            "evaluated": self.evaluated,
            "seconds": self.seconds,
            "best": [e.summary() for e in self.best],
            "per_dataflow": {k: e.summary() for k, e in self.per_dataflow.items()},
            "handwritten": {k: e.summary() for k, e in self.handwritten.items()},
        }


class _Progress:
    """A plain text progress bar on stderr (no dependency); silent when disabled."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.enabled, self.done, self.start = max(total, 1), label, enabled, 0, time.time()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and (self.done == self.total or self.done % 50 == 0):
            frac = self.done / self.total
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\r{self.label} [{bar:<30}] {self.done}/{self.total} {time.time() - self.start:5.1f}s")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def search(layer: ConvLayer, hierarchy: Hierarchy | None = None, *, table="eyeriss", bits: int = 8,
           acc_bits: int | None = None, objective: str = "energy", keep: int = 8, top: int = 5,
           progress: bool = False) -> SearchResult:
    """Search loop orders x tile sizes for ``layer`` on ``hierarchy`` (see the module notes).

    Parameters
    ----------
    layer : ConvLayer
        The layer.
    hierarchy : Hierarchy, optional
        Array and capacities (default: :class:`~model.energy.Hierarchy` defaults).
    table : str or EnergyTable
        Energy table name (``"eyeriss"``, ``"horowitz"``) or object.
    bits, acc_bits : int
        Operand and partial-sum widths (``acc_bits`` default: the
        :class:`~model.config.AcceleratorConfig` accumulator for ``bits``).
        ``bits=1`` counts one 1-bit word per channel and one accumulation
        per product (no packing).
    objective : {"energy", "dram", "cycles"}
        What to minimise.
    keep : int
        GLB-tile / DRAM-order candidates carried from stage one to stage two.
    top : int
        Best mappings returned.
    progress : bool
        Show a progress bar on stderr.
    """
    t_start = time.perf_counter()
    hierarchy = hierarchy or Hierarchy()
    table = table if isinstance(table, EnergyTable) else TABLES[check_choice("table", table, tuple(TABLES))]
    check_choice("objective", objective, OBJECTIVES)
    check_int("bits", bits, 1, 16)
    acc_bits = acc_bits if acc_bits is not None else AcceleratorConfig(bits=bits).acc_bits
    check_int("keep", keep, 1)
    check_int("top", top, 1)
    full = _full(layer)
    nest = conv_nest(layer)
    relevant = tuple("".join(sorted(t.dims)) for t in nest.tensors)
    tiled = [d for d in DIMS if d not in "rs" and full[d] > 1]

    # stage one: GLB tiles and DRAM order, scored by DRAM energy
    stage1 = []
    combos = list(itertools.product(*[_candidates(full[d]) for d in tiled]))
    bar = _Progress(len(combos), "GLB tiles ", progress)
    width = {"input": bits, "weights": bits, "output": acc_bits}
    for combo in combos:
        bar.step()
        tile = dict(full) | dict(zip(tiled, combo))
        if _glb_words(layer, tile) > hierarchy.glb_words:
            continue
        outer = "".join(d for d in tiled if tile[d] < full[d])
        for dram_order in _orders(outer, relevant):
            e = sum((r + w) * table.access("DRAM", width[t])
                    for t, (r, w) in dram_words(layer, tile, dram_order).items())
            stage1.append((e, -_glb_words(layer, tile), len(stage1), tile, dram_order))
    if not stage1:
        raise ValueError(f"no GLB tile of layer {layer} fits glb_words={hierarchy.glb_words}")
    stage1.sort(key=lambda x: x[:3])  # ties: the larger tile leaves the array and RF more to work with
    chosen = stage1[:keep]

    # stage two: dataflow, array assignment, RF tile and GLB order on each chosen GLB tile
    jobs = [job for *_, tile, dram_order in chosen for job in _stage_two(tile, dram_order, full, hierarchy, relevant)]
    scored, seen = [], set()
    bar = _Progress(len(jobs), "mappings  ", progress)
    for job in jobs:
        bar.step()
        m = conv_mapping(layer, **job)
        if m.nest in seen:
            continue
        seen.add(m.nest)
        scored.append(evaluate(m, hierarchy, table, bits, acc_bits))
    scored.sort(key=lambda ev: ev.score(objective))
    hand = {k: evaluate(m, hierarchy, table, bits, acc_bits) for k, m in handwritten(layer, hierarchy).items()}
    points = np.array([(ev.energy, ev.cycles) for ev in scored], dtype=np.float64).reshape(-1, 2)
    per_dataflow = {}
    for ev in scored:  # sorted: the first of each dataflow is its best
        per_dataflow.setdefault(ev.mapping.name, ev)
    return SearchResult(layer, objective, scored[:top], per_dataflow, hand, points, len(scored),
                        time.perf_counter() - t_start)


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats in both coordinates (minimising), by the first."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    front, best = [], math.inf
    for i in order:
        if pts[i, 1] < best:
            front.append(i)
            best = pts[i, 1]
    return np.array(front, dtype=np.int64)


def _search_summary(args: tuple) -> dict:
    layer, hierarchy, kwargs = args
    return search(layer, hierarchy, **kwargs).summary()


def sweep(layers, hierarchy: Hierarchy | None = None, *, address: str | None = None, workers: int | None = None,
          **kwargs) -> list[dict]:
    """Search many layers in parallel; returns :meth:`SearchResult.summary` dicts in layer order.

    Parameters
    ----------
    layers : iterable of ConvLayer
        Layers to map.
    hierarchy : Hierarchy, optional
        Shared by all layers.
    address : str, optional
        ``None``: a local process pool. ``"dask://host:port"`` (or
        ``"tcp://..."``): an existing Dask scheduler. ``"ray://host:port"`` or
        ``"ray:auto"``: an existing Ray cluster. Dask and Ray are optional
        imports; the search itself is deterministic, so every engine returns
        the same results (``seconds`` aside).
    workers : int, optional
        Size of the local pool (default: the CPU count).
    **kwargs
        Passed on to :func:`search` (``progress`` is forced off).
    """
    kwargs = dict(kwargs, progress=False)
    jobs = [(layer, hierarchy, kwargs) for layer in layers]
    if address is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_search_summary, jobs))
    if address.startswith("ray"):
        try:
            import ray
        except ImportError:
            raise ImportError(f"address {address!r} needs Ray: pip install 'ray[default]'") from None
        ray.init(address=None if address == "ray:auto" else address, ignore_reinit_error=True)
        remote = ray.remote(_search_summary)
        return ray.get([remote.remote(j) for j in jobs])
    try:
        from dask.distributed import Client
    except ImportError:
        raise ImportError(f"address {address!r} needs Dask: pip install 'dask[distributed]'") from None
    with Client(address.replace("dask://", "tcp://")) as client:
        return client.gather(client.map(_search_summary, jobs, pure=False))
