"""Loop nests with affine tensor accesses: transformations, an executor and address traces.

A :class:`LoopNest` is a perfect nest of loops (outer to inner) around one
statement ``output[...] += combine(operand[...], ...)``, where ``combine`` is
a product (``"mul"``: conv, matmul) or a sum (``"add"``: the simple nests
``B[j][i] += A[i]`` and ``B[j][i] += A[i] + C[j]``).

Every loop belongs to one *dimension* of the problem (the conv letters N, M,
C, E, F, R, S are written in lower case) with a step, and a dimension's
value is the sum of ``step * value`` over its loops. Tensor indices are
affine in the dimensions (``input[n][c][e*stride + r - pad][f*stride + s - pad]``).
An operand index outside the tensor is a padded zero: it contributes nothing
and is not a memory access.

Transformations return new nests: :meth:`LoopNest.interchange` (any
permutation), :meth:`LoopNest.tile` (split a loop into an outer and an inner
loop; when the tile does not divide the bound a *guard* ``T*outer + inner <
bound`` drops the iterations past the end, so remainders are exact) and
:func:`hoist` (loop-invariant code motion of loads, with the loads saved).
:func:`execute` runs any nest on arrays; :func:`tensor_trace` and
:func:`trace` give the address traces that :mod:`model.reuse` analyses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from model.layer import ConvLayer
from model.validate import check_choice, check_int

__all__ = [
    "Loop", "Index", "TensorRef", "Guard", "LoopNest", "Hoisting",
    "conv_nest", "matmul_nest", "broadcast_nest", "outer_sum_nest",
    "MAX_ENUMERATED", "addresses", "execute", "tensor_trace", "trace", "hoist",
]


#: Largest number of loop points :meth:`LoopNest.loop_values` enumerates (memory: 8 bytes per loop per point).
MAX_ENUMERATED = 20_000_000


@dataclass(frozen=True)
class Loop:
    """One loop: ``for name in range(bound)``, adding ``step * name`` to dimension ``dim``."""

    name: str
    dim: str
    bound: int
    step: int = 1


@dataclass(frozen=True)
class Index:
    """An affine index ``sum(coef * dim) + offset`` over problem dimensions."""

    terms: tuple[tuple[str, int], ...]
    offset: int = 0

    @cached_property
    def dims(self) -> frozenset[str]:
        """Dimensions with a non-zero coefficient."""
        return frozenset(d for d, k in self.terms if k)

    def __call__(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Evaluate on arrays of dimension values (broadcasting)."""
        out = np.int64(self.offset)
        for d, k in self.terms:
            out = out + k * values[d]
        return np.asarray(out, dtype=np.int64)

    def __str__(self) -> str:
        text = "+".join(d if k == 1 else f"{d}*{k}" for d, k in self.terms if k) or "0"
        return text + (f"{self.offset:+d}" if self.offset else "")


def _ix(*terms: tuple[str, int], offset: int = 0) -> Index:
    return Index(tuple(terms), offset)


@dataclass(frozen=True)
class TensorRef:
    """A tensor of ``shape`` accessed at ``index`` (one :class:`Index` per axis)."""

    name: str
    shape: tuple[int, ...]
    index: tuple[Index, ...]

    @cached_property
    def dims(self) -> frozenset[str]:
        """Problem dimensions the access depends on."""
        return frozenset().union(*(ix.dims for ix in self.index))

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    def __str__(self) -> str:
        return self.name + "".join(f"[{ix}]" for ix in self.index)


@dataclass(frozen=True)
class Guard:
    """Iterations run only while ``sum(coef * loop) < limit`` (left by tiling with a remainder)."""

    terms: tuple[tuple[str, int], ...]
    limit: int


@dataclass(frozen=True)
class LoopNest:
    """A perfect loop nest around ``output[...] += combine(operands...)``.

    Parameters
    ----------
    dims : tuple of (str, int)
        Problem dimensions and their extents.
    loops : tuple of Loop
        The loops, outermost first.
    output : TensorRef
        The accumulated tensor; its indices must stay inside it.
    operands : tuple of TensorRef
        Read tensors; an index outside one reads a padded zero.
    combine : {"mul", "add"}
        Product or sum of the operand values.
    guards : tuple of Guard
        Remainder guards (made by :meth:`tile`).
    """

    dims: tuple[tuple[str, int], ...]
    loops: tuple[Loop, ...]
    output: TensorRef
    operands: tuple[TensorRef, ...]
    combine: str = "mul"
    guards: tuple[Guard, ...] = ()

    def __post_init__(self) -> None:
        check_choice("combine", self.combine, ("mul", "add"))
        names = [lp.name for lp in self.loops]
        if len(set(names)) != len(names):
            raise ValueError(f"loop names must be unique, not {names}")
        known = dict(self.dims)
        for lp in self.loops:
            check_int(f"bound of loop {lp.name!r}", lp.bound, 1)
            if lp.dim not in known:
                raise ValueError(f"loop {lp.name!r} belongs to unknown dimension {lp.dim!r}; dimensions: {sorted(known)}")
        tensor_names = [t.name for t in self.tensors]
        if len(set(tensor_names)) != len(tensor_names):
            raise ValueError(f"tensor names must be unique, not {tensor_names}")
        for t in self.tensors:
            if len(t.shape) != len(t.index):
                raise ValueError(f"tensor {t.name!r} has {len(t.shape)} axes but {len(t.index)} indices")
            if not t.dims <= set(known):
                raise ValueError(f"tensor {t.name!r} uses unknown dimension(s) {sorted(t.dims - set(known))}")

    # -- queries ----------------------------------------------------------------

    @property
    def tensors(self) -> tuple[TensorRef, ...]:
        """Operands then the output."""
        return (*self.operands, self.output)

    @property
    def names(self) -> tuple[str, ...]:
        """Loop names, outermost first."""
        return tuple(lp.name for lp in self.loops)

    def loop(self, name: str) -> Loop:
        """The loop called ``name`` (a clear error if there is none)."""
        for lp in self.loops:
            if lp.name == name:
                return lp
        raise ValueError(f"unknown loop {name!r}; loops are {', '.join(self.names)}")

    def tensor(self, name: str) -> TensorRef:
        """The tensor called ``name``."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise ValueError(f"unknown tensor {name!r}; tensors are {', '.join(t.name for t in self.tensors)}")

    @property
    def iterations(self) -> int:
        """Number of executed iterations (MACs for conv and matmul): the product of the extents."""
        return int(np.prod([b for _, b in self.dims]))

    def __str__(self) -> str:
        lines = [f"{'  ' * i}for {lp.name} in range({lp.bound}):" for i, lp in enumerate(self.loops)]
        op = " * " if self.combine == "mul" else " + "
        lines.append(f"{'  ' * len(self.loops)}{self.output} += {op.join(map(str, self.operands))}")
        return "\n".join(lines)

    # -- transformations ----------------------------------------------------------

    def interchange(self, order) -> "LoopNest":
        """The nest with its loops in ``order`` (loop names, outermost first; any permutation)."""
        order = tuple(order)
        if sorted(order) != sorted(self.names) or len(set(order)) != len(order):
            raise ValueError(f"order {list(order)} is not a permutation of the loops {list(self.names)}")
        return replace(self, loops=tuple(self.loop(n) for n in order))

    def tile(self, name: str, size: int, outer: str | None = None, inner: str | None = None) -> "LoopNest":
        """Split loop ``name`` into ``outer`` (steps of ``size``) and ``inner`` (within a tile).

        The outer loop runs ``ceil(bound / size)`` times and takes the place of
        the loop; the inner loop follows it directly (move it with
        :meth:`interchange`). A remainder adds a guard.

        Parameters
        ----------
        name : str
            Loop to split.
        size : int
            Tile size, >= 1 (a size >= the bound gives an outer loop of 1).
        outer, inner : str, optional
            Names of the new loops; default ``name + "_o"`` and ``name + "_i"``.
        """
        lp = self.loop(name)
        check_int("tile size", size, 1)
        outer = outer or f"{name}_o"
        inner = inner or f"{name}_i"
        clash = {outer, inner} & (set(self.names) - {name})
        if clash or outer == inner:
            raise ValueError(f"new loop names {outer!r}, {inner!r} clash with existing loops {sorted(clash) or [outer]}")
        size = min(size, lp.bound)
        lo = Loop(outer, lp.dim, -(-lp.bound // size), lp.step * size)
        li = Loop(inner, lp.dim, size, lp.step)
        loops = []
        for x in self.loops:
            loops.extend((lo, li) if x.name == name else (x,))
        guards = [
            Guard(tuple(t for n, k in g.terms for t in (((outer, k * size), (inner, k)) if n == name else ((n, k),))), g.limit)
            for g in self.guards
        ]
        if lp.bound % size:
            guards.append(Guard(((outer, size), (inner, 1)), lp.bound))
        return replace(self, loops=tuple(loops), guards=tuple(guards))

    def squeeze(self) -> "LoopNest":
        """The nest without its loops of bound 1 (they always hold 0)."""
        unit = {lp.name for lp in self.loops if lp.bound == 1}
        guards = tuple(Guard(tuple((n, k) for n, k in g.terms if n not in unit), g.limit) for g in self.guards)
        return replace(self, loops=tuple(lp for lp in self.loops if lp.name not in unit),
                       guards=tuple(g for g in guards if g.terms))

    # -- enumeration --------------------------------------------------------------

    def loop_values(self) -> np.ndarray:
        """Every executed iteration in program order: int64 array (iterations, loops).

        A nest without loops (e.g. a squeezed all-1 layer) has exactly one
        iteration, the row of no loop values (shape ``(1, 0)``).

        Raises
        ------
        ValueError
            If the nest has more than :data:`MAX_ENUMERATED` loop points: the
            executor, traces and trace-driven counts are for small nests.
        """
        bounds = [lp.bound for lp in self.loops]
        points = math.prod(bounds)
        if points > MAX_ENUMERATED:
            raise ValueError(f"nest has {points} loop points, more than the {MAX_ENUMERATED} that are enumerated; "
                             f"use a smaller layer (model.accesses.analytical_counts works at any size)")
        vals = np.indices(bounds, dtype=np.int64).reshape(len(bounds), points).T  # points = 1 without loops
        keep = np.ones(len(vals), bool)
        col = {n: i for i, n in enumerate(self.names)}
        for g in self.guards:
            keep &= sum(k * vals[:, col[n]] for n, k in g.terms) < g.limit
        return vals[keep]

    def dim_values(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Dimension values of iterations given as :meth:`loop_values` rows."""
        out = {d: np.zeros(len(values), np.int64) for d, _ in self.dims}
        for i, lp in enumerate(self.loops):
            out[lp.dim] += lp.step * values[:, i]
        return out


def addresses(tensor: TensorRef, dims: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Row-major addresses of ``tensor`` at dimension values ``dims`` and the in-bounds mask."""
    idx = [ix(dims) for ix in tensor.index]
    inside = np.ones(np.broadcast(*idx).shape if idx else (), bool)
    for i, n in zip(idx, tensor.shape):
        inside &= (i >= 0) & (i < n)
    addr = np.zeros(inside.shape, np.int64)
    for i, n in zip(idx, tensor.shape):
        addr = addr * n + np.where(inside, i, 0)
    return addr, inside


# -- named nests ----------------------------------------------------------------------


def _nest(dims: dict[str, int], order: str, output: TensorRef, operands, combine: str) -> LoopNest:
    loops = tuple(Loop(d, d, dims[d]) for d in order)
    return LoopNest(tuple(dims.items()), loops, output, tuple(operands), combine)


def conv_nest(layer: ConvLayer, order: str | None = None) -> LoopNest:
    """``output[n][m][e][f] += input[n][c][e*stride+r-pad][f*stride+s-pad] * weights[m][c][r][s]``.

    A grouped layer (``groups > 1``) gets a group dimension ``g`` and ``m``,
    ``c`` count the filters and channels *within* a group:
    ``output[n][g*M/G + m][e][f] += input[n][g*C/G + c][...] * weights[g*M/G + m][c][r][s]``.

    Parameters
    ----------
    layer : ConvLayer
        The shape; dimensions are the lower-case letters n m c e f r s (and g when grouped).
    order : str, optional
        Loop order, outermost first: a permutation of ``"nmcefrs"`` (``"ngmcefrs"``
        when grouped), which is also the default.
    """
    L = layer
    grouped = L.groups > 1
    dims = {"n": L.N, **({"g": L.groups} if grouped else {}), "m": L.group_filters, "c": L.group_channels,
            "e": L.E, "f": L.F, "r": L.R, "s": L.S}
    order = "".join(dims) if order is None else order
    if sorted(order) != sorted(dims):
        raise ValueError(f"order {order!r} is not a permutation of {''.join(dims)!r}")
    group = (("g", L.group_filters),) if grouped else ()
    channel = _ix(*((("g", L.group_channels),) if grouped else ()), ("c", 1))
    filt = _ix(*group, ("m", 1))
    x = TensorRef("input", L.input_shape, (_ix(("n", 1)), channel,
                                           _ix(("e", L.stride), ("r", 1), offset=-L.pad),
                                           _ix(("f", L.stride), ("s", 1), offset=-L.pad)))
    w = TensorRef("weights", L.weight_shape, (filt, _ix(("c", 1)), _ix(("r", 1)), _ix(("s", 1))))
    out = TensorRef("output", L.output_shape, (_ix(("n", 1)), filt, _ix(("e", 1)), _ix(("f", 1))))
    return _nest(dims, order, out, (x, w), "mul")


def matmul_nest(M: int, N: int, K: int, order: str = "ijk") -> LoopNest:
    """``C[i][j] += A[i][k] * B[k][j]`` with ``i < M, j < N, k < K``."""
    for name, v in (("M", M), ("N", N), ("K", K)):
        check_int(name, v, 1)
    a = TensorRef("A", (M, K), (_ix(("i", 1)), _ix(("k", 1))))
    b = TensorRef("B", (K, N), (_ix(("k", 1)), _ix(("j", 1))))
    c = TensorRef("C", (M, N), (_ix(("i", 1)), _ix(("j", 1))))
    return _nest({"i": M, "j": N, "k": K}, order, c, (a, b), "mul")


def broadcast_nest(N: int, M: int) -> LoopNest:
    """``for j < N: for i < M: B[j][i] += A[i]``."""
    check_int("N", N, 1)
    check_int("M", M, 1)
    a = TensorRef("A", (M,), (_ix(("i", 1)),))
    b = TensorRef("B", (N, M), (_ix(("j", 1)), _ix(("i", 1))))
    return _nest({"j": N, "i": M}, "ji", b, (a,), "add")


def outer_sum_nest(N: int, M: int) -> LoopNest:
    """``for j < N: for i < M: B[j][i] += A[i] + C[j]``."""
    check_int("N", N, 1)
    check_int("M", M, 1)
    a = TensorRef("A", (M,), (_ix(("i", 1)),))
    c = TensorRef("C", (N,), (_ix(("j", 1)),))
    b = TensorRef("B", (N, M), (_ix(("j", 1)), _ix(("i", 1))))
    return _nest({"j": N, "i": M}, "ji", b, (a, c), "add")


# -- running and tracing -----------------------------------------------------------------


def execute(nest: LoopNest, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Run ``nest`` on integer operand arrays; returns the output (int64, zero-initialised).

    Every executed iteration adds its term exactly once (``np.add.at``), so
    the result equals the untransformed nest's whenever a transformation
    kept the set of iterations -- which is what interchange and tiling must do.
    """
    for t in nest.operands:
        a = arrays.get(t.name)
        if a is None:
            raise ValueError(f"missing operand {t.name!r}; need {', '.join(t.name for t in nest.operands)}")
        if tuple(a.shape) != t.shape:
            raise ValueError(f"operand {t.name!r} has shape {tuple(a.shape)}, the nest needs {t.shape}")
    dims = nest.dim_values(nest.loop_values())
    terms = []
    for t in nest.operands:
        addr, inside = addresses(t, dims)
        terms.append(np.where(inside, np.asarray(arrays[t.name], np.int64).reshape(-1)[addr], 0))
    value = np.prod(terms, axis=0) if nest.combine == "mul" else np.sum(terms, axis=0)
    out_addr, inside = addresses(nest.output, dims)
    if not inside.all():
        raise ValueError(f"output index {nest.output} leaves its shape {nest.output.shape}")
    out = np.zeros(nest.output.size, np.int64)
    np.add.at(out, out_addr, value)
    return out.reshape(nest.output.shape)


def tensor_trace(nest: LoopNest, name: str) -> np.ndarray:
    """Addresses of tensor ``name`` in program order (one per iteration; padded reads left out)."""
    t = nest.tensor(name)
    addr, inside = addresses(t, nest.dim_values(nest.loop_values()))
    return addr[inside]


def trace(nest: LoopNest) -> np.ndarray:
    """The whole address trace: per iteration the operands in order, then the output.

    Tensors get disjoint address ranges (each starts where the previous one
    ends); padded reads are left out.
    """
    dims = nest.dim_values(nest.loop_values())
    cols, masks, base = [], [], 0
    for t in nest.tensors:
        addr, inside = addresses(t, dims)
        cols.append(addr + base)
        masks.append(np.broadcast_to(inside, addr.shape))
        base += t.size
    stacked = np.stack(cols, axis=1)
    return stacked[np.stack(masks, axis=1)]


@dataclass(frozen=True)
class Hoisting:
    """Loads of one tensor before and after hoisting loop-invariant loads into a register."""

    tensor: str
    loads: int
    hoisted_loads: int
    hoisted_out_of: tuple[str, ...]

    @property
    def saved(self) -> int:
        """Loads removed by the hoisting."""
        return self.loads - self.hoisted_loads


def hoist(nest: LoopNest) -> dict[str, Hoisting]:
    """Loop-invariant code motion of each tensor's load (the output's read-modify-write too).

    A tensor's access does not change inside the innermost loops that leave
    its index unchanged (other dimensions, or bound 1); it is loaded into a
    register before them and (for the output) stored after them. Loads are
    counted on the executed iterations, padded reads excluded.

    Returns
    -------
    dict
        Tensor name -> :class:`Hoisting`.
    """
    values = nest.loop_values()
    dims = nest.dim_values(values)
    out = {}
    for t in nest.tensors:
        _, inside = addresses(t, dims)
        inside = np.broadcast_to(inside, (len(values),))
        k = max((i for i, lp in enumerate(nest.loops) if lp.dim in t.dims and lp.bound > 1), default=-1)
        new = np.ones(len(values), bool)
        if k >= 0 and len(values):
            new[1:] = (np.diff(values[:, : k + 1], axis=0) != 0).any(axis=1)
        elif len(values):
            new[1:] = False
        out[t.name] = Hoisting(t.name, int(inside.sum()), int((new & inside).sum()),
                               tuple(lp.name for lp in nest.loops[k + 1:]))
    return out
