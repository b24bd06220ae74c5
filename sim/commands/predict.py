"""``qconv predict``: the analytical model alone -- cycles, counters, roofline, utilisation, energy -- in milliseconds.

Takes the options of ``qconv sim`` (configuration and layer) plus the DRAM bandwidth, builds no RTL
and runs no simulator: a what-if tool. The numbers are those ``qconv sim`` checks the RTL against.
Today's runs move operands through the host port, so the cycles are the array's and the DRAM words
are what the host program moves; DRAM stalls enter once the DMA path lands (docs/memory-system.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from model.dram import DramConfig
from model.perf import predict
from model.roofline import roofline
from sim.cli import add_config_args, add_layer_arg, config_from_args, layer_from_args
from sim.report import energy_report

#: The model's counters of DRAM traffic, by tensor (words of the host program).
DRAM_WORDS = {"input": "dram_ifmap_reads", "weights": "dram_weight_reads", "output": "dram_psum_writes"}


def register(subparsers) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser("predict", help="the analytical model alone: cycles, counters, roofline, energy")
    add_config_args(p)
    add_layer_arg(p)
    p.add_argument("--dram-bw", type=int, default=DramConfig().bandwidth,
                   help="DRAM bandwidth in bytes per cycle, a power of two 1..16 (default: %(default)s)")
    p.add_argument("--json", nargs="?", const="-", type=str, metavar="PATH",
                   help="write the JSON report to PATH (or standard output when PATH is left out)")
    p.set_defaults(func=run_command)


def prediction_report(config, layer, dram: DramConfig) -> dict:
    """The JSON-ready prediction of ``layer`` on ``config`` with ``dram``."""
    pred = predict(config, layer)
    roof = roofline(config, layer, dram)
    return {
        "config": config.to_dict(), "layer": layer.to_dict(), "dram": dram.to_dict(),
        "macs": pred.macs, "cycles": pred.cycles, "ideal_cycles": pred.ideal_cycles,
        "naive_cycles": pred.naive_cycles, "passes": pred.passes, "utilization": pred.utilization,
        "dram_words": {tensor: pred.counters[name] for tensor, name in DRAM_WORDS.items()},
        "roofline_cycles": roof.cycles, "roofline_fraction": roof.fraction(pred.cycles),
        "roofline": roof.to_dict(), "counters": pred.counters, "energy": energy_report(config, pred.counters),
    }


def format_prediction(report: dict) -> str:
    """A few lines of text of :func:`prediction_report`."""
    roof, words = report["roofline"], report["dram_words"]
    e = report["energy"]["horowitz"]
    return "\n".join([
        f"layer        {','.join(f'{k}={v}' for k, v in report['layer'].items())}",
        f"MACs         {report['macs']}",
        f"cycles       {report['cycles']}   (passes {report['passes']}, utilisation {report['utilization']:.1%})",
        f"roofline     {roof['cycles']} cycles, {roof['bound']}-bound (compute {roof['compute_cycles']}, memory "
        f"{roof['memory_cycles']} at {report['dram']['bandwidth']} B/cycle): {report['roofline_fraction']:.1%} achieved",
        f"DRAM words   input {words['input']}, weights {words['weights']}, output {words['output']}",
        f"energy       {e['total']:.4g} {e['unit']} (Horowitz 45 nm)",
    ])


def run_command(args) -> int:
    """Predict and print (or write JSON)."""
    report = prediction_report(config_from_args(args), layer_from_args(args), DramConfig(bandwidth=args.dram_bw))
    if args.json == "-":
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(format_prediction(report))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(report, indent=2))
            print(f"report: {args.json}")
    return 0
