"""``qconv faults``: inject single faults into the generated Verilog; each must be caught (see :mod:`sim.faults`)."""

from __future__ import annotations

from pathlib import Path

from sim.fanout import add_fanout_args, fanout_from_args
from sim.fault_catalogue import FAULTS
from sim.faults import FAULTS_ROOT, format_summary, run_faults
from sim.simulators import SIMULATORS


def register(subparsers) -> None:
    """Add the ``faults`` sub-command."""
    p = subparsers.add_parser("faults", help="fault injection: every injected fault must be caught by the co-simulation")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=[f.name for f in FAULTS], help="run only these faults")
    add_fanout_args(p)
    p.add_argument("--sim", default="verilator", choices=SIMULATORS, help="HDL simulator (default: %(default)s)")
    p.add_argument("--out", type=Path, default=FAULTS_ROOT, help="mutant builds and summary.json go here")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the faults, print the table; exit status 1 if a fault survived or a baseline failed."""
    faults = tuple(f for f in FAULTS if not args.only or f.name in args.only)
    summary = run_faults(faults, fanout_from_args(args), args.sim, args.out)
    print(format_summary(summary))
    print(f"summary written to {args.out / 'summary.json'}")
    return 0 if summary["caught"] == summary["faults"] and summary["baseline_pass"] else 1
