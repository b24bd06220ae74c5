"""``qconv layers``: every named convolution layer of a network at its real size on the RTL, checked.

Builds the configured accelerator once, then runs each convolution layer of the
network (:func:`model.layer.network_layers`, in execution order; each in its own
simulation, so each gets its wall time) with seeded operands through the host
port, tiled by :func:`model.tiling.plan`, and checks it like ``qconv sim``:
outputs bit for bit against the golden convolution, cycles and every counter
against :func:`model.perf.predict`. Grouped (depthwise) layers, which only the
System runs (``--memory dram``, :mod:`model.depthwise`), are listed as skipped with the reason. Prints one table
and the total cycles and energy (:mod:`model.energy`, Horowitz) of the layers run, writes
``build/layers/<net>-<dataflow>.json``, exits 1 on any mismatch.

``--memory dram`` runs each layer through the System from DRAM instead (:mod:`sim.system.layer`,
as ``qconv sim --memory dram``): the table's cycles are the System's total, and it gains the stall
cycles and the DRAM bytes moved; the wall time is the simulation's from START to the end
(``build/layers/<net>-<dataflow>-dram.json``). A layer the System cannot run is skipped with the reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from model.dram import DramConfig
from model.layer import NETWORK_LAYERS, network_layers
from model.perf import predict
from model.system_perf import predict_accelerator
from model.tiling import plan
from sim.cli import add_config_args, config_from_args
from sim.figures import layer_cycles
from sim.report import dram_report, make_report
from sim.runner import build, run
from sim.simulators import SIMULATORS
from sim.system.layer import Memory, dram_config, run_layer

#: Networks whose every convolution layer is named (:data:`model.layer.NETWORK_LAYERS`).
NETS = tuple(NETWORK_LAYERS)
LAYERS_ROOT = Path("build/layers")


def register(subparsers) -> None:
    """Add the ``layers`` sub-command."""
    p = subparsers.add_parser("layers", help="every named conv layer of a network on the RTL, checked")
    add_config_args(p)
    p.add_argument("--net", required=True, choices=NETS, help="network whose named layers run")
    p.add_argument("--sim", default="verilator", choices=SIMULATORS, help="HDL simulator (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random operands")
    p.add_argument("--only", help="comma-separated layer names (default: every layer of the network)")
    p.add_argument("--memory", default=Memory.HOST.value, choices=[m.value for m in Memory],
                   help="host: operands through the host port; dram: the System runs each layer from DRAM "
                        "(default: %(default)s)")
    p.add_argument("--dram-bw", type=int, default=DramConfig().bandwidth,
                   help="--memory dram: DRAM bytes per cycle (default: %(default)s)")
    p.add_argument("--dram-latency", type=int, default=DramConfig().latency,
                   help="--memory dram: DRAM latency in cycles (default: %(default)s)")
    p.add_argument("--json", type=Path, help="report path (default: build/layers/<net>-<dataflow>[-dram].json)")
    p.set_defaults(func=run_command)


def _row(name: str, report: dict, seconds: float) -> dict:
    counters = report["counters"]
    dram = {k: counters.get(k, {}).get("rtl") for k in ("dram_ifmap_reads", "dram_weight_reads", "dram_psum_writes")}
    row = {"layer": name, "shape": ",".join(f"{k}={v}" for k, v in report["layer"].items()),
           "passes": report["passes"], "cycles_rtl": report["cycles"]["rtl"], "cycles_model": report["cycles"]["model"],
           "ideal_cycles": report["ideal_cycles"], "utilization": report["utilization"], "dram_words": dram,
           "roofline_cycles": report["roofline_cycles"],
           "counters_equal": not any(p["rtl"] != p["model"] for p in counters.values()),
           "outputs_match": report["outputs_match"], "error": report["error"], "pass": report["pass"],
           "energy_pj": report["energy"]["horowitz"]["total"] if report["energy"] else None,
           "wall_s": round(seconds, 2)}
    if report["memory"] == Memory.DRAM:
        row |= {"sys_cycles_rtl": report["sys_cycles"]["rtl"], "sys_cycles_model": report["sys_cycles"]["model"],
                "stall_cycles": report["stall_cycles"], "dram_bytes": report["dram_bytes"],
                "roofline_fraction": report["roofline_fraction"]}
    return row


def _dram_cells(r: dict) -> str:
    """The DRAM-mode columns of a row: stall cycles, DRAM bytes moved (RTL), roofline fraction."""
    moved = r["dram_bytes"]["read"]["rtl"] + r["dram_bytes"]["write"]["rtl"]
    fraction = r["roofline_fraction"]
    return f"{r['stall_cycles']['rtl']:>12}{moved:>12}{'' if fraction is None else f'{fraction:.1%}':>8}"


def format_rows(rows: list[dict], header: bool = True, memory: Memory = Memory.HOST) -> str:
    """The table ``qconv layers`` prints: one line per layer (after a header line). With
    ``memory`` DRAM the cycles are the System's total, and stall cycles and DRAM bytes are added."""
    dram = memory is Memory.DRAM
    extra = f"{'stalls':>12}{'DRAM bytes':>12}{'roof':>8}" if dram else ""
    title = (f"{'layer':<22}{'passes':>7}{'cycles RTL':>12}{'model':>12}{extra}{'util':>7}{'DRAM words':>12}"
             f"{'wall s':>8}  result")
    lines = [title] if header else []
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['layer']:<22}{'':>{58 + len(extra)}}  skipped: {r['skipped']}")
            continue
        words = sum(v or 0 for v in r["dram_words"].values())
        rtl, model = (r["sys_cycles_rtl"], r["sys_cycles_model"]) if dram else (r["cycles_rtl"], r["cycles_model"])
        lines.append(f"{r['layer']:<22}{r['passes']:>7}{rtl or 0:>12}{model:>12}{_dram_cells(r) if dram else ''}"
                     f"{r['utilization']:>7.1%}{words:>12}{r['wall_s']:>8.1f}  "
                     f"{'PASS' if r['pass'] else 'FAIL ' + (r['error'] or 'outputs or counters differ')}")
    return "\n".join(lines)


def _run_one(config, layer, name: str, args, built, dram: DramConfig | None) -> dict:
    """One layer's row: through the host port on ``built``, or through the System from ``dram``.

    Raises
    ------
    ValueError
        If the layer does not fit the build, or the System cannot run it.
    """
    if dram is None:
        prediction = predict(config, layer)  # also refuses a layer that cannot be tiled (model.tiling.plan)
        t0 = time.perf_counter()
        (result,) = run(built, [(layer, args.seed)])
        report = make_report(config, layer, args.sim, result, prediction) | {"memory": Memory.HOST.value}
        return _row(name, report, time.perf_counter() - t0)
    prediction = predict_accelerator(config, layer)   # also refuses what the System cannot run
    result = run_layer(config, layer, args.seed, args.sim, dram)
    report = make_report(config, layer, args.sim, result, prediction) | dram_report(config, layer, dram, result)
    return _row(name, report, result["wall_s"])


def _plot(rows: list[dict], path: Path, title: str) -> Path:
    """:func:`sim.figures.layer_cycles` of the layers that ran: computing = the accelerator's cycles
    (each pass but its start cycle, in DRAM mode, where the rest of the total is stalls)."""
    bars = []
    for r in rows:
        if "skipped" in r:
            continue
        stall = r["stall_cycles"]["rtl"] if "stall_cycles" in r else 0
        total = r["sys_cycles_rtl"] if "sys_cycles_rtl" in r else r["cycles_rtl"]
        bars.append({"layer": r["layer"].removeprefix("resnet18_").removeprefix("vgg16_").removeprefix("mobilenet_v1_"),
                     "compute": total - stall, "stall": stall, "roofline": r["roofline_cycles"]})
    return layer_cycles(bars, path, title)


def run_command(args) -> int:
    """Build once, run every layer of the network, report; exit status 1 on any mismatch."""
    config = config_from_args(args)
    layers = network_layers(args.net)
    names = list(layers)
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ValueError(f"--only names {unknown} are not layers of {args.net}; its layers: {names}")
        names = [n for n in names if n in wanted]
    memory = Memory(args.memory)
    dram = dram_config(config, args.dram_bw, args.dram_latency) if memory is Memory.DRAM else None
    start = time.perf_counter()
    built = build(config, args.sim) if dram is None else None  # the System is built on its first run
    build_s = time.perf_counter() - start
    rows, ok = [], True
    suffix = "-dram" if dram is not None else ""
    path = args.json or LAYERS_ROOT / f"{args.net}-{config.dataflow.value}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        layer = layers[name]
        try:
            row = _run_one(config, layer, name, args, built, dram)
        except ValueError as err:
            row = {"layer": name, "shape": str(layer), "skipped": str(err)}
        rows.append(row)
        ok &= row.get("pass", True)
        print(format_rows(rows[-1:], header=False, memory=memory), flush=True)  # progress, one line per layer
        path.write_text(json.dumps({"net": args.net, "config": config.to_dict(), "simulator": args.sim,
                                    "build_s": round(build_s, 2), "layers": rows}, indent=2))
    run_s = sum(r.get("wall_s", 0.0) for r in rows)
    ran = [r for r in rows if "skipped" not in r]
    cycles = sum(r["sys_cycles_model" if dram else "cycles_model"] for r in ran)
    energy = sum(r["energy_pj"] or 0.0 for r in ran)
    figure = _plot(rows, path.with_suffix(".png"), f"{args.net} {config.dataflow.value}"
                   + (f", from DRAM (latency {dram.latency}, {dram.bandwidth} B/cycle)" if dram else ", host port"))
    print()
    print(format_rows(rows, memory=memory))
    print(f"{args.net} {config.dataflow.value} on {args.sim}: {sum('pass' in r for r in rows)} layers run in "
          f"{run_s:.1f} s of simulation wall time (build {build_s:.1f} s); {cycles} cycles and "
          f"{energy / 1e6:.4g} uJ (Horowitz 45 nm, model) for the {len(ran)} layers run; report: {path}, plot: {figure}")
    return 0 if ok else 1
