"""Mapping search for a conv layer: tiles, loop orders, array unrolling and per-tensor buffer cuts.

**Searched mappings.** Each dimension ``d`` (n g m c e f r s; ``g``, the
channel groups of a grouped or depthwise layer, has extent 1 otherwise) is split into a
chain of loops, outermost first: ``d3`` over the layer in steps of the GLB
tile ``t2``, ``d2`` over the GLB tile in steps of the array tile ``t1``,
``d0`` inside a PE over the array tile in steps of ``p``, and ``d1``, the
``p`` PEs of one array axis (spatial, step 1). The temporal loops run in three
segments -- the DRAM-level loops ``d3``, then the GLB-level ``d2``, then the
PE-level ``d0`` -- each in any order. Each tensor's GLB tile is either the
whole tensor or the GLB tile (its cut at the end of the ``d3`` loops); the
tensor kept in the register file (at most one; none when the RF is no bigger
than a register) has its PE tile hold the ``d0`` loops, the others sit in
one operand register each (cut at the end). :func:`conv_mapping` builds any
such mapping (and more general ones); :mod:`model.accesses` counts it.

**The search** (:func:`search`):

1. *Stage one* scores every GLB tile -- extents from :func:`_candidates`
   (powers of two, the whole extent, ``ceil(D/k)`` for ``k = 2..4``; the kernel
   ``R x S`` whole) -- with every DRAM-level order and every choice of tensors
   kept whole, that fits the GLB (shared and per-tensor limits), by DRAM
   energy in closed form. It keeps every option within ``margin`` of the best
   DRAM energy, and for every tile whose extents along two dimensions are
   multiples of the array's rows and columns (or whole), its best option.
   Kept options are ranked by their DRAM-side energy (DRAM words and the
   GLB's fills and drains) plus the *floor* (:meth:`_Search.floor`): the least
   on-chip energy of the whole-layer tile over the array assignments of every
   kept option, which no smaller tile goes below (a completion of a smaller
   tile has a whole-layer counterpart with its DRAM-level loops merged into
   the GLB-level ones, and a merged tile is the union of the tiles it
   replaces).
2. *Stage two* takes the options in rank order and tries, on each, every RF
   tensor, the array assignments (one dimension per axis, ``p`` the whole
   axis or the balanced ``ceil(t2 / ceil(t2 / axis))``; the ``spatial_keep``
   of best utilisation, and ties), every PE tile of the RF tensor that fits
   the RF (``d0`` extents from the candidates), and every GLB-level and
   PE-level order, scoring each exactly. An option whose DRAM-side energy
   plus the floor cannot beat the best so far is skipped.

Pruning that loses nothing: orders are enumerated per segment and
de-duplicated by their *signature* -- for every tensor, the set of the
segment's loops below its innermost relevant loop -- which, with every cut on
a segment boundary, is all the counts depend on; the bound (the best is the
best of every kept option; the other listed mappings are the best of the
options scored; tests compare it with ``bound=False``). Pruning that may lose:
the ``margin`` of stage one, the candidate extents and the ``spatial_keep``
array assignments. :class:`SearchResult` reports how many options each step
kept and skipped. Cycles are the larger of compute (temporal iterations, one
MAC per PE per cycle) and DRAM words over the DRAM bandwidth.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from model.accesses import (
    PE_LEVELS, Counts, Keep, Mapping, analytical_counts, axis_groups, footprints, group_max, group_words, key_values,
)
from model.config import AcceleratorConfig
from model.energy import LEVELS, EnergyTable, Hierarchy, Level, parse_table
from model.layer import ConvLayer
from model.loopnest import Guard, Loop, conv_nest
from model.validate import check_choice, check_int

__all__ = [
    "DIMS", "OBJECTIVES", "DATAFLOW_OF", "Evaluated", "SearchResult",
    "conv_mapping", "check_fits", "evaluate", "search", "pareto_front",
]

DIMS = "ngmcefrs"  # the order of model.loopnest.conv_nest; g (groups) has extent 1 in ungrouped layers
TENSORS = ("input", "weights", "output")
OBJECTIVES = ("energy", "dram", "cycles")

#: Dataflow label of a mapping by the tensor that stays in its PEs (the RF tensor, else the register
#: that the innermost loops leave unchanged; "none" when each tensor depends on the innermost loop).
DATAFLOW_OF = {"weights": "ws", "output": "os", "input": "is"}

#: Chain levels of a dimension, outermost first: DRAM, GLB, PE (temporal), array (spatial).
CHAIN = ("3", "2", "0", "1")


def _full(layer: ConvLayer) -> dict:
    """Extent of every dimension of :data:`DIMS` (``m``, ``c`` per group; ``g`` the groups)."""
    return {"n": layer.N, "g": layer.groups, "m": layer.group_filters, "c": layer.group_channels, "e": layer.E,
            "f": layer.F, "r": layer.R, "s": layer.S}


def _dim_chain(d: str, extent: int, chain) -> tuple[list[Loop], list[Guard]]:
    """Loops (outermost first) and remainder guards of dimension ``d`` split as ``chain``.

    ``chain`` lists ``(loop name, extent inside the loop)``, outermost first:
    each loop runs over the extent of the loop around it (``extent`` for the
    first) in steps of its own inside extent; extents are clipped to be
    non-increasing and the last must be 1. A loop whose range is not a
    multiple of its step leaves a guard, so remainders are exact.
    """
    spec, outer = [], extent
    for name, inside in chain:
        inside = max(1, min(int(inside), outer))
        spec.append((name, outer, inside))
        outer = inside
    if outer != 1:
        raise ValueError(f"the innermost loop of dimension {d!r} must have inside extent 1, not {outer}")
    loops, guards = [], []
    for i, (name, span, step) in enumerate(spec):
        loops.append(Loop(name, d, -(-span // step), step))
        if span % step:
            guards.append(Guard(tuple((n, s) for n, _, s in spec[i:]), span))
    return loops, guards


def conv_mapping(layer: ConvLayer, *, tiles: dict, order, rows=(), cols=(), keep: dict, name: str = "") -> Mapping:
    """Build a conv :class:`~model.accesses.Mapping` from per-dimension chains, an order and cuts.

    Parameters
    ----------
    layer : ConvLayer
        The layer.
    tiles : dict
        Dimension -> chain ``((loop name, extent inside), ...)``, outermost
        first (see :func:`_dim_chain`); a dimension left out is one loop named
        after it, and one the layer lacks (``g`` when ungrouped) is ignored.
    order : sequence of str
        Temporal loop names, outermost first (loops of bound 1 may be left out).
    rows, cols : sequence of str
        Spatial loops on the array's rows and columns.
    keep : dict
        Tensor -> ``(glb, pe, level)``: cuts as indices into ``order`` (the
        tile holds ``order[cut:]``) and the PE level (``"REG"`` or ``"RF"``).
    name : str
        Label.
    """
    full, base = _full(layer), conv_nest(layer)
    dims = [d for d, _ in base.dims]
    unknown = sorted(set(tiles) - set(DIMS))
    if unknown:
        raise ValueError(f"tiles name unknown dimensions {unknown}; dimensions are {DIMS}")
    loops, guards = [], []
    for d in dims:
        lps, gs = _dim_chain(d, full[d], tiles.get(d, ((d, 1),)))
        loops += lps
        guards += gs
    nest = replace(base, loops=tuple(loops), guards=tuple(guards)).squeeze()
    present = set(nest.names)
    order = list(order)
    rows = tuple(n for n in rows if n in present)
    cols = tuple(n for n in cols if n in present)
    temporal = [n for n in order if n in present]
    placed = temporal + list(rows + cols)
    if sorted(placed) != sorted(present):
        missing, twice = sorted(present - set(placed)), sorted({n for n in placed if placed.count(n) > 1})
        raise ValueError(f"loops {missing} are placed nowhere and {twice} twice; order and rows/cols must "
                         f"place each loop of bound > 1 once")

    def cut(tensor: str, which: str, i: int) -> int:
        check_int(f"{which} cut of {tensor}", i, 0, len(order))
        return sum(1 for n in order[:i] if n in present)

    keeps = []
    for t, (g, p, level) in keep.items():
        check_choice(f"PE level of {t}", level, PE_LEVELS)
        keeps.append(Keep(t, cut(t, "GLB", g), cut(t, "PE", p), Level(level)))
    return Mapping(nest.interchange(placed), rows, cols, tuple(keeps), name)


def check_fits(m: Mapping, hierarchy: Hierarchy) -> None:
    """Raise ``ValueError`` unless every tile of ``m`` fits its level of ``hierarchy`` (no implicit storage).

    Checks: the spatial loops fit the rows and columns; each tensor's largest
    GLB tile fits its own limit (``glb_split``) and all together ``glb_words``;
    each PE tile fits ``reg_words`` (operand register) or, all RF tensors
    together, ``rf_words``.
    """
    for axis, names, size in (("rows", m.rows, hierarchy.rows), ("cols", m.cols, hierarchy.cols)):
        used = math.prod(m.nest.loop(n).bound for n in names)
        if used > size:
            raise ValueError(f"spatial loops {list(names)} need {used} {axis}, the array has {size}")
    fp = footprints(m)
    for t, words in fp["GLB"].items():
        limit = hierarchy.glb_limit(t)
        if limit is not None and words > limit:
            raise ValueError(f"the GLB tile of {t} needs {words} words, its buffer has {limit} (glb_split)")
    if sum(fp["GLB"].values()) > hierarchy.glb_words:
        raise ValueError(f"the GLB tiles need {sum(fp['GLB'].values())} words ({fp['GLB']}), "
                         f"glb_words={hierarchy.glb_words}")
    rf = 0
    for k in m.keep:
        words = fp["PE"][k.tensor]
        if k.level == Level.REG and words > hierarchy.reg_words:
            raise ValueError(f"the PE tile of {k.tensor} needs {words} words, an operand register has "
                             f"reg_words={hierarchy.reg_words}")
        rf += words if k.level == Level.RF else 0
    if rf > hierarchy.rf_words:
        raise ValueError(f"the RF tiles need {rf} words per PE, rf_words={hierarchy.rf_words}")


def _breakdown(counts: Counts, output: str, table: EnergyTable, bits: int, acc_bits: int) -> dict:
    """Energy ``{level: {tensor: e}}`` (and ``MAC``) of counted words: operands ``bits`` wide, the output ``acc_bits``."""
    out = {"MAC": {"all": counts.macs * table.mac(bits, acc_bits)}}
    for level in LEVELS:
        out[str(level)] = {t: (r + w) * table.access(level, acc_bits if t == output else bits)
                           for t, (r, w) in counts.words[level].items()}
    return out


@dataclass(frozen=True)
class Evaluated:
    """A scored mapping: its words, energy breakdown ``{level: {tensor: e}}``, cycles and DRAM words."""

    mapping: Mapping
    counts: Counts
    breakdown: dict
    energy: float
    cycles: int
    dram_words: int

    def score(self, objective: str) -> tuple:
        """Sort key for an objective (ties broken by the others)."""
        return _score(objective, self.energy, self.dram_words, self.cycles)

    def words(self) -> dict:
        """``{level: {tensor: {"reads": int, "writes": int}}}`` (NoC: transfers as reads)."""
        return {str(lv): {t: {"reads": int(r), "writes": int(w)} for t, (r, w) in per.items()}
                for lv, per in self.counts.words.items()}

    def summary(self) -> dict:
        """Plain-data view for reports."""
        return {
            "name": self.mapping.name,
            "mapping": self.mapping.describe(),
            "energy": self.energy,
            "cycles": self.cycles,
            "dram_words": self.dram_words,
            "breakdown": self.breakdown,
            "words": self.words(),
        }


def _score(objective: str, energy: float, dram: int, cycles: int) -> tuple:
    return {"energy": (energy, cycles, dram), "dram": (dram, energy, cycles), "cycles": (cycles, energy, dram)}[objective]


def evaluate(m: Mapping, hierarchy: Hierarchy, table, bits: int, acc_bits: int) -> Evaluated:
    """Check that ``m`` fits ``hierarchy``, count its words and price them.

    Operand words are ``bits`` wide, partial sums ``acc_bits``; cycles are the
    larger of compute cycles and DRAM words over the DRAM bandwidth.
    """
    table = parse_table(table)
    check_fits(m, hierarchy)
    counts = analytical_counts(m)
    breakdown = _breakdown(counts, m.nest.output.name, table, bits, acc_bits)
    dram = counts.total(Level.DRAM)
    cycles = max(counts.compute_cycles, math.ceil(dram / hierarchy.dram_words_per_cycle))
    energy = float(sum(sum(v.values()) for v in breakdown.values()))
    return Evaluated(m, counts, breakdown, energy, int(cycles), int(dram))


# -- the search ---------------------------------------------------------------------------------


def _candidates(n: int) -> list[int]:
    """Tile extents tried for a dimension of extent ``n``: powers of two, ``n`` and ``ceil(n/k)``, k = 2..4."""
    vals = {1 << i for i in range(n.bit_length()) if 1 << i <= n} | {n} | {-(-n // k) for k in (2, 3, 4)}
    return sorted(vals)


def _spatial_factors(extent: int, axis: int) -> list[int]:
    """PEs of one axis given to a dimension of ``extent``: the whole axis (or extent) and the balanced split."""
    return sorted({min(axis, extent), -(-extent // -(-extent // axis))})


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


def _picker(idx: list[int]):
    """A function returning the tuple of the items at ``idx`` of a tuple."""
    if len(idx) == 1:
        i = idx[0]
        return lambda xs: (xs[i],)
    return operator.itemgetter(*idx)


class _Counter:
    """Counts of searched mappings as products of memoised per-dimension factors.

    A dimension's chain is fixed by its parameters ``(t2, t1, p)``; a count's
    key takes a prefix of each chain's temporal loops (``depths``) and, per PE,
    the spatial loops. Dimensions a tensor does not depend on contribute their
    number of distinct key values, its axis groups their summed (or largest)
    distinct words (:mod:`model.accesses`).
    """

    def __init__(self, layer: ConvLayer, tensors: dict) -> None:
        self.full, self.tensors = _full(layer), tensors
        self.comps = {t: axis_groups(ref) for t, ref in tensors.items()}
        self.comp_index = {t: [[DIMS.index(d) for d in ds] for _, ds in c] for t, c in self.comps.items()}
        self._pick = {t: [_picker(idx) for idx in c] for t, c in self.comp_index.items()}
        self.irrelevant = {t: [i for i, d in enumerate(DIMS) if d not in ref.dims] for t, ref in tensors.items()}
        self._dim, self._memo, self._fills = {}, {}, {}

    def dim(self, d: str, params: tuple) -> tuple:
        """``(structure, temporal loop names, spatial loop names)`` of dimension ``d`` with chain ``params``."""
        k = (d, params)
        if k not in self._dim:
            loops, guards = _dim_chain(d, self.full[d], [(f"{d}{lv}", x) for lv, x in zip(CHAIN, (*params, 1))])
            unit = {lp.name for lp in loops if lp.bound == 1}
            kept = [lp for lp in loops if lp.bound > 1]
            gs = tuple(g for g in (Guard(tuple(t for t in g.terms if t[0] not in unit), g.limit) for g in guards)
                       if g.terms)
            self._dim[k] = ((tuple((lp.name, lp.bound, lp.step) for lp in kept), gs),
                            [lp.name for lp in kept if not lp.name.endswith("1")],
                            [lp.name for lp in kept if lp.name.endswith("1")])
        return self._dim[k]

    def _keyset(self, d: str, params: tuple, depth: int, per_pe: bool) -> frozenset:
        _, temporal, spatial = self.dim(d, params)
        return frozenset(temporal[:depth] + (spatial if per_pe else []))

    def _part(self, kind: str, tensor: str, ci: int, ps: tuple, depths: tuple, per_pe: bool) -> int:
        k = (kind, tensor, ci, ps, depths, per_pe)
        if k not in self._memo:
            axes, ds = self.comps[tensor][ci]
            ref = self.tensors[tensor]
            parts = tuple((self.dim(d, p)[0], self._keyset(d, p, n, per_pe)) for d, p, n in zip(ds, ps, depths))
            fn = group_words if kind == "words" else group_max
            self._memo[k] = fn(tuple(ref.index[a] for a in axes), tuple(ref.shape[a] for a in axes), ds, parts)
        return self._memo[k]

    def groups(self, d: str, params: tuple, depth: int, per_pe: bool) -> int:
        """Distinct values of dimension ``d``'s key loops."""
        k = ("groups", d, params, depth, per_pe)
        if k not in self._memo:
            self._memo[k] = key_values(self.dim(d, params)[0], self._keyset(d, params, depth, per_pe))
        return self._memo[k]

    def fills(self, tensor: str, params: tuple, depths: tuple, per_pe: bool, memo: dict | None = None) -> int:
        """``F`` (or ``F_pe``) of ``tensor``: words over its tiles, the key given by ``depths`` (model.accesses).

        ``memo`` is :meth:`memo_of` ``params``, for callers that ask many counts of one chain.
        """
        k = (tensor, depths, per_pe)
        if memo is None:
            memo = self.memo_of(params)
        if k not in memo:
            total = 1
            for i in self.irrelevant[tensor]:
                total *= self.groups(DIMS[i], params[i], depths[i], per_pe)
            for ci, pick in enumerate(self._pick[tensor]):
                total *= self._part("words", tensor, ci, pick(params), pick(depths), per_pe)
            memo[k] = total
        return memo[k]

    def memo_of(self, params: tuple) -> dict:
        """The memo of :meth:`fills` for one set of chains."""
        memo = self._fills.get(params)
        if memo is None:
            memo = self._fills[params] = {}
        return memo

    def footprint(self, tensor: str, params: tuple, outside: tuple, per_pe: bool) -> int:
        """Words of ``tensor``'s largest tile when each dimension's first ``outside`` temporal loops select it."""
        total = 1
        for ci, (_, ds) in enumerate(self.comps[tensor]):
            idx = [DIMS.index(d) for d in ds]
            total *= self._part("max", tensor, ci, tuple(params[i] for i in idx), tuple(outside[i] for i in idx),
                                per_pe)
        return total

    def temporal(self, d: str, params: tuple) -> list[str]:
        """Names of dimension ``d``'s temporal loops of bound > 1, outermost first."""
        return self.dim(d, params)[1]

    def compute_cycles(self, params: tuple) -> int:
        """Temporal iterations (one cycle each)."""
        return math.prod(self.groups(d, p, len(self.temporal(d, p)), False) for d, p in zip(DIMS, params))


@lru_cache(maxsize=1 << 16)
def _depths(order: str, tensor_dims: frozenset, cut: int) -> tuple:
    """Per dimension, how many of its loops are in the key of a tile cut at ``cut``.

    ``order`` holds the dimension of each temporal loop, outermost first; a
    dimension's loops appear in chain order, so its key loops are a prefix.
    """
    inner = max((i for i in range(cut) if order[i] in tensor_dims), default=-1)
    return tuple(order[: inner + 1].count(d) for d in DIMS)


@dataclass
class _Option:
    """A stage-one option: GLB tile, DRAM-level order, tensors kept whole, and their DRAM-side numbers."""

    t2: dict
    order3: str
    whole: frozenset
    dram_energy: float
    side_energy: float  # DRAM energy and the GLB's fill and drain accesses
    dram_words: int
    glb_fills: dict  # tensor -> F(glb)


@dataclass
class SearchResult:
    """Outcome of :func:`search`: best mappings overall and per dataflow, every point, what was pruned."""

    layer: ConvLayer
    objective: str
    best: list
    per_dataflow: dict
    points: np.ndarray = field(repr=False)  # (energy, cycles) of every scored mapping
    evaluated: int = 0
    seconds: float = 0.0
    pruning: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Plain-data view (JSON-ready)."""
        return {
            "layer": str(self.layer),
            "objective": self.objective,
            "evaluated": self.evaluated,
            "seconds": self.seconds,
            "pruning": self.pruning,
            "best": [e.summary() for e in self.best],
            "per_dataflow": {k: e.summary() for k, e in self.per_dataflow.items()},
        }


class _Search:
    """State of one search (see :func:`search`): costs per word, the two stages, the best so far."""

    def __init__(self, layer, hierarchy, table, bits, acc_bits, objective, margin, top, spatial_keep, progress):
        self.layer, self.h, self.objective = layer, hierarchy, objective
        self.margin, self.top, self.spatial_keep, self.progress = margin, top, spatial_keep, progress
        self.full = _full(layer)
        nest = conv_nest(layer)
        self.tensors = {t.name: t for t in nest.tensors}
        self.dims = {t.name: frozenset(t.dims) for t in nest.tensors}
        self.relevant = tuple("".join(sorted(t.dims)) for t in nest.tensors)
        self.counter = _Counter(layer, self.tensors)
        width = {"input": bits, "weights": bits, "output": acc_bits}
        self.cost = {(lv, t): table.access(lv, w) for lv in LEVELS for t, w in width.items()}
        self.macs = layer.macs
        self.mac_energy = self.macs * table.mac(bits, acc_bits)
        whole = tuple((self.full[d], 1, 1) for d in DIMS)
        zero = tuple(0 for _ in DIMS)
        every = tuple(len(self.counter.temporal(d, p)) for d, p in zip(DIMS, whole))
        self.size = {t: self.counter.fills(t, whole, zero, False) for t in TENSORS}  # distinct words touched
        self.whole_fp = {t: self.counter.footprint(t, whole, zero, False) for t in TENSORS}
        self.uses = {"input": self.counter.fills("input", whole, every, False), "weights": self.macs}
        self.rf_choices = list(TENSORS) if hierarchy.rf_words > hierarchy.reg_words else [None]
        self.spatial_values = {d: sorted({f for c in _candidates(self.full[d])
                                          for f in _spatial_factors(c, max(hierarchy.rows, hierarchy.cols))})
                               for d in DIMS}
        self._spatial_memo = {}
        self.ranked = []  # (score, tie, params) of the best `top`
        self.per_dataflow = {}
        self.points = []
        self.tie = itertools.count()

    # -- stage one --------------------------------------------------------------------------

    def _fits(self, fp: dict) -> bool:
        if sum(fp.values()) > self.h.glb_words:
            return False
        return all(self.h.glb_limit(t) is None or w <= self.h.glb_limit(t) for t, w in fp.items())

    def _side(self, t: str, f: int) -> tuple[float, float]:
        """(DRAM energy, DRAM + GLB fill/drain energy) of tensor ``t`` with ``f`` GLB fills (module notes)."""
        c_dram, c_glb = self.cost[Level.DRAM, t], self.cost[Level.GLB, t]
        if t == "output":
            u = self.size[t]
            return (2 * f - u) * c_dram, (2 * f - u) * c_dram + (2 * f - 2 * u) * c_glb
        return f * c_dram, f * (c_dram + c_glb)

    def stage_one(self) -> tuple[list[_Option], dict]:
        """Every fitting GLB tile x DRAM order, with its best choice of whole tensors; kept and ranked."""
        tiled = [d for d in "ngmcef" if self.full[d] > 1]
        combos = list(itertools.product(*[_candidates(self.full[d]) for d in tiled]))
        options, aligned, scored = [], {}, 0
        for i, combo in enumerate(combos):
            if self.progress and i % 500 == 0:
                self.progress("GLB tiles", i, len(combos))
            t2 = self.full | dict(zip(tiled, combo))
            params = tuple((t2[d], 1, 1) for d in DIMS)
            outer = "".join(d for d in tiled if t2[d] < self.full[d])
            outside = tuple(1 if d in outer else 0 for d in DIMS)  # the d3 loops select the GLB tile
            split_fp = {t: self.counter.footprint(t, params, outside, False) for t in TENSORS}
            if not self._fits(split_fp):
                continue
            is_aligned = any(t2[a] % self.h.rows == 0 and t2[b] % self.h.cols == 0
                             for a, b in itertools.permutations(DIMS, 2))
            wholes = [w for r in range(4) for w in itertools.combinations(TENSORS, r)
                      if self._fits({t: self.whole_fp[t] if t in w else split_fp[t] for t in TENSORS})]
            memo = self.counter.memo_of(params)
            for order3 in _orders(outer, self.relevant):
                split_f = {t: self.counter.fills(t, params, _depths(order3, self.dims[t], len(order3)), False, memo)
                           for t in TENSORS}
                sides = {t: (self._side(t, split_f[t]), self._side(t, self.size[t])) for t in TENSORS}
                best = None
                for whole in wholes:
                    scored += 1
                    side = sum(sides[t][t in whole][1] for t in TENSORS)
                    if best is None or side < best[0]:
                        best = (side, whole)
                whole = best[1]
                f = {t: self.size[t] if t in whole else split_f[t] for t in TENSORS}
                opt = _Option(t2, order3, frozenset(whole), sum(sides[t][t in whole][0] for t in TENSORS), best[0],
                              sum(f.values()) + f["output"] - self.size["output"], f)
                options.append(opt)
                if is_aligned and (combo not in aligned or opt.dram_energy < aligned[combo].dram_energy):
                    aligned[combo] = opt
        if not options:
            raise ValueError(f"no GLB tile of layer {self.layer} fits glb_words={self.h.glb_words}"
                             f"{f' and glb_split={self.h.glb_split}' if self.h.glb_split else ''}")
        least = min(o.dram_energy for o in options)
        kept = [o for o in options if o.dram_energy <= least * (1 + self.margin)]
        in_margin, ids = len(kept), {id(o) for o in kept}
        kept += [o for o in aligned.values() if id(o) not in ids]
        kept.sort(key=lambda o: (self._lower(o, 0.0), o.side_energy, -sum(o.t2.values())))
        return kept, {"glb_tiles": len(combos), "stage_one_scored": scored, "tile_orders": len(options),
                      "kept_within_margin": in_margin, "kept_as_array_multiples": len(kept) - in_margin}

    def _lower(self, o: _Option, floor: float) -> float:
        """The objective's value no completion of ``o`` can beat, with ``floor`` the least on-chip energy."""
        if self.objective == "energy":
            return o.side_energy + floor
        if self.objective == "dram":
            return o.dram_words
        return max(-(-self.macs // self.h.pes), math.ceil(o.dram_words / self.h.dram_words_per_cycle))

    # -- stage two --------------------------------------------------------------------------

    def _spatial(self, t2: dict) -> list[tuple]:
        """:meth:`_assignments` of ``t2``, memoised on the extents capped at the longer axis (all they depend on)."""
        cap = max(self.h.rows, self.h.cols)
        key = tuple(min(t2[d], cap) for d in DIMS)
        if key not in self._spatial_memo:
            self._spatial_memo[key] = self._assignments(t2)
        return self._spatial_memo[key]

    def _assignments(self, t2: dict) -> list[tuple]:
        """Array assignments ``((row dim, PEs) or None, (col dim, PEs) or None)`` for GLB tile ``t2``.

        Of every assignment (one dimension per axis, PEs from the candidate
        factors), the ``spatial_keep`` of best array utilisation on the whole
        layer, and any tied with the last of them.
        """
        def factors(d: str, axis: int) -> list[int]:
            return [f for f in self.spatial_values[d] if f <= min(axis, t2[d]) and f > 1]

        dims = [d for d in DIMS if t2[d] > 1]
        out = [((a, pa), (b, pb)) for a, b in itertools.permutations(dims, 2)
               for pa in factors(a, self.h.rows) for pb in factors(b, self.h.cols)]
        if not out:  # at most one dimension left: one axis or none
            out = [((d, pa), None) for d in dims for pa in factors(d, self.h.rows)] or [(None, None)]
        util = {sp: self._utilisation(sp) for sp in out}
        ranked = sorted(util.values(), reverse=True)
        cut = ranked[min(self.spatial_keep, len(ranked)) - 1]
        return [sp for sp in out if util[sp] >= cut]

    def _utilisation(self, sp: tuple) -> float:
        """Fraction of PE-cycles doing a MAC with this array assignment on the whole layer."""
        u = 1.0
        for v, axis in zip(sp, (self.h.rows, self.h.cols)):
            if v:
                d, pes = v
                u *= self.full[d] / (pes * -(-self.full[d] // pes)) * pes / axis
            else:
                u /= axis
        return u

    def _pe_tiles(self, t2: dict, p: dict, held) -> list[dict]:
        """Every ``d0`` extent assignment of the RF tensor's dimensions whose PE tile fits the RF."""
        if held is None:
            return [{}]
        dims = [d for d in DIMS if d in self.dims[held] and -(-t2[d] // p.get(d, 1)) > 1]
        found = []

        def grow(i: int, a0: dict) -> None:
            if i == len(dims):
                found.append(dict(a0))
                return
            d = dims[i]
            most = -(-t2[d] // p.get(d, 1))
            for k in (k for k in _candidates(-(-self.full[d] // p.get(d, 1))) if k <= most):
                a0[d] = k
                if self._pe_words(t2, p, a0, held) > self.h.rf_words:
                    break
                grow(i + 1, a0)
            a0.pop(d, None)

        grow(0, {})
        return found

    def _params(self, t2: dict, p: dict, a0: dict) -> tuple:
        return tuple((t2[d], min(p.get(d, 1) * a0.get(d, 1), t2[d]), p.get(d, 1)) for d in DIMS)

    def _pe_words(self, t2, p, a0, held) -> int:
        """Words of the RF tensor's largest PE tile (the ``d0`` loops) for PE extents ``a0``."""
        params = self._params(t2, p, a0)
        outside = tuple(sum(1 for n in self.counter.temporal(d, q) if not n.endswith("0"))
                        for d, q in zip(DIMS, params))
        return self.counter.footprint(held, params, outside, True)

    def stage_two(self, o: _Option, record: bool = True, assignments=None) -> tuple[float, int]:
        """Score every completion of option ``o``; returns the least on-chip energy and the number scored.

        ``assignments`` overrides the array assignments (default :meth:`_spatial` of the tile).
        """
        least, scored = math.inf, 0
        for held in self.rf_choices:
            for sp in self._spatial(o.t2) if assignments is None else assignments:
                p = {v[0]: v[1] for v in sp if v}
                for a0 in self._pe_tiles(o.t2, p, held):
                    params = self._params(o.t2, p, a0)
                    segs = {lv: "".join(d for d, q in zip(DIMS, params)
                                        if any(n.endswith(lv) for n in self.counter.temporal(d, q))) for lv in "20"}
                    compute = self.counter.compute_cycles(params)
                    for o2 in _orders(segs["2"], self.relevant):
                        for o0 in _orders(segs["0"], self.relevant):
                            scored += 1
                            e = self._onchip(held, params, o.order3 + o2 + o0, len(o.order3) + len(o2))
                            least = min(least, e)
                            if record:
                                self._record(o, e, compute, (o, held, sp, a0, o2, o0))
        return least, scored

    def _onchip(self, held, params, seq: str, rf_cut: int) -> float:
        """On-chip energy of one completion: MACs, PE levels, NoC and the GLB's reads for the PEs."""
        c, energy, fills = self.cost, self.mac_energy, self.counter.fills
        memo = self.counter.memo_of(params)
        for t in TENSORS:
            level = Level.RF if t == held else Level.REG
            depths = _depths(seq, self.dims[t], rf_cut if t == held else len(seq))
            f_pe, f_mc = fills(t, params, depths, True, memo), fills(t, params, depths, False, memo)
            if t == "output":
                energy += 2 * self.macs * c[level, t] + f_pe * c[Level.NOC, t] + 2 * f_mc * c[Level.GLB, t]
            else:
                energy += (self.uses[t] + f_pe) * c[level, t] + f_pe * c[Level.NOC, t] + f_mc * c[Level.GLB, t]
        return energy

    def _record(self, o: _Option, onchip: float, compute: int, params: tuple) -> None:
        energy = o.side_energy + onchip
        cycles = max(compute, math.ceil(o.dram_words / self.h.dram_words_per_cycle))
        self.points.append((energy, cycles))
        score = _score(self.objective, energy, o.dram_words, cycles)
        _, held, _, _, o2, o0 = params
        seq = o.order3 + o2 + o0
        stationary = held or (next((t for t in TENSORS if seq[-1] not in self.dims[t]), None) if seq else None)
        label = DATAFLOW_OF.get(stationary, "none")
        if label not in self.per_dataflow or score < self.per_dataflow[label][0]:
            self.per_dataflow[label] = (score, params)
        if len(self.ranked) < self.top or score < self.ranked[-1][0]:
            bisect.insort(self.ranked, (score, next(self.tie), params))
            del self.ranked[self.top:]

    def floor(self, options: list[_Option]) -> float:
        """Least on-chip energy of the whole-layer tile over the array assignments of every option.

        A completion of a smaller GLB tile has a whole-layer counterpart with
        the same array assignment, PE tile and orders, its DRAM-level loops
        merged into the GLB-level ones, and that counterpart moves no more
        words on chip (a merged tile is the union of the tiles it replaces), so
        no option goes below this floor.
        """
        union = {}
        for o in options:
            union.update(dict.fromkeys(self._spatial(o.t2)))
        whole = _Option(dict(self.full), "", frozenset(), 0.0, 0.0, 0, {})
        return self.stage_two(whole, record=False, assignments=list(union))[0]

    def mapping(self, params, name: str) -> Mapping:
        """The :class:`Mapping` of a scored candidate."""
        o, held, sp, a0, o2, o0 = params
        p = {v[0]: v[1] for v in sp if v}
        tiles = {d: tuple((f"{d}{lv}", x) for lv, x in zip(CHAIN, (*q, 1)))
                 for d, q in zip(DIMS, self._params(o.t2, p, a0))}
        order = [f"{d}3" for d in o.order3] + [f"{d}2" for d in o2] + [f"{d}0" for d in o0]
        split, rf_cut = len(o.order3), len(o.order3) + len(o2)
        keep = {t: (0 if t in o.whole else split, rf_cut if t == held else len(order),
                    Level.RF if t == held else Level.REG) for t in TENSORS}
        rows = (f"{sp[0][0]}1",) if sp[0] else ()
        cols = (f"{sp[1][0]}1",) if sp[1] else ()
        return conv_mapping(self.layer, tiles=tiles, order=order, rows=rows, cols=cols, keep=keep, name=name)


def search(layer: ConvLayer, hierarchy: Hierarchy | None = None, *, table="eyeriss", bits: int = 8,
           acc_bits: int | None = None, objective: str = "energy", margin: float = 0.1, top: int = 5,
           spatial_keep: int = 8, bound: bool = True, progress=None) -> SearchResult:
    """Search GLB tiles, orders, array unrolling, PE tiles and buffer cuts for ``layer`` (module notes).

    Parameters
    ----------
    layer : ConvLayer
        The layer.
    hierarchy : Hierarchy, optional
        Array and capacities (default: :class:`~model.energy.Hierarchy` defaults).
    table : str or EnergyTable
        Energy table: a name of :data:`~model.energy.TABLES`, a ``.json``
        file (:func:`~model.energy.parse_table`) or an object.
    bits, acc_bits : int
        Operand and partial-sum widths (``acc_bits`` default: the
        :class:`~model.config.AcceleratorConfig` accumulator for ``bits``).
    objective : {"energy", "dram", "cycles"}
        What to minimise.
    margin : float
        Stage one keeps every option within this fraction of the least DRAM
        energy (plus the array-multiple tiles).
    top : int
        Best mappings returned.
    spatial_keep : int
        Array assignments tried per GLB tile: the ``spatial_keep`` of best
        utilisation (and ties).
    bound : bool
        Skip stage-one options whose lower bound on the objective cannot beat
        the best so far: the best value is exact, the other listed mappings
        (and ties) are the best of the options scored. ``False`` scores every
        kept option.
    progress : callable, optional
        ``progress(stage, done, total)``, called now and then.
    """
    t_start = time.perf_counter()
    hierarchy = hierarchy or Hierarchy()
    table = parse_table(table)
    check_choice("objective", objective, OBJECTIVES)
    check_int("bits", bits, 1, 16)
    acc_bits = AcceleratorConfig(bits=bits).acc_bits if acc_bits is None else check_int("acc_bits", acc_bits, 1, 64)
    check_int("top", top, 1)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 10:
        raise ValueError(f"margin must be a number in 0..10, not {margin!r}")
    check_int("spatial_keep", spatial_keep, 1)
    s = _Search(layer, hierarchy, table, bits, acc_bits, objective, margin, top, spatial_keep, progress)
    options, pruning = s.stage_one()
    floor = s.floor(options) if bound and objective == "energy" else 0.0
    skipped = evaluated = 0
    for i, o in enumerate(options):
        if progress and i % 10 == 0:
            progress("mappings", i, len(options))
        if bound and s.ranked and s._lower(o, floor) >= s.ranked[0][0][0]:
            skipped += 1
            continue
        evaluated += s.stage_two(o)[1]
    pruning |= {"stage_two_options": len(options) - skipped, "skipped_by_bound": skipped}
    best = [evaluate(s.mapping(params, f"#{i + 1}"), hierarchy, table, bits, acc_bits)
            for i, (_, _, params) in enumerate(s.ranked)]
    per_dataflow = {label: evaluate(s.mapping(params, label), hierarchy, table, bits, acc_bits)
                    for label, (_, params) in sorted(s.per_dataflow.items())}
    points = np.array(s.points, dtype=np.float64).reshape(-1, 2)
    return SearchResult(layer, objective, best, per_dataflow, points, evaluated, time.perf_counter() - t_start,
                        pruning)


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
