"""The tiling planner's two objectives on every convolution layer of a network, both dataflows.

Run ``python bench/planner_bench.py [NET] [--json PATH]`` (default ``resnet18``). For each layer, dataflow
(WS, OS) and objective (:class:`model.tiling.Objective`) it prints the passes, the compute cycles (the
sum of :func:`model.tiling.pass_cycles`, what ``qconv predict`` and the host-port RTL run count), the
utilisation, the DRAM bytes the plan moves, the roofline (:func:`model.roofline.roofline` at the default
:class:`model.dram.DramConfig`) and the fraction of it achieved at compute (``roofline / compute cycles``)
and with DRAM time added (``roofline / (compute + bytes / bandwidth)``, the serial estimate the time objective
minimises); then the better dataflow per layer under the time objective, and the wall time of planning.

``--system`` adds what decides the System's objective: every layer's exact System cycles
(:func:`model.system_perf.predict_system` of its command list at the default DRAM) with the tiles chosen
by ``TIME`` and by ``OVERLAP`` (both on half of every buffer, :func:`model.commands.system_plan`), and
the roofline fraction of each, side by side, both dataflows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from model.commands import build_image
from model.config import AcceleratorConfig, Dataflow
from model.dram import DramConfig
from model.layer import network_layers
from model.roofline import roofline
from model.system_perf import predict_system
from model.tiling import Objective, plan


def measure(net: str, dram: DramConfig) -> tuple[list[dict], dict[str, float]]:
    """One row per (layer, dataflow, objective), and the seconds planning took per objective."""
    rows, seconds = [], dict.fromkeys(Objective, 0.0)
    plan.cache_clear()
    for dataflow in Dataflow:
        config = AcceleratorConfig(dataflow=dataflow)
        lanes = config.pes * config.channels_per_word
        for name, layer in network_layers(net).items():
            roof = roofline(config, layer, dram)
            for objective in Objective:
                start = time.perf_counter()
                p = plan(config, layer, objective, dram)
                seconds[objective] += time.perf_counter() - start
                rows.append({"layer": name, "dataflow": dataflow.value, "objective": objective.value,
                             "passes": len(p.passes), "cycles": p.cycles, "utilization": layer.macs / (p.cycles * lanes),
                             "dram_bytes": p.dram_bytes, "memory_cycles": p.memory_cycles,
                             "roofline_cycles": roof.cycles, "bound": roof.bound.value,
                             "fraction_compute": roof.cycles / p.cycles,
                             "fraction_serial": roof.cycles / p.estimated_cycles, "sizes": vars(p.sizes),
                             "order": p.order.value})
    return rows, {o.value: s for o, s in seconds.items()}


def system_rows(net: str, dram: DramConfig) -> list[dict]:
    """Per (layer, dataflow): the System's exact cycles with the tiles of TIME and of OVERLAP."""
    rows = []
    for dataflow in Dataflow:
        config = AcceleratorConfig(dataflow=dataflow)
        for name, layer in network_layers(net).items():
            x = np.zeros((layer.N, layer.C, layer.H, layer.W), np.int64)   # timing never depends on values
            w = np.zeros((layer.M, layer.C, layer.R, layer.S), np.int64)
            roof = roofline(config, layer, dram).cycles
            row = {"layer": name, "dataflow": dataflow.value, "roofline_cycles": roof}
            for objective in (Objective.TIME, Objective.OVERLAP):
                cycles = predict_system(config, build_image(config, layer, x, w, objective=objective), dram).counters[
                    "sys_cycles"]
                row[objective.value] = {"sys_cycles": cycles, "fraction": roof / cycles}
            rows.append(row)
    return rows


def format_system(rows: list[dict]) -> str:
    """The ``--system`` table, and the cycle-weighted fraction per dataflow and objective."""
    lines = [f"{'layer':<30}{'df':>4}{'roofline':>10}{'TIME cycles':>13}{'roof%':>7}{'OVERLAP cycles':>16}{'roof%':>7}"]
    for r in rows:
        t, o = r["time"], r["overlap"]
        lines.append(f"{r['layer']:<30}{r['dataflow']:>4}{r['roofline_cycles']:>10}{t['sys_cycles']:>13}"
                     f"{t['fraction']:>7.1%}{o['sys_cycles']:>16}{o['fraction']:>7.1%}")
    for df in Dataflow:
        mine = [r for r in rows if r["dataflow"] == df.value]
        roof = sum(r["roofline_cycles"] for r in mine)
        lines.append(f"{df.value}: cycle-weighted " + ", ".join(
            f"{obj} {roof / sum(r[obj]['sys_cycles'] for r in mine):.1%}" for obj in ("time", "overlap")))
    return "\n".join(lines)


def format_table(rows: list[dict]) -> str:
    """The per-layer table: WS and OS under both objectives, then the better dataflow under TIME."""
    by = {(r["layer"], r["dataflow"], r["objective"]): r for r in rows}
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    head = f"{'layer':<30}{'roofline':>9}"
    for df in Dataflow:
        for obj in Objective:
            head += f" | {df.value} {obj.value:<5}{'passes':>7}{'cycles':>9}{'util':>7}{'bytes':>9}{'roof%':>7}"
    head += " | best(time) roof%"
    lines = [head]
    for name in layers:
        line = f"{name:<30}{by[name, 'ws', 'time']['roofline_cycles']:>9}"
        for df in Dataflow:
            for obj in Objective:
                r = by[name, df.value, obj.value]
                line += (f" | {'':<8}{r['passes']:>7}{r['cycles']:>9}{r['utilization']:>7.1%}{r['dram_bytes']:>9}"
                         f"{r['fraction_compute']:>7.1%}")
        best = max(Dataflow, key=lambda df: by[name, df.value, "time"]["fraction_compute"])
        line += f" | {best.value} {by[name, best.value, 'time']['fraction_compute']:.1%}"
        lines.append(line)
    return "\n".join(lines)


def format_markdown(rows: list[dict]) -> str:
    """The table as Markdown: per dataflow and objective passes, utilisation (= roofline fraction at compute
    on these compute-bound layers) and DRAM kB."""
    by = {(r["layer"], r["dataflow"], r["objective"]): r for r in rows}
    cols = [(df, obj) for df in Dataflow for obj in Objective]
    lines = ["| layer | roofline | " + " | ".join(f"{df.value.upper()} {obj.value}: passes, roof., kB" for df, obj in cols)
             + " | better (time) |", "|---|---:|" + "---:|" * len(cols) + "---|"]
    for name in dict.fromkeys(r["layer"] for r in rows):
        cells = []
        for df, obj in cols:
            r = by[name, df.value, obj.value]
            cells.append(f"{r['passes']}, {r['fraction_compute']:.1%}, {r['dram_bytes'] / 1000:.0f}")
        best = max(Dataflow, key=lambda df: by[name, df.value, "time"]["fraction_compute"])
        lines.append(f"| {name} | {by[name, 'ws', 'time']['roofline_cycles']:,} | " + " | ".join(cells)
                     + f" | {best.value.upper()} {by[name, best.value, 'time']['fraction_compute']:.1%} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the table and the planning times; write JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("net", nargs="?", default="resnet18")
    parser.add_argument("--json", type=Path, help="write every row to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--system", action="store_true",
                        help="also the System's exact cycles with the tiles of TIME and of OVERLAP")
    args = parser.parse_args(argv)
    dram = DramConfig()
    rows, seconds = measure(args.net, dram)
    print(format_markdown(rows) if args.markdown else format_table(rows))
    times = ", ".join(f"{obj} {s:.2f} s" for obj, s in seconds.items())
    print(f"planning all {len(rows) // (2 * len(Objective))} layers of {args.net} (WS and OS; lru cache cleared): {times}")
    system = system_rows(args.net, dram) if args.system else None
    if system:
        print()
        print(format_system(system))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"net": args.net, "dram": dram.to_dict(), "rows": rows,
                                         "planning_s": seconds, "system": system}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
