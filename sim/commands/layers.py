"""``qconv layers``: every named convolution layer of a network at its real size on the RTL, checked.

Builds the configured accelerator once, then runs each convolution layer of the
network (:func:`model.layer.network_layers`, in execution order; each in its own
simulation, so each gets its wall time) with seeded operands through the host
port, tiled by :func:`model.tiling.plan`, and checks it like ``qconv sim``:
outputs bit for bit against the golden convolution, cycles and every counter
against :func:`model.perf.predict`. Grouped (depthwise) layers, which the
hardware does not run, are listed as skipped with the reason. Prints one table,
writes ``build/layers/<net>-<dataflow>.json``, exits 1 on any mismatch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from model.layer import NETWORK_LAYERS, network_layers
from model.perf import predict
from model.tiling import plan
from sim.cli import add_config_args, config_from_args
from sim.report import make_report
from sim.runner import build, run
from sim.simulators import SIMULATORS

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
    p.add_argument("--json", type=Path, help="report path (default: build/layers/<net>-<dataflow>.json)")
    p.set_defaults(func=run_command)


def _row(name: str, report: dict, seconds: float) -> dict:
    counters = report["counters"]
    dram = {k: counters.get(k, {}).get("rtl") for k in ("dram_ifmap_reads", "dram_weight_reads", "dram_psum_writes")}
    return {"layer": name, "shape": ",".join(f"{k}={v}" for k, v in report["layer"].items()),
            "passes": report["passes"], "cycles_rtl": report["cycles"]["rtl"], "cycles_model": report["cycles"]["model"],
            "ideal_cycles": report["ideal_cycles"], "utilization": report["utilization"], "dram_words": dram,
            "counters_equal": not any(p["rtl"] != p["model"] for p in counters.values()),
            "outputs_match": report["outputs_match"], "error": report["error"], "pass": report["pass"],
            "wall_s": round(seconds, 2)}


def format_rows(rows: list[dict], header: bool = True) -> str:
    """The table ``qconv layers`` prints: one line per layer (after a header line)."""
    title = f"{'layer':<22}{'passes':>7}{'cycles RTL':>12}{'model':>12}{'util':>7}{'DRAM words':>12}{'wall s':>8}  result"
    lines = [title] if header else []
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['layer']:<22}{'':>58}  skipped: {r['skipped']}")
            continue
        words = sum(v or 0 for v in r["dram_words"].values())
        lines.append(f"{r['layer']:<22}{r['passes']:>7}{r['cycles_rtl'] or 0:>12}{r['cycles_model']:>12}"
                     f"{r['utilization']:>7.1%}{words:>12}{r['wall_s']:>8.1f}  "
                     f"{'PASS' if r['pass'] else 'FAIL ' + (r['error'] or 'outputs or counters differ')}")
    return "\n".join(lines)


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
    start = time.perf_counter()
    built = build(config, args.sim)
    build_s = time.perf_counter() - start
    rows, ok = [], True
    path = args.json or LAYERS_ROOT / f"{args.net}-{config.dataflow.value}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        layer = layers[name]
        try:
            plan(config, layer)
        except ValueError as err:
            rows.append({"layer": name, "shape": str(layer), "skipped": str(err)})
        else:
            t0 = time.perf_counter()
            (result,) = run(built, [(layer, args.seed)])
            report = make_report(config, layer, args.sim, result, predict(config, layer))
            rows.append(_row(name, report, time.perf_counter() - t0))
            ok &= report["pass"]
        print(format_rows(rows[-1:], header=False), flush=True)  # progress, one line per layer
        path.write_text(json.dumps({"net": args.net, "config": config.to_dict(), "simulator": args.sim,
                                    "build_s": round(build_s, 2), "layers": rows}, indent=2))
    run_s = sum(r.get("wall_s", 0.0) for r in rows)
    print()
    print(format_rows(rows))
    print(f"{args.net} {config.dataflow.value} on {args.sim}: {sum('pass' in r for r in rows)} layers run in "
          f"{run_s:.1f} s of simulation wall time (build {build_s:.1f} s); report: {path}")
    return 0 if ok else 1
