"""The tiling planner's two objectives on every convolution layer of a network, both dataflows.

Run ``python bench/planner_bench.py [NET] [--json PATH]`` (default ``resnet18``). For each layer, dataflow
(WS, OS) and objective (:class:`model.tiling.Objective`) it prints the passes, the compute cycles (the
sum of :func:`model.tiling.pass_cycles`, what ``qconv predict`` and the host-port RTL run count), the
utilisation, the DRAM bytes the plan moves, the roofline (:func:`model.roofline.roofline` at the default
:class:`model.dram.DramConfig`) and the fraction of it achieved at compute (``roofline / compute cycles``)
and with DRAM time added (``roofline / (compute + bytes / bandwidth)``, the serial estimate the time objective
minimises); then the better dataflow per layer under the time objective, and the wall time of planning.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from model.config import AcceleratorConfig, Dataflow
from model.dram import DramConfig
from model.layer import network_layers
from model.roofline import roofline
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
    args = parser.parse_args(argv)
    dram = DramConfig()
    rows, seconds = measure(args.net, dram)
    print(format_markdown(rows) if args.markdown else format_table(rows))
    times = ", ".join(f"{obj} {s:.2f} s" for obj, s in seconds.items())
    print(f"planning all {len(rows) // 4} layers of {args.net} (WS and OS; lru cache cleared): {times}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"net": args.net, "dram": dram.to_dict(), "rows": rows,
                                         "planning_s": seconds}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
