"""Accesses per memory level and tensor of a mapped loop nest: trace-driven (exact) and analytical (fast).

A :class:`Mapping` places a :class:`~model.loopnest.LoopNest` on a
:class:`~model.energy.Hierarchy`: ``loops[:glb]`` run over DRAM (each of
their iterations works on one global-buffer tile), then GLB-level loops, then
the ``spatial`` loops unrolled over the PE array (rows, then columns), then
``loops[rf:]``, which run inside one PE on its register-file tile.

Rule for every level (as in Timeloop-like models): a tensor's tile at a
boundary is (re)fetched whenever a loop above the boundary advances at or
above the innermost loop the tensor depends on (loops of bound 1 never
advance); one fetch brings the distinct in-bounds words the tile touches.
At the RF boundary the spatial loops are above it and each PE has its own
RF, so spatial loops always separate tiles; at the array boundary they are
inside the tile, so one GLB read is multicast to every PE that needs it.
Tensors not held in the RF (``rf_tensors``) bypass it: the network delivers
the operand when it changes (a PE input register) and takes a partial sum
away when it is done.

Per operand: DRAM reads = GLB writes = fills of the GLB tile; GLB reads =
fills of the array tile; NoC = fills of the per-PE tile; RF writes = those
fills and RF reads = one per use, when held in the RF. Per output, with
``U`` distinct output words: ``D`` drains per boundary; DRAM writes = ``D_glb``,
DRAM reads = ``D_glb - U`` (psums fetched back); GLB writes = ``D_array +
D_glb - U``, GLB reads = ``D_array - U`` (accumulation) ``+ D_glb``; NoC =
``D_pe``; RF reads = RF writes = one per use when held in the RF.

:func:`trace_counts` evaluates the rule on the executed iterations (distinct
(tile, address) pairs); :func:`analytical_counts` from per-dimension tile
footprints without enumerating the nest: remainder guards only couple loops
of one dimension, so the iteration space is a product over dimensions, and a
tensor's words are a product over its groups of axes that share dimensions
(the input's ``h`` couples ``e`` and ``r``). They agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.loopnest import LoopNest, TensorRef, addresses

__all__ = ["Mapping", "Counts", "trace_counts", "analytical_counts", "footprints"]


@dataclass(frozen=True)
class Mapping:
    """A loop nest on the hierarchy (see the module notes).

    Parameters
    ----------
    nest : LoopNest
        The (tiled, ordered) nest.
    glb : int
        ``loops[glb:]`` work inside the global buffer.
    rf : int
        ``loops[rf:]`` work inside one PE's register file.
    spatial : tuple of str
        Loops unrolled over rows then columns: the loops directly above ``rf``.
    rf_tensors : frozenset of str
        Tensors kept in the RF; the others bypass it.
    name : str
        A label for reports.
    """

    nest: LoopNest
    glb: int
    rf: int
    spatial: tuple[str, ...] = ()
    rf_tensors: frozenset = frozenset()
    name: str = ""

    def __post_init__(self) -> None:
        n = len(self.nest.loops)
        if not 0 <= self.glb <= self.rf - len(self.spatial) or self.rf > n:
            raise ValueError(f"need 0 <= glb <= rf - len(spatial) and rf <= {n}; got glb={self.glb}, rf={self.rf}")
        if tuple(self.nest.names[self.rf - len(self.spatial):self.rf]) != tuple(self.spatial):
            raise ValueError(f"spatial loops {self.spatial} must be the loops just above rf={self.rf}: "
                             f"{self.nest.names[self.rf - len(self.spatial):self.rf]}")
        unknown = set(self.rf_tensors) - {t.name for t in self.nest.tensors}
        if unknown:
            raise ValueError(f"rf_tensors names unknown tensors {sorted(unknown)}")

    @property
    def array(self) -> int:
        """Index of the first spatial loop: the boundary between GLB and the array."""
        return self.rf - len(self.spatial)

    def describe(self) -> str:
        """One line: the loops (name:bound) of each level; ``PE[...]`` holds the spatial loops."""
        L = self.nest.loops

        def fmt(loops) -> str:
            return " ".join(f"{lp.name}:{lp.bound}" for lp in loops) or "-"

        return (f"DRAM[{fmt(L[:self.glb])}] GLB[{fmt(L[self.glb:self.array])}] "
                f"PE[{fmt(L[self.array:self.rf])}] RF[{fmt(L[self.rf:])}] in RF: {','.join(sorted(self.rf_tensors)) or '-'}")


@dataclass(frozen=True)
class Counts:
    """Accesses of a mapping: ``accesses[level][tensor] = (reads, writes)`` (NoC: transfers, 0)."""

    accesses: dict
    macs: int
    compute_cycles: int

    def words(self, level: str) -> int:
        """All reads and writes at ``level``."""
        return int(sum(r + w for r, w in self.accesses[level].values()))


def _key_end(nest: LoopNest, t: TensorRef, boundary: int, private: frozenset) -> int:
    """Index of the innermost loop above ``boundary`` whose advance refetches ``t``'s tile (-1: none)."""
    return max((i for i, lp in enumerate(nest.loops[:boundary])
                if (lp.dim in t.dims and lp.bound > 1) or lp.name in private), default=-1)


def _assemble(m: Mapping, fills) -> dict:
    """Accesses per level and tensor from ``fills(tensor, boundary, private)`` (see the module notes)."""
    nest, end, sp = m.nest, len(m.nest.loops), frozenset(m.spatial)
    acc = {lv: {} for lv in ("RF", "NoC", "GLB", "DRAM")}
    for t in nest.operands:
        f_glb, f_arr = fills(t, m.glb, frozenset()), fills(t, m.array, frozenset())
        held = t.name in m.rf_tensors
        f_pe = fills(t, m.rf if held else end, sp)
        acc["DRAM"][t.name] = (f_glb, 0)
        acc["GLB"][t.name] = (f_arr, f_glb)
        acc["NoC"][t.name] = (f_pe, 0)
        acc["RF"][t.name] = (fills(t, end, frozenset(nest.names)) if held else 0, f_pe if held else 0)
    o = nest.output
    u = fills(o, 0, frozenset())
    d_glb, d_arr = fills(o, m.glb, frozenset()), fills(o, m.array, frozenset())
    held = o.name in m.rf_tensors
    d_pe = fills(o, m.rf if held else end, sp)
    uses = nest.iterations if held else 0
    acc["DRAM"][o.name] = (d_glb - u, d_glb)
    acc["GLB"][o.name] = (d_arr - u + d_glb, d_arr + d_glb - u)
    acc["NoC"][o.name] = (d_pe, 0)
    acc["RF"][o.name] = (uses, uses)
    return acc


# -- trace-driven -------------------------------------------------------------------------


def trace_counts(m: Mapping) -> Counts:
    """Accesses by running the nest: distinct (tile, address) pairs on the executed iterations."""
    nest = m.nest
    values = nest.loop_values()
    dims = nest.dim_values(values)
    bounds = [lp.bound for lp in nest.loops]
    cache = {}

    def fills(t, boundary, private):
        k = _key_end(nest, t, boundary, private)
        if (t.name, k) not in cache:
            addr, inside = addresses(t, dims)
            addr = np.broadcast_to(addr, (len(values),))[np.broadcast_to(inside, (len(values),))]
            key = (np.ravel_multi_index(values[:, : k + 1].T, bounds[: k + 1]) if k >= 0
                   else np.zeros(len(values), np.int64))
            key = key[np.broadcast_to(inside, (len(values),))]
            cache[t.name, k] = int(np.unique(key * t.size + addr).size)
        return cache[t.name, k]

    temporal = [i for i, lp in enumerate(nest.loops) if lp.name not in m.spatial]
    cycles = np.unique(np.ravel_multi_index(values[:, temporal].T, [bounds[i] for i in temporal])).size
    return Counts(_assemble(m, fills), len(values), int(cycles))


# -- analytical ---------------------------------------------------------------------------


def _dim_structures(nest: LoopNest) -> dict[str, tuple]:
    """Per dimension: its loops (name, bound, step) in nest order and the guards on them (a cache key)."""
    out = {}
    for d, _ in nest.dims:
        loops = tuple((lp.name, lp.bound, lp.step) for lp in nest.loops if lp.dim == d)
        names = {n for n, _, _ in loops}
        out[d] = (loops, tuple(g for g in nest.guards if g.terms[0][0] in names))
    return out


@lru_cache(maxsize=1 << 16)
def _dim_groups(structure: tuple, key: frozenset) -> tuple[int, np.ndarray, np.ndarray]:
    """For one dimension: (number of distinct key tuples, key group of each valid point, value of each point)."""
    loops, guards = structure
    names = [n for n, _, _ in loops]
    if not loops:  # every loop of the dimension had bound 1
        return 1, np.zeros(1, np.int64), np.zeros(1, np.int64)
    pts = np.indices([b for _, b, _ in loops], dtype=np.int64).reshape(len(loops), -1).T
    keep = np.ones(len(pts), bool)
    for g in guards:
        keep &= sum(k * pts[:, names.index(n)] for n, k in g.terms) < g.limit
    pts = pts[keep]
    value = pts @ np.array([s for _, _, s in loops], np.int64)
    cols = [i for i, n in enumerate(names) if n in key]
    if not cols:
        return 1, np.zeros(len(pts), np.int64), value
    keys = np.ravel_multi_index(pts[:, cols].T, [loops[i][1] for i in cols])
    uniq, group = np.unique(keys, return_inverse=True)
    return len(uniq), group.ravel(), value


@lru_cache(maxsize=1 << 16)
def _components(t: TensorRef) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
    """Axes of ``t`` grouped by shared dimensions: (axis indices, dims) per group."""
    comps: list[tuple[list[int], set]] = []
    for a, ix in enumerate(t.index):
        axes, ds = [a], set(ix.dims)
        for c in [c for c in comps if c[1] & ds]:
            comps.remove(c)
            axes, ds = axes + c[0], ds | c[1]
        comps.append((axes, ds))
    return tuple((tuple(sorted(axes)), tuple(sorted(ds))) for axes, ds in comps if ds)


@lru_cache(maxsize=1 << 18)
def _component_words(index: tuple, shape: tuple, dims: tuple, parts: tuple) -> int:
    """Sum over key groups of distinct in-bounds index tuples of one axis group (``parts``: per dim, structure and key)."""
    groups = [_dim_groups(s, k) for s, k in parts]
    mesh = [g.ravel() for g in np.meshgrid(*[np.arange(len(g[1])) for g in groups], indexing="ij")]
    vals = {d: g[2][i] for d, g, i in zip(dims, groups, mesh)}
    key = np.ravel_multi_index([g[1][i] for g, i in zip(groups, mesh)], [g[0] for g in groups])
    inside = np.ones(len(key), bool)
    addr = np.zeros(len(key), np.int64)
    for ix, n in zip(index, shape):
        v = ix(vals)
        inside &= (v >= 0) & (v < n)
        addr = addr * n + v
    return int(np.unique(key[inside] * int(np.prod(shape)) + addr[inside]).size)


def _analytical_fills(structures: dict, key_loops: frozenset, t: TensorRef) -> int:
    """Sum over tiles (key = ``key_loops``) of distinct in-bounds words: a product over axis groups."""
    keys = {d: names & key_loops for d, (_, names) in structures.items()}
    total = 1
    for d, (s, _) in structures.items():
        if d not in t.dims:
            total *= _dim_groups(s, keys[d])[0]
    for axes, ds in _components(t):
        total *= _component_words(tuple(t.index[a] for a in axes), tuple(t.shape[a] for a in axes), ds,
                                  tuple((structures[d][0], keys[d]) for d in ds))
    return total


def analytical_counts(m: Mapping) -> Counts:
    """Accesses from tile footprints, per dimension, without enumerating the nest."""
    nest = m.nest
    structures = {d: (s, frozenset(n for n, _, _ in s[0])) for d, s in _dim_structures(nest).items()}
    cache = {}

    def fills(t, boundary, private):
        k = _key_end(nest, t, boundary, private)
        if (t.name, k) not in cache:
            cache[t.name, k] = _analytical_fills(structures, frozenset(nest.names[: k + 1]), t)
        return cache[t.name, k]

    temporal = frozenset(n for n in nest.names if n not in m.spatial)
    cycles = math.prod(_dim_groups(s, names & temporal)[0] for s, names in structures.values())
    return Counts(_assemble(m, fills), nest.iterations, cycles)


def footprints(m: Mapping) -> dict[str, int]:
    """Words needed at each level: ``{"RF": per PE, "GLB": total}``, for a full (first) tile.

    A tile's footprint is counted without clipping at tensor edges or
    remainders, so it bounds every tile; the RF holds only ``rf_tensors``.
    """
    nest = m.nest

    def tile_words(t: TensorRef, boundary: int) -> int:
        inside = nest.loops[boundary:]
        words = 1
        for axes, ds in _components(t):
            per_dim = []
            for d in ds:
                lps = [lp for lp in inside if lp.dim == d]
                v = np.zeros(1, np.int64)
                for lp in lps:
                    v = (v[:, None] + lp.step * np.arange(lp.bound)).ravel()
                per_dim.append(v)
            mesh = [g.ravel() for g in np.meshgrid(*per_dim, indexing="ij")]
            vals = dict(zip(ds, mesh))
            cols = np.stack([t.index[a](vals) * np.ones(len(mesh[0]), np.int64) for a in axes])
            words *= int(np.unique(cols, axis=1).shape[1])
        return words

    return {
        "RF": sum(tile_words(t, m.rf) for t in nest.tensors if t.name in m.rf_tensors),
        "GLB": sum(tile_words(t, m.glb) for t in nest.tensors),
    }
