"""``qconv regress``: random configurations and layers co-simulated against the model (see :mod:`sim.regress`)."""

from __future__ import annotations

from pathlib import Path

from sim.fanout import add_fanout_args, fanout_from_args
from sim.regress import REGRESS_ROOT, format_summary, regress


def register(subparsers) -> None:
    """Add the ``regress`` sub-command."""
    p = subparsers.add_parser("regress", help="random co-simulation regression against the model")
    p.add_argument("--n", type=int, default=200, help="cases to draw (each on Verilator; a sample also on Icarus)")
    p.add_argument("--seed", type=int, default=1, help="master seed: the same seed draws the same cases")
    p.add_argument("--configs", type=int, default=None,
                   help="configurations to draw (default: one per ten cases); each is one build")
    p.add_argument("--max-side", type=int, default=16, help="largest array side drawn, 1..16 (default 16)")
    add_fanout_args(p)
    p.add_argument("--out", type=Path, default=REGRESS_ROOT, help="builds and summary.json go here")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the regression, print its summary; exit status 1 on any mismatch."""
    summary = regress(args.n, args.seed, fanout_from_args(args), args.out, args.max_side, args.configs)
    print(format_summary(summary))
    print(f"summary written to {args.out / 'summary.json'}")
    return 1 if summary["mismatches"] else 0
