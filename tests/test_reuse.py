"""Reuse distances: hand-checked cases, the loop-nest examples of the issue, fast == naive, hit rates."""

import numpy as np
import pytest

from model.loopnest import broadcast_nest, tensor_trace
from model.reuse import (
    benchmark, encode_trace, hit_rate, hit_rate_curve, histogram, reuse_distances, reuse_distances_naive,
)

INF = np.inf


def test_known_short_sequence():
    #            a    b    c    a  b  b  d    a
    trace = [10, 20, 30, 10, 20, 20, 40, 10]
    assert reuse_distances(trace).tolist() == [INF, INF, INF, 2, 2, 0, INF, 2]
    assert reuse_distances([]).size == 0
    assert reuse_distances([7]).tolist() == [INF]
    assert reuse_distances([5, 5, 5]).tolist() == [INF, 0, 0]


def test_broadcast_nest_reuse_before_and_after_interchange_and_tiling():
    N, M, Ti = 5, 12, 4
    nest = broadcast_nest(N, M)  # for j < N: for i < M: B[j][i] += A[i]
    d = reuse_distances(tensor_trace(nest, "A"))
    assert np.all(d[:M] == INF) and np.all(d[M:] == M - 1)
    d = reuse_distances(tensor_trace(nest.interchange("ij"), "A"))
    assert np.all(d[np.isfinite(d)] == 0) and np.isfinite(d).sum() == M * (N - 1)
    tiled = nest.tile("i", Ti).interchange(["i_o", "j", "i_i"])
    d = reuse_distances(tensor_trace(tiled, "A"))
    assert d[np.isfinite(d)].max() == Ti - 1


def test_tiling_with_remainder_bounds_reuse_by_the_tile():
    nest = broadcast_nest(3, 10).tile("i", 4).interchange(["i_o", "j", "i_i"])  # tiles of 4, 4, 2
    d = reuse_distances(tensor_trace(nest, "A"))
    assert d[np.isfinite(d)].max() == 3


@pytest.mark.parametrize("seed", range(6))
def test_fast_equals_naive_on_random_traces(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n = int(rng.integers(0, 400))
        trace = rng.integers(0, int(rng.integers(1, 60)), n) * int(rng.choice([1, -3, 100_003]))
        assert np.array_equal(reuse_distances(trace), reuse_distances_naive(trace))


def test_fast_equals_naive_on_a_longer_trace():
    trace = np.random.default_rng(9).integers(0, 300, 3000)
    assert np.array_equal(reuse_distances(trace), reuse_distances_naive(trace))


def test_hit_rates_for_every_capacity_at_once():
    d = reuse_distances([1, 2, 3, 1, 2, 2, 4, 1])  # distances inf inf inf 2 2 0 inf 2
    assert hit_rate(d, 0) == 0.0
    assert hit_rate(d, 1) == 1 / 8
    assert hit_rate(d, 3) == 4 / 8
    curve = hit_rate_curve(d)
    assert curve.tolist() == [hit_rate(d, k) for k in range(len(curve))]
    assert len(curve) == 5  # up to the number of distinct addresses
    trace = np.random.default_rng(3).integers(0, 50, 2000)
    d = reuse_distances(trace)
    curve = hit_rate_curve(d, 80)
    assert all(curve[k] == hit_rate(d, k) for k in range(81))
    assert np.all(np.diff(curve) >= 0)


def test_lru_hit_rate_matches_a_simulated_lru_buffer():
    trace = np.random.default_rng(4).integers(0, 30, 1500)
    d = reuse_distances(trace)
    for capacity in (1, 4, 10, 25):
        lru, hits = [], 0
        for a in trace.tolist():
            if a in lru:
                hits += 1
                lru.remove(a)
            elif len(lru) == capacity:
                lru.pop(0)
            lru.append(a)
        assert hit_rate(d, capacity) == hits / len(trace)


def test_histogram_power_of_two_bins():
    edges, counts, cold = histogram([0, 1, 2, 3, 4, 7, 8, INF, 100])
    assert edges.tolist() == [0, 1, 2, 4, 8, 16, 32, 64]
    assert counts.tolist() == [1, 1, 2, 2, 1, 0, 0, 1]
    assert cold == 1
    edges, counts, _ = histogram([0, 1, 100], nbins=3)  # larger distances go to the last bin
    assert counts.tolist() == [1, 1, 1]


def test_benchmark_reports_throughput():
    result = benchmark(n=20_000, naive_n=500)
    assert min(result["accesses_per_s"], result["cpu_accesses_per_s"], result["naive_accesses_per_s"]) > 0


def test_textbook_example_typed_as_letters():
    # a b c a a c b, worked by hand: the second a saw {b, c} since the first (2); the third a
    # follows the second (0); c saw {a} since position 2 (1); b saw {c, a} since position 1 (2).
    expected = [INF, INF, INF, 2, 0, 1, 2]
    for trace in ("abcaacb", list("abcaacb"), np.array(list("abcaacb")), tuple("abcaacb")):
        assert reuse_distances(trace).tolist() == expected
        assert reuse_distances_naive(trace).tolist() == expected
    d = reuse_distances("abcaacb")
    # LRU by hand: 2 entries hit the accesses at distance 0 and 1 (2 of 7); 3 entries all four reuses.
    assert [hit_rate(d, k) for k in (0, 1, 2, 3)] == [0.0, 1 / 7, 2 / 7, 4 / 7]
    assert hit_rate_curve(d).tolist() == [0.0, 1 / 7, 2 / 7, 4 / 7]
    edges, counts, cold = histogram(d)
    assert (edges.tolist(), counts.tolist(), cold) == ([0, 1, 2], [1, 1, 2], 3)


def test_tuples_and_mixed_addresses():
    # (tensor, index) pairs: A[0] B[0] A[1] A[0] B[0]; A[0] saw {B[0], A[1]}, B[0] saw {A[1], A[0]}
    trace = [("A", 0), ("B", 0), ("A", 1), ("A", 0), ("B", 0)]
    assert reuse_distances(trace).tolist() == [INF, INF, INF, 2, 2]
    # a letter, an integer and a tuple are three addresses; ("a", 1) is not "a" and not 1
    assert reuse_distances(["a", 1, ("a", 1), "a", 1, 1]).tolist() == [INF, INF, INF, 2, 2, 0]
    # integers too wide for 64 bits are numbered like any other address
    assert reuse_distances([2**70, 5, 2**70, -2**70]).tolist() == [INF, INF, 1, INF]


def test_encoding_is_first_touch_order_and_integers_pass_through():
    assert encode_trace(list("cabcb")).tolist() == [0, 1, 2, 0, 2]
    assert encode_trace([("x", 1), ("y", 2), ("x", 1)]).tolist() == [0, 1, 0]
    ints = np.array([7, -3, 7], np.int16)
    assert encode_trace(ints) is ints  # the fast path takes an integer array as it is
    assert encode_trace([7, -3, 7]).tolist() == [7, -3, 7]


@pytest.mark.parametrize("seed", range(4))
def test_symbolic_traces_equal_the_naive_reference_and_their_integer_twins(seed):
    rng = np.random.default_rng(seed)
    n_addr = int(rng.integers(1, 40))
    names = [f"t{k % 3}[{k}]" if k % 2 else ("W", k) for k in rng.permutation(n_addr).tolist()]
    ints = rng.integers(0, n_addr, int(rng.integers(0, 500)))
    symbolic = [names[i] for i in ints.tolist()]
    d = reuse_distances(symbolic)
    assert np.array_equal(d, reuse_distances_naive(symbolic))  # the naive one keys on the names themselves
    assert np.array_equal(d, reuse_distances_naive(ints))  # renaming addresses changes no distance


def test_distances_accept_any_sequence():
    assert hit_rate((INF, 0, 1), 1) == 1 / 3
    assert hit_rate_curve([INF, 0, 1]).tolist() == [0.0, 1 / 3]
    assert histogram(iter([INF, 0, 3]))[1].tolist() == [1, 0, 1]


def test_errors():
    with pytest.raises(TypeError, match=r"1-D sequence of hashable addresses .*shape \(2, 2\)"):
        reuse_distances(np.zeros((2, 2), int))
    with pytest.raises(TypeError, match=r"trace\[0\] is the floating-point number 0.5"):
        reuse_distances([0.5, 1.5])
    with pytest.raises(TypeError, match=r"trace\[1\] is the floating-point number nan"):
        reuse_distances_naive(["a", float("nan")])
    with pytest.raises(TypeError, match=r"trace\[1\] = \[1, 2\] is not hashable"):
        reuse_distances(["a", [1, 2]])
    with pytest.raises(TypeError, match="hashable addresses .*, not 5"):
        reuse_distances(5)
    with pytest.raises(ValueError, match="capacity must be in >= 0, not -1"):
        hit_rate([INF], -1)
    with pytest.raises(TypeError, match=r"call reuse_distances\(trace\) first"):
        hit_rate(list("abca"), 2)
    with pytest.raises(ValueError, match=r"not 1.5 \(distances\[1\]\)"):
        hit_rate_curve([0, 1.5])
    with pytest.raises(ValueError, match=r"not -1.0 \(distances\[0\]\)"):
        histogram([-1])
