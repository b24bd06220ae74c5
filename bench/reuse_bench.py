"""Reuse-distance throughput: the O(N log N) method against the O(N^2) reference.

Run ``python bench/reuse_bench.py [N]``; prints accesses per second of both
(see :func:`model.reuse.benchmark`).
"""

import sys

from model.reuse import benchmark


def main(argv: list[str]) -> int:
    """Print the throughput for a random trace of ``argv[0]`` accesses (default one million)."""
    n = int(argv[0]) if argv else 1_000_000
    r = benchmark(n)
    print(f"reuse distances: {r['accesses_per_s'] / 1e6:.2f} M accesses/s (wall), "
          f"{r['cpu_accesses_per_s'] / 1e6:.2f} M per CPU second, on {r['n']} accesses; "
          f"naive O(N^2) reference: {r['naive_accesses_per_s'] / 1e3:.1f} k accesses/s on {r['naive_n']} "
          f"({r['accesses_per_s'] / r['naive_accesses_per_s']:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
