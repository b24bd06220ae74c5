"""Words moved per memory level and tensor of a mapped loop nest, with no implicit storage.

A :class:`Mapping` places a :class:`~model.loopnest.LoopNest` on a spatial
array: the nest's loops are the *temporal* loops (outermost first) followed by
the *spatial* loops, unrolled over the array's rows and columns. Every tensor
is kept at three levels (:class:`Keep`): DRAM holds all of it; its global
buffer (GLB) tile holds what the temporal loops ``[glb:]`` and the spatial
loops touch; each PE's tile -- in the PE's operand register (``REG``) or its
register file (``RF``) -- holds what the temporal loops ``[pe:]`` touch.
Tensors have their own cuts (``glb <= pe``): one may stay whole in the GLB
while another streams through it. Nothing else stores data: every word a MAC
uses is in its PE's tile, every word a PE tile receives comes from the GLB
tile at that moment, every GLB word from DRAM.

**Replacement rule.** A tile is replaced when a temporal loop above its cut
advances at or above the innermost loop above the cut that the tensor depends
on (a loop of bound 1 never advances); a replacement moves the distinct
in-bounds words of the new tile (halos and padding exact; a padded position
is no word). ``F(t, cut)`` counts those words over the whole run, once per
distinct word per replacement: a word that several PEs need in the same
replacement is read from the GLB once and multicast (a partial sum that
several PEs hold is reduced on the way up and written once). ``F_pe`` counts
the same per PE: the words the network delivers to, or drains from, the PEs.

**Counts**, with ``U`` the distinct output words and ``uses`` the in-bounds
accesses of a tensor by the MACs:

* operand: DRAM reads = GLB writes = ``F(glb)``; GLB reads = ``F(pe)``;
  NoC = PE-level writes = ``F_pe(pe)``; PE-level reads = ``uses``;
* output: PE-level reads = writes = one per MAC (a residency's first MAC
  writes without reading, its drain reads once); NoC = ``F_pe(pe)`` drains;
  the GLB adds each drained word into its copy (a read except the word's
  first arrival, and a write): GLB writes = ``F(pe) + F(glb) - U``, reads =
  ``F(pe) - U + F(glb)``; DRAM cannot add, so a GLB tile that returns fetches
  its partial sums back: DRAM reads = ``F(glb) - U``, writes = ``F(glb)``.

:func:`analytical_counts` evaluates this without enumerating the nest:
remainder guards only couple loops of one dimension, so the iteration space is
a product over dimensions, and a tensor's words are a product over its groups
of axes that share dimensions (the input's ``h`` couples ``e`` and ``r``).
:func:`footprints` gives each tile's words (capacity checks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.energy import LEVELS, Level
from model.loopnest import LoopNest, TensorRef

__all__ = ["PE_LEVELS", "Keep", "Mapping", "Counts", "analytical_counts", "footprints", "structures_of", "tile_max",
           "fills", "key_values", "axis_groups", "group_words", "group_max"]

#: PE-level storages a tensor may use.
PE_LEVELS = (Level.REG, Level.RF)


@dataclass(frozen=True)
class Keep:
    """Where one tensor is kept: GLB tile from temporal loop ``glb`` inward, PE tile from ``pe`` inward, in ``level``."""

    tensor: str
    glb: int
    pe: int
    level: Level = Level.REG


@dataclass(frozen=True)
class Mapping:
    """A loop nest on an array with per-tensor buffer cuts (see the module notes).

    Parameters
    ----------
    nest : LoopNest
        Temporal loops, outermost first, then the spatial loops.
    rows, cols : tuple of str
        Spatial loops unrolled over the array's rows and columns: together,
        the last loops of ``nest``.
    keep : tuple of Keep
        One per tensor of the nest.
    name : str
        A label for reports.
    """

    nest: LoopNest
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    keep: tuple[Keep, ...]
    name: str = ""

    def __post_init__(self) -> None:
        spatial = self.rows + self.cols
        n = len(self.nest.loops)
        if spatial and tuple(self.nest.names[n - len(spatial):]) != spatial:
            raise ValueError(f"spatial loops {list(spatial)} must be the last loops of the nest, "
                             f"not {list(self.nest.names[n - len(spatial):])}")
        names = sorted(k.tensor for k in self.keep)
        tensors = sorted(t.name for t in self.nest.tensors)
        if names != tensors:
            raise ValueError(f"keep must name each tensor once ({', '.join(tensors)}), not {names}")
        for k in self.keep:
            if not 0 <= k.glb <= k.pe <= self.temporal:
                raise ValueError(f"tensor {k.tensor!r} needs 0 <= glb <= pe <= {self.temporal} "
                                 f"(the temporal loops), not glb={k.glb}, pe={k.pe}")
            if k.level not in PE_LEVELS:
                raise ValueError(f"tensor {k.tensor!r} PE level must be one of {[str(v) for v in PE_LEVELS]}, "
                                 f"not {k.level!r}")

    @property
    def spatial(self) -> tuple[str, ...]:
        """The spatial loops (rows, then columns)."""
        return self.rows + self.cols

    @property
    def temporal(self) -> int:
        """Number of temporal loops (``nest.loops[:temporal]``)."""
        return len(self.nest.loops) - len(self.spatial)

    def of(self, tensor: str) -> Keep:
        """The :class:`Keep` of ``tensor``."""
        for k in self.keep:
            if k.tensor == tensor:
                return k
        raise ValueError(f"unknown tensor {tensor!r}; tensors are {', '.join(k.tensor for k in self.keep)}")

    def describe(self) -> str:
        """One line: temporal loops (name:bound), the array, and each tensor's GLB and PE tiles."""
        loops = self.nest.loops

        def fmt(names) -> str:
            return " ".join(f"{n}:{self.nest.loop(n).bound}" for n in names) or "-"

        def tile(cut: int) -> str:
            return loops[cut].name + ".." if cut < self.temporal else "-"

        keeps = "; ".join(f"{k.tensor} GLB {tile(k.glb)} {k.level} {tile(k.pe)}" for k in self.keep)
        return (f"T[{fmt(self.nest.names[:self.temporal])}] rows[{fmt(self.rows)}] cols[{fmt(self.cols)}] "
                f"| {keeps}")


@dataclass(frozen=True)
class Counts:
    """Words of a mapping: ``words[level][tensor] = (reads, writes)`` for every level (NoC: transfers, 0)."""

    words: dict
    macs: int
    compute_cycles: int

    def total(self, level: str) -> int:
        """All reads and writes at ``level``."""
        return int(sum(r + w for r, w in self.words[level].values()))


def _key(m: Mapping, t: TensorRef, cut: int, per_pe: bool) -> frozenset:
    """Loops whose values identify ``t``'s tile at ``cut``: temporal loops down to the innermost relevant one."""
    loops = m.nest.loops
    inner = max((i for i in range(cut) if loops[i].dim in t.dims and loops[i].bound > 1), default=-1)
    key = frozenset(lp.name for lp in loops[: inner + 1])
    return key | frozenset(m.spatial) if per_pe else key


def _assemble(m: Mapping, tile_fills, uses) -> dict:
    """Words per level and tensor from ``tile_fills(tensor, cut, per_pe)`` and ``uses(tensor)`` (module notes)."""
    words = {lv: {t.name: (0, 0) for t in m.nest.tensors} for lv in LEVELS}
    for t in m.nest.tensors:
        k = m.of(t.name)
        f_glb, f_pe, f_mc = tile_fills(t, k.glb, False), tile_fills(t, k.pe, True), tile_fills(t, k.pe, False)
        words[Level.NOC][t.name] = (f_pe, 0)
        if t is m.nest.output:
            u, macs = tile_fills(t, 0, False), m.nest.iterations
            words[k.level][t.name] = (macs, macs)
            words[Level.GLB][t.name] = (f_mc - u + f_glb, f_mc + f_glb - u)
            words[Level.DRAM][t.name] = (f_glb - u, f_glb)
        else:
            words[k.level][t.name] = (uses(t), f_pe)
            words[Level.GLB][t.name] = (f_mc, f_glb)
            words[Level.DRAM][t.name] = (f_glb, 0)
    return words


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


def key_values(structure: tuple, key: frozenset) -> int:
    """Distinct values of the ``key`` loops of one dimension's structure over the executed iterations."""
    return _dim_groups(structure, key)[0]


@lru_cache(maxsize=1 << 16)
def axis_groups(t: TensorRef) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
    """Axes of ``t`` grouped by shared dimensions: (axis indices, dims) per group."""
    comps: list[tuple[list[int], set]] = []
    for a, ix in enumerate(t.index):
        axes, ds = [a], set(ix.dims)
        for c in [c for c in comps if c[1] & ds]:
            comps.remove(c)
            axes, ds = axes + c[0], ds | c[1]
        comps.append((axes, ds))
    return tuple((tuple(sorted(axes)), tuple(sorted(ds))) for axes, ds in comps if ds)


def _group_pairs(index: tuple, shape: tuple, dims: tuple, parts: tuple) -> tuple[np.ndarray, int]:
    """Distinct ``(key group, in-bounds address)`` pairs of one axis group, as ``group * size + address``, and size."""
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
    size = int(np.prod(shape))
    return np.unique(key[inside] * size + addr[inside]), size


@lru_cache(maxsize=1 << 18)
def group_words(index: tuple, shape: tuple, dims: tuple, parts: tuple) -> int:
    """Sum over key groups of distinct in-bounds index tuples of one axis group (``parts``: per dim, structure and key)."""
    return int(_group_pairs(index, shape, dims, parts)[0].size)


def fills(structures: dict, key_loops: frozenset, t: TensorRef) -> int:
    """Sum over tiles (key = ``key_loops``) of distinct in-bounds words: a product over axis groups.

    ``structures`` is :func:`structures_of` the nest; dimensions ``t`` does not
    depend on contribute their number of distinct key values.
    """
    keys = {d: names & key_loops for d, (_, names) in structures.items()}
    total = 1
    for d, (s, _) in structures.items():
        if d not in t.dims:
            total *= _dim_groups(s, keys[d])[0]
    for axes, ds in axis_groups(t):
        total *= group_words(tuple(t.index[a] for a in axes), tuple(t.shape[a] for a in axes), ds,
                             tuple((structures[d][0], keys[d]) for d in ds))
    return total


def analytical_counts(m: Mapping) -> Counts:
    """Words of ``m`` per level and tensor from tile footprints, per dimension, without enumerating the nest."""
    nest = m.nest
    structures = structures_of(nest)
    everything = frozenset(nest.names)

    def tile_fills(t, cut, per_pe):
        return fills(structures, _key(m, t, cut, per_pe), t)

    def uses(t):
        return fills(structures, everything, t)

    temporal = frozenset(nest.names[: m.temporal])
    cycles = math.prod(_dim_groups(s, names & temporal)[0] for s, names in structures.values())
    return Counts(_assemble(m, tile_fills, uses), nest.iterations, cycles)


@lru_cache(maxsize=1 << 16)
def group_max(index: tuple, shape: tuple, dims: tuple, parts: tuple) -> int:
    """Largest number of distinct in-bounds index tuples of one axis group in any tile (key group)."""
    pairs, size = _group_pairs(index, shape, dims, parts)
    return int(np.bincount(pairs // size).max()) if pairs.size else 0


def tile_max(structures: dict, outside: frozenset, t: TensorRef) -> int:
    """Words of ``t``'s largest tile when the loops in ``outside`` select the tile: a product over axis groups.

    ``structures`` maps each dimension to ``(structure, loop names)`` as
    :func:`analytical_counts` builds them.
    """
    words = 1
    for axes, ds in axis_groups(t):
        words *= group_max(tuple(t.index[a] for a in axes), tuple(t.shape[a] for a in axes), ds,
                            tuple((structures[d][0], structures[d][1] & outside) for d in ds))
    return words


def structures_of(nest: LoopNest) -> dict:
    """Per dimension ``(structure, loop names)``: the cache keys of the per-dimension counts."""
    return {d: (s, frozenset(n for n, _, _ in s[0])) for d, s in _dim_structures(nest).items()}


def footprints(m: Mapping) -> dict[str, dict[str, int]]:
    """Words of each tensor's largest tile: ``{"GLB": {tensor: words}, "PE": {tensor: words per PE}}``.

    The largest tile over the run, in-bounds words only (a padded position
    occupies no storage; remainder tiles are smaller).
    """
    structures = structures_of(m.nest)
    names = m.nest.names
    out = {"GLB": {}, "PE": {}}
    for t in m.nest.tensors:
        k = m.of(t.name)
        out["GLB"][t.name] = tile_max(structures, frozenset(names[:k.glb]), t)
        out["PE"][t.name] = tile_max(structures, frozenset(names[:k.pe]) | frozenset(m.spatial), t)
    return out
