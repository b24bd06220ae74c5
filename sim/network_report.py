"""``qconv run``'s outputs: the per-node table, the JSON report and the per-layer plot beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["format_table", "write_report", "plot_layers"]


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(report: dict) -> str:
    """The per-node table and the totals, as text (on an RTL backend with the RTL's cycles and verdict per node)."""
    rtl = "rtl" in report
    lines = [f"{'node':28} {'op':18} {'where':11} {'shape':18} {'cycles':>10} "
             + (f"{'RTL cycles':>10} {'RTL':>4} " if rtl else "") + f"{'energy pJ':>11} {'max|d|':>6} {'exact':>8}"]
    for r in report["nodes"]:
        shape = "x".join(map(str, r["shape"]))
        verdict = "-" if r.get("rtl_pass") is None else ("pass" if r["rtl_pass"] else "FAIL")
        lines.append(f"{r['name'][:28]:28} {r['op'][:18]:18} {r['where']:11} {shape[:18]:18} "
                     f"{_fmt(r['cycles'], 'd'):>10} "
                     + (f"{_fmt(r['rtl_cycles'], 'd'):>10} {verdict:>4} " if rtl else "")
                     + f"{_fmt(r['energy'], '.4g'):>11} "
                     f"{_fmt(r['max_abs_diff_steps'], 'd'):>6} {_fmt(r['exact_fraction'], '.4%'):>8}")
        for note in r["lowering"]:
            lines.append(f"{'':30}lowered: {note}")
        if r["perf_unavailable"]:
            lines.append(f"{'':30}perf unavailable: {r['perf_unavailable']}")
    t = report["totals"]
    lines.append(f"totals: {t['cycles']} cycles, {t['dram_bytes']} DRAM bytes, {t['energy']:.4g} pJ over "
                 f"{t['accelerator_nodes'] - t['perf_unavailable_nodes']} of {t['accelerator_nodes']} accelerator "
                 f"nodes" + (" (the others do not fit the build's buffers yet)" if t["perf_unavailable_nodes"] else ""))
    if rtl:
        run = report["rtl"]
        verdict = ("every layer bit-exact with the model, cycles and counters equal" if run["pass"] else
                   f"{len(run['failures'])} of them NOT equal to the model")
        lines.append(f"on the {run['simulator']} RTL: {t['rtl_cycles']} cycles, {run['programs']} layer programs in "
                     f"one simulation, {verdict}")
    if t["max_abs_diff_steps"] is not None:
        lines.append(f"against ONNX Runtime: max |difference| {t['max_abs_diff_steps']} steps, "
                     f"{t['exact_fraction']:.6%} of all values exact, top-1 agreement {_fmt(t['top1_match'], '.2%')}")
        for tensor, e in report.get("rounding_differences", {}).items():
            ex = e["example"]
            lines.append(f"{tensor}: {e['differences']} difference(s) on an input equal to ONNX Runtime's, "
                         f"{e['explained']} explained by the requantization rule (e.g. accumulator {ex['accumulator']} "
                         f"x scale {ex['scale']:.9g} = {ex['exact_product']:.9f} exactly, {ex['float32_product']:.9f} "
                         f"in float32: stage {ex['stage']}, ONNX Runtime {ex['onnxruntime_rule']})")
        d = t["first_divergence"]
        lines.append("no node differs" if d is None else
                     f"first divergence: node {d['node']!r} ({d['op']}) tensor {d['tensor']!r} at {tuple(d['index'])}: "
                     f"ours {d['ours']}, ONNX Runtime {d['reference']}")
    return "\n".join(lines)


def plot_layers(report: dict, path: Path) -> Path:
    """Bar charts of cycles and energy per accelerator node (unavailable ones left empty)."""
    rows = [r for r in report["nodes"] if r["where"] == "accelerator"]
    fig = Figure(figsize=(max(6.0, 0.28 * len(rows) + 2), 5))
    x = np.arange(len(rows))
    for i, (key, label) in enumerate((("cycles", "cycles"), ("energy", "energy (pJ, Horowitz 45 nm)"))):
        ax = fig.add_subplot(2, 1, i + 1)
        ax.bar(x, [r[key] or 0 for r in rows], color="tab:blue" if key == "cycles" else "tab:orange")
        ax.set_ylabel(label)
        ax.set_xticks(x)
        ax.set_xticklabels([r["name"] for r in rows] if i else [], rotation=90, fontsize=6)
    fig.suptitle(f"{report['model']}: per-layer cycles and energy ({report['totals']['perf_unavailable_nodes']} "
                 f"layers do not fit the buffers: no bar)", fontsize=9)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.92, hspace=0.1)
    fig.savefig(path, dpi=100)
    return path


def write_report(report: dict, path: Path) -> tuple[Path, Path]:
    """Write the JSON report and the plot beside it (same name, ``.png``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    return path, plot_layers(report, path.with_suffix(".png"))
