"""``qconv bench``: golden model, reuse distances, simulator speed, accelerator quality and energy benchmarks."""

from __future__ import annotations

from pathlib import Path

from sim.bench import BENCH_ROOT, run_bench


def register(subparsers) -> None:
    """Add the ``bench`` sub-command."""
    p = subparsers.add_parser("bench", help="benchmarks (side-by-side ratios, medians) -> build/bench/summary.{json,md}")
    p.add_argument("--out", type=Path, default=BENCH_ROOT, help="output folder")
    p.add_argument("--quick", action="store_true", help="tiny configuration and layers, one repetition (a smoke test)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run every benchmark section and print the Markdown summary."""
    run_bench(args.out, quick=args.quick, progress=lambda line: print(line, flush=True))
    print((args.out / "summary.md").read_text())
    return 0
