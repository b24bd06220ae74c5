"""``qconv sim``: run a conv layer on the RTL and check it against the model.

Builds the configured accelerator for the chosen simulator (once; later runs
reuse the build), runs the layer with seeded random operands, and compares
outputs bit for bit with the golden convolution and cycles and every
hardware counter exactly with the analytical model. Prints a table, writes
a JSON report, and exits 1 on any mismatch.

``--memory dram`` runs the layer through the System instead (:mod:`sim.system.layer`): its
command list from a deterministic DRAM (``--dram-bw`` bytes per cycle, ``--dram-latency``
cycles), every System counter (total cycles, stalls, DRAM bytes, bursts) checked against
:func:`model.system_perf.predict_system` beside the accelerator's against :func:`model.perf.predict`.
"""

from __future__ import annotations

import json
from pathlib import Path

from model.dram import DramConfig
from model.perf import predict
from model.system_perf import predict_accelerator
from sim.cli import add_config_args, add_layer_arg, config_from_args, layer_from_args
from sim.report import dram_report, format_table, make_report
from sim.runner import BUILD_ROOT, build, run
from sim.simulators import SIMULATORS
from sim.system.layer import Memory, dram_config, run_layer


def register(subparsers) -> None:
    """Add the ``sim`` sub-command."""
    p = subparsers.add_parser("sim", help="run a layer on the RTL and check it against the model")
    add_config_args(p)
    add_layer_arg(p)
    p.add_argument("--sim", default=SIMULATORS[0], choices=SIMULATORS, help="HDL simulator (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random operands")
    p.add_argument("--waves", action="store_true", help="record a waveform in the run folder (host memory only)")
    p.add_argument("--memory", default=Memory.HOST.value, choices=[m.value for m in Memory],
                   help="host: operands through the host port; dram: the System runs the layer from DRAM "
                        "(default: %(default)s)")
    p.add_argument("--dram-bw", type=int, default=DramConfig().bandwidth,
                   help="--memory dram: DRAM bytes per cycle, a power of two dividing the AXI beat "
                        "(default: %(default)s)")
    p.add_argument("--dram-latency", type=int, default=DramConfig().latency,
                   help="--memory dram: DRAM latency in cycles, 2..4096 (default: %(default)s)")
    p.add_argument("--json", type=Path, help="report path (default: build/sim/report.json)")
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    """Build, run, compare, report; exit status 1 on any mismatch."""
    config = config_from_args(args)
    layer = layer_from_args(args)
    if Memory(args.memory) is Memory.DRAM:
        if args.waves:
            raise ValueError("--waves records host-memory runs only, not --memory dram")
        dram = dram_config(config, args.dram_bw, args.dram_latency)
        prediction = predict_accelerator(config, layer)   # also checks that the System runs the layer
        result = run_layer(config, layer, args.seed, args.sim, dram)
        report = make_report(config, layer, args.sim, result, prediction) | dram_report(config, layer, dram, result)
    else:
        prediction = predict(config, layer)  # also checks that the layer fits this build
        built = build(config, args.sim, waves=args.waves)
        (result,) = run(built, [(layer, args.seed)])
        report = make_report(config, layer, args.sim, result, prediction) | {"memory": str(Memory.HOST)}
    path = args.json or BUILD_ROOT / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    print(f"report: {path}")
    return 0 if report["pass"] else 1
