"""Exact reuse (LRU stack) distances in O(N log N), histograms and LRU hit rates for every capacity.

The reuse distance of an access is the number of *distinct* addresses touched
since the previous access to the same address (``inf`` for a first touch).
A fully associative LRU buffer of capacity ``K`` hits exactly the accesses
whose distance is below ``K``, so one pass gives the hit rate of every
capacity at once.

Addresses. A trace is any 1-D sequence of hashable addresses: integers (the
fast path: an integer array is used as it is), letters typed from a textbook
(``"abcab"`` or ``list("abcab")``), tuples such as ``(tensor, index)``, or a
mix. Anything that is not an integer array is first numbered in order of
first touch (:func:`encode_trace`); distances do not depend on the names.
Addresses are compared as dictionary keys are (so ``1`` and ``True`` are one
address). Floating-point addresses are refused: they compare unreliably
(``0.1 + 0.2 != 0.3``, and a NaN is not even equal to itself).

Algorithm. For an access at time ``t`` whose previous access is at ``p``,
the addresses touched in ``(p, t)`` are ``t - p - 1`` accesses minus the
re-accesses nested inside the interval, i.e. minus the number of earlier
re-uses ``(p', t')`` with ``p < p'`` and ``t' < t``. Listing the re-uses in
time order, that is ``j - #{i < j : p_i < p_j}`` for the ``j``-th one: a
count of earlier smaller elements. It is computed for all elements at once
with a wavelet tree over the bits of ``p`` -- ``log2 N`` levels, each a few
vectorised O(N) numpy passes (a stable partition by one bit) -- so the whole
computation is O(N log N) with no Python loop over accesses.
"""

from __future__ import annotations

import time

import numpy as np

from model.validate import check_int

__all__ = [
    "encode_trace", "reuse_distances", "reuse_distances_naive", "hit_rate", "hit_rate_curve", "histogram",
    "benchmark",
]

_TRACE = "trace must be a 1-D sequence of hashable addresses (integers, strings, tuples, ...)"


def _address_list(trace) -> list:
    """The addresses of ``trace`` as a Python list, each checked to be a usable address."""
    if isinstance(trace, np.ndarray):
        if trace.ndim != 1:
            raise TypeError(f"{_TRACE}, not an array of shape {trace.shape}")
        items = trace.tolist()
    else:
        try:
            items = list(trace)
        except TypeError:
            raise TypeError(f"{_TRACE}, not {trace!r}") from None
    for i, x in enumerate(items):
        if isinstance(x, (float, complex, np.floating, np.complexfloating)):
            raise TypeError(f"{_TRACE}; trace[{i}] is the floating-point number {x!r} "
                            "(floats compare unreliably: give integers or names)")
        try:
            hash(x)
        except TypeError:
            raise TypeError(f"{_TRACE}; trace[{i}] = {x!r} is not hashable") from None
    return items


def encode_trace(trace) -> np.ndarray:
    """Integer addresses of ``trace``: an integer array as it is, anything else numbered by first touch.

    Parameters
    ----------
    trace : sequence of hashable
        Addresses in access order (see the module notes).

    Returns
    -------
    ndarray
        1-D integer array, the same length: ``trace`` itself when it is a 1-D
        integer array (or a list of integers), else int64 codes ``0, 1, 2, ...``
        given to the distinct addresses in the order they are first touched.

    Raises
    ------
    TypeError
        If ``trace`` is not one-dimensional, or holds a float or an unhashable value.
    """
    if isinstance(trace, np.ndarray) and trace.ndim == 1 and np.issubdtype(trace.dtype, np.integer):
        return trace
    items = _address_list(trace)
    if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
        a = np.asarray(items, dtype=np.int64 if not items else None)
        if np.issubdtype(a.dtype, np.integer):  # not when an integer does not fit in 64 bits (dtype object)
            return a
    codes: dict = {}
    return np.fromiter((codes.setdefault(x, len(codes)) for x in items), np.int64, len(items))


def _distances(distances) -> np.ndarray:
    """``distances`` as a 1-D float64 array, checked to be reuse distances."""
    d = np.asarray(distances if isinstance(distances, np.ndarray) else list(distances))
    allowed = "reuse distances (whole numbers >= 0, inf for a first touch) such as reuse_distances returns"
    if d.ndim != 1 or not (d.dtype.kind in "iuf" or d.size == 0):
        raise TypeError(f"distances must be a 1-D sequence of {allowed}, not {d.dtype} of shape {d.shape} "
                        "(for a trace of addresses, call reuse_distances(trace) first)")
    d = d.astype(np.float64)
    bad = np.flatnonzero(~((d >= 0) & ((d == np.floor(d)) | (d == np.inf))))
    if bad.size:
        raise ValueError(f"distances must be {allowed}, not {float(d[bad[0]])!r} (distances[{bad[0]}])")
    return d


def _previous_access(a: np.ndarray) -> np.ndarray:
    """Index of the previous access to the same address, -1 for a first touch."""
    lo = int(a.min())
    span = int(a.max()) - lo
    # a stable sort of 16-bit keys is a radix sort: much faster than a comparison sort
    keys = (a - lo).astype(np.uint16) if span < 2**16 else a
    order = np.argsort(keys, kind="stable")
    same = a[order[1:]] == a[order[:-1]]
    prev = np.full(len(a), -1, np.int64)
    prev[order[1:][same]] = order[:-1][same]
    return prev


def _earlier_smaller(v: np.ndarray) -> np.ndarray:
    """For distinct non-negative ``v``: ``out[j] = #{i < j : v[i] < v[j]}``.

    A wavelet matrix over the bits of ``v``, most significant first: at each
    level the elements are stably partitioned by the bit (zeros first), which
    keeps every group of equal higher bits contiguous and in original order.
    An element with a 1 counts the 0s before it in its group: they share its
    higher bits, are smaller, and come earlier.
    """
    m = len(v)
    if m < 2:
        return np.zeros(m, np.int64)
    it = np.int32 if int(v.max()) < 2**31 - 1 and m < 2**31 - 1 else np.int64
    state = np.zeros((3, m), it)  # value, start of its group, count so far -- in the level's order
    state[0] = v
    zeros = np.zeros(m + 1, it)
    for b in reversed(range(int(v.max()).bit_length())):
        cur, gstart, count = state
        one = ((cur >> b) & 1).astype(bool)
        zero = ~one
        np.cumsum(zero, out=zeros[1:])
        zs = zeros[gstart]  # zeros before the group: where its 0s start next level
        count += (zeros[:-1] - zs) * one
        gstart += zeros[-1] - zs  # its 1s start after all 0s, plus the 1s before the group
        np.copyto(gstart, zs, where=zero)
        state = state.take(np.argsort(one, kind="stable"), axis=1)  # zeros first: a radix sort of one bit
    where = np.empty(int(v.max()) + 1, np.int64)
    where[v] = np.arange(m)
    out = np.empty(m, np.int64)
    out[where[state[0]]] = state[2]
    return out


def reuse_distances(trace) -> np.ndarray:
    """Exact reuse distance of every access of ``trace``, in O(N log N).

    Parameters
    ----------
    trace : sequence of hashable
        Addresses in access order: any integers (used as they are), or any
        hashable values such as letters or ``(tensor, index)`` tuples
        (numbered first, :func:`encode_trace`).

    Returns
    -------
    ndarray
        float64, one per access: distinct addresses since the previous access
        to the same address, ``inf`` for a first touch.

    Raises
    ------
    TypeError
        If ``trace`` is not one-dimensional, or holds a float or an unhashable value.
    """
    a = encode_trace(trace)
    out = np.full(len(a), np.inf)
    if len(a) == 0:
        return out
    prev = _previous_access(a)
    t = np.flatnonzero(prev >= 0)
    p = prev[t]
    nested = np.arange(len(t)) - _earlier_smaller(p)
    out[t] = t - p - 1 - nested
    return out


def reuse_distances_naive(trace) -> np.ndarray:
    """Reference O(N^2) reuse distances: a set of the addresses since the previous access.

    It takes the addresses themselves (no numbering), so it also checks :func:`encode_trace`.
    """
    a = _address_list(trace)
    out = np.full(len(a), np.inf)
    last: dict = {}
    for t, x in enumerate(a):
        if x in last:
            out[t] = len(set(a[last[x] + 1:t]))
        last[x] = t
    return out


def hit_rate(distances, capacity: int) -> float:
    """Hit rate of a fully associative LRU buffer of ``capacity`` entries: share of distances below it."""
    check_int("capacity", capacity, 0)
    d = _distances(distances)
    return float((d < capacity).mean()) if d.size else 0.0


def hit_rate_curve(distances, max_capacity: int | None = None) -> np.ndarray:
    """LRU hit rate for every capacity ``0..max_capacity`` at once (index = capacity).

    ``max_capacity`` defaults to the number of distinct addresses, where the
    curve reaches its ceiling (every non-first access hits).
    """
    d = _distances(distances)
    finite = d[np.isfinite(d)].astype(np.int64)
    if max_capacity is None:
        max_capacity = int(d.size - finite.size)
    check_int("max_capacity", max_capacity, 0)
    counts = np.bincount(np.minimum(finite, max_capacity), minlength=max_capacity + 1)[: max_capacity + 1]
    hits = np.concatenate([[0], np.cumsum(counts)[:-1]])  # capacity K hits distances < K
    return hits / d.size if d.size else np.zeros(max_capacity + 1)


def histogram(distances, nbins: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Reuse distances in power-of-two bins.

    Parameters
    ----------
    distances : array_like
        Reuse distances (``inf`` for first touches).
    nbins : int, optional
        Number of bins; default just enough for the largest finite distance
        (larger distances go to the last bin).

    Returns
    -------
    edges : ndarray
        Bin lower edges ``0, 1, 2, 4, 8, ...`` (bin ``i`` holds ``[edges[i], edges[i+1])``).
    counts : ndarray
        Accesses per bin.
    cold : int
        First touches (infinite distance).
    """
    d = _distances(distances)
    finite = d[np.isfinite(d)].astype(np.int64)
    if nbins is None:
        nbins = (int(finite.max()) if finite.size else 0).bit_length() + 1
    check_int("nbins", nbins, 1, 64)
    edges = np.array([0] + [1 << i for i in range(nbins - 1)], np.int64)
    which = np.zeros(finite.size, np.int64)
    nz = finite > 0
    which[nz] = np.minimum(np.floor(np.log2(finite[nz])).astype(np.int64) + 1, nbins - 1)
    return edges, np.bincount(which, minlength=nbins), int(d.size - finite.size)


def benchmark(n: int = 1_000_000, addresses: int = 65_536, naive_n: int = 4_000, seed: int = 0) -> dict:
    """Throughput of :func:`reuse_distances` against the O(N^2) reference, on random traces.

    Parameters
    ----------
    n : int
        Trace length for the fast method.
    addresses : int
        Distinct addresses the random trace draws from.
    naive_n : int
        Trace length for the naive reference (it is quadratic).
    seed : int
        Seed of the traces.

    Returns
    -------
    dict
        ``accesses_per_s`` (wall clock), ``cpu_accesses_per_s`` (per second of
        this process's CPU time: steadier on a shared machine) and
        ``naive_accesses_per_s`` (and the lengths used).
    """
    rng = np.random.default_rng(seed)
    big = rng.integers(0, addresses, n)
    small = rng.integers(0, min(addresses, naive_n), naive_n)
    t0, c0 = time.perf_counter(), time.process_time()
    reuse_distances(big)
    t1, c1 = time.perf_counter(), time.process_time()
    reuse_distances_naive(small)
    t2 = time.perf_counter()
    return {"n": n, "accesses_per_s": n / (t1 - t0), "cpu_accesses_per_s": n / max(c1 - c0, 1e-9),
            "naive_n": naive_n, "naive_accesses_per_s": naive_n / (t2 - t1)}
