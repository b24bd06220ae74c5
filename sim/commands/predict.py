"""``qconv predict``: the analytical model alone -- cycles, counters, roofline, utilisation, energy -- in milliseconds.

Takes the options of ``qconv sim`` (configuration and layer) plus the DRAM timing, builds no RTL
and runs no simulator: a what-if tool. The numbers are those ``qconv sim`` checks the RTL against:
with ``--memory host`` (the default) the array's cycles and the words the host program moves; with
``--memory dram`` the System's (:func:`model.system_perf.predict_system` of the layer's command
list, which needs no operand values): total cycles with stalls, DRAM bytes, bursts, the roofline
fraction of the total.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from model.commands import build_image, system_plan
from model.dram import DramConfig
from model.perf import predict
from model.roofline import roofline
from model.system_perf import accelerator_counters, predict_accelerator, predict_system
from sim.cli import add_config_args, add_layer_arg, config_from_args, layer_from_args
from sim.report import energy_report
from sim.system.layer import Memory, dram_config

#: The model's counters of DRAM traffic, by tensor (words of the host program).
DRAM_WORDS = {"input": "dram_ifmap_reads", "weights": "dram_weight_reads", "output": "dram_psum_writes"}


def register(subparsers) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser("predict", help="the analytical model alone: cycles, counters, roofline, energy")
    add_config_args(p)
    add_layer_arg(p)
    p.add_argument("--dram-bw", type=int, default=DramConfig().bandwidth,
                   help="DRAM bandwidth in bytes per cycle, a power of two 1..16 (default: %(default)s)")
    p.add_argument("--dram-latency", type=int, default=DramConfig().latency,
                   help="--memory dram: DRAM latency in cycles (default: %(default)s)")
    p.add_argument("--memory", default=Memory.HOST.value, choices=[m.value for m in Memory],
                   help="host: the accelerator alone; dram: the System from DRAM (default: %(default)s)")
    p.add_argument("--json", nargs="?", const="-", type=str, metavar="PATH",
                   help="write the JSON report to PATH (or standard output when PATH is left out)")
    p.set_defaults(func=run_command)


def prediction_report(config, layer, dram: DramConfig, total: int | None = None, memory: Memory = Memory.HOST) -> dict:
    """The JSON-ready prediction of ``layer`` on ``config`` with ``dram``; the roofline fraction of
    ``total`` cycles (default: the array's, which leave out DRAM time); ``memory`` DRAM: of the passes
    the System runs (:func:`model.system_perf.predict_accelerator`)."""
    pred = predict_accelerator(config, layer) if memory is Memory.DRAM else predict(config, layer)
    roof = roofline(config, layer, dram)
    return {
        "config": config.to_dict(), "layer": layer.to_dict(), "dram": dram.to_dict(),
        "macs": pred.macs, "cycles": pred.cycles, "ideal_cycles": pred.ideal_cycles,
        "naive_cycles": pred.naive_cycles, "passes": pred.passes, "utilization": pred.utilization,
        "dram_words": {tensor: pred.counters[name] for tensor, name in DRAM_WORDS.items()},
        "roofline_cycles": roof.cycles, "roofline_fraction": roof.fraction(pred.cycles if total is None else total),
        "roofline": roof.to_dict(), "counters": pred.counters, "energy": energy_report(config, pred.counters),
    }


def system_report(config, layer, dram: DramConfig) -> dict:
    """The keys ``--memory dram`` adds to :func:`prediction_report`'s (or replaces): the System's
    counters for the layer's command list, its cycles (``sys_cycles``, ``stall_cycles``), DRAM bytes,
    commands, and the accelerator's counters and energy under the System."""
    x = np.zeros(layer.input_shape, np.int64)   # timing never depends on the values
    w = np.zeros(layer.weight_shape, np.int64)
    image = build_image(config, layer, x, w)
    system = predict_system(config, image, dram).counters
    counters = accelerator_counters(config, layer, image)
    return {
        "memory": Memory.DRAM.value, "passes": len(system_plan(config, layer).passes), "commands": len(image.commands),
        "sys_cycles": system["sys_cycles"], "stall_cycles": system["stall_cycles"],
        "dram_bytes": {"read": system["dram_bytes_read"], "write": system["dram_bytes_written"]},
        "system_counters": system,
        "counters": counters, "energy": energy_report(config, counters),
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
        *([f"System       {report['sys_cycles']} cycles from DRAM (latency {report['dram']['latency']}), "
           f"{report['stall_cycles']} stalled, {report['commands']} commands; DRAM bytes read "
           f"{report['dram_bytes']['read']}, written {report['dram_bytes']['write']}; "
           f"{report['roofline_fraction']:.1%} of the roofline"] if report.get("memory") == Memory.DRAM else []),
    ])


def run_command(args) -> int:
    """Predict and print (or write JSON)."""
    config, layer = config_from_args(args), layer_from_args(args)
    if Memory(args.memory) is Memory.DRAM:
        dram = dram_config(config, args.dram_bw, args.dram_latency)   # the beat limits the bandwidth
        system = system_report(config, layer, dram)
        report = prediction_report(config, layer, dram, system["sys_cycles"], Memory.DRAM) | system
    else:
        report = prediction_report(config, layer, DramConfig(latency=args.dram_latency, bandwidth=args.dram_bw))
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
