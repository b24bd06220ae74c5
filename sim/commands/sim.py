"""``qconv sim``: run a conv layer on the RTL and check it against the model.

Builds the configured accelerator for the chosen simulator (once; later runs
reuse the build), runs the layer with seeded random operands, and compares
outputs bit for bit with the golden convolution and cycles and every
hardware counter exactly with the analytical model. Prints a table, writes
a JSON report, and exits 1 on any mismatch.
"""

from __future__ import annotations

import json
from pathlib import Path

from model.perf import predict
from sim.cli import add_config_args, add_layer_arg, config_from_args, layer_from_args
from sim.report import format_table, make_report
from sim.runner import BUILD_ROOT, build, run
from sim.simulators import SIMULATORS


def register(subparsers) -> None:
    """Add the ``sim`` sub-command."""
    p = subparsers.add_parser("sim", help="run a layer on the RTL and check it against the model")
    add_config_args(p)
    add_layer_arg(p)
    p.add_argument("--sim", default=SIMULATORS[0], choices=SIMULATORS, help="HDL simulator (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random operands")
    p.add_argument("--waves", action="store_true", help="record a waveform in the run folder")
    p.add_argument("--json", type=Path, help="report path (default: build/sim/report.json)")
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    """Build, run, compare, report; exit status 1 on any mismatch."""
    config = config_from_args(args)
    layer = layer_from_args(args)
    prediction = predict(config, layer)  # also checks that the layer fits this build
    built = build(config, args.sim, waves=args.waves)
    (result,) = run(built, [(layer, args.seed)])
    report = make_report(config, layer, args.sim, result, prediction)
    path = args.json or BUILD_ROOT / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    print(f"report: {path}")
    return 0 if report["pass"] else 1
