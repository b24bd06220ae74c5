"""The report of one co-simulated layer: a JSON record and the short table ``qconv sim`` prints."""

from __future__ import annotations

from model.config import AcceleratorConfig
from model.contract import COUNTERS
from model.dram import DramConfig
from model.energy import TABLES, accelerator_energy, total
from model.layer import ConvLayer
from model.perf import Prediction
from model.roofline import roofline

__all__ = ["make_report", "dram_report", "format_table", "energy_report"]


def make_report(config: AcceleratorConfig, layer: ConvLayer, simulator: str, result: dict, prediction: Prediction) -> dict:
    """The JSON report: configuration, layer, simulator, seed, MACs, cycles and counters (RTL vs model),
    utilisation and roofline fraction (from the RTL's cycles; the roofline at the default DRAM
    bandwidth, :func:`model.roofline.roofline`), whether outputs match, and the verdict."""
    rtl_cycles = (result.get("cycles") or {}).get("rtl")
    model_counters = {name: pair["model"] for name, pair in result.get("counters", {}).items()
                      if name in COUNTERS}  # the accelerator's (a System run adds SYSTEM_COUNTERS)
    roof = roofline(config, layer)
    return {
        "config": config.to_dict(),
        "layer": layer.to_dict(),
        "simulator": simulator,
        "seed": result["seed"],
        "macs": layer.macs,
        "cycles": {"rtl": rtl_cycles, "model": prediction.cycles},
        "ideal_cycles": prediction.ideal_cycles,
        "naive_cycles": prediction.naive_cycles,
        "passes": prediction.passes,
        "roofline_cycles": roof.cycles,
        "roofline_fraction": roof.fraction(rtl_cycles) if rtl_cycles and rtl_cycles >= roof.cycles else None,
        "counters": result.get("counters", {}),
        "utilization": layer.macs / (rtl_cycles * config.pes * config.channels_per_word) if rtl_cycles else 0.0,
        "energy": energy_report(config, model_counters) if model_counters else None,
        "outputs_match": bool(result["outputs_match"]),
        "first_mismatch": result.get("first_mismatch"),
        "error": result.get("error"),
        "pass": bool(result["pass"]),
    }


def dram_report(config: AcceleratorConfig, layer: ConvLayer, dram: DramConfig, result: dict) -> dict:
    """The keys a run from DRAM (``qconv sim --memory dram``) adds to :func:`make_report`'s, or
    replaces: ``memory``, ``dram`` (its timing), ``sys_cycles`` and ``stall_cycles`` (each
    ``{"rtl", "model"}``), ``dram_bytes`` (``read`` and ``write``, each ``{"rtl", "model"}``), the
    roofline at ``dram``'s bandwidth with the fraction the System's total cycles achieve, and the
    ``utilization`` over the RTL's cycles with the accelerator busy (``sys_cycles - stall_cycles``:
    a pass started in the tail of the one before shares cycles with it)."""
    counters = result["counters"]
    sys_cycles = counters["sys_cycles"]["rtl"]
    busy = sys_cycles - counters["stall_cycles"]["rtl"] if sys_cycles else 0
    roof = roofline(config, layer, dram)
    return {
        "utilization": layer.macs / (busy * config.pes * config.channels_per_word) if busy else 0.0,
        "memory": "dram",
        "dram": {"latency": dram.latency, "bandwidth": dram.bandwidth},
        "sys_cycles": counters["sys_cycles"],
        "stall_cycles": counters["stall_cycles"],
        "dram_bytes": {"read": counters["dram_bytes_read"], "write": counters["dram_bytes_written"]},
        "roofline_cycles": roof.cycles,
        "roofline_fraction": roof.fraction(sys_cycles) if sys_cycles and sys_cycles >= roof.cycles else None,
        "wall_s": result.get("wall_s"),
    }


def energy_report(config: AcceleratorConfig, counters: dict) -> dict:
    """Energy of the layer from the model's counters (equal to the RTL's when the run passes), per table."""
    energy = {}
    for name in ("horowitz", "eyeriss"):
        breakdown = accelerator_energy(config, counters, name)
        energy[name] = {"unit": TABLES[name].unit, "total": total(breakdown),
                        "by_level": {level: sum(per.values()) for level, per in breakdown.items()}}
    return energy


def format_table(report: dict) -> str:
    """A short text table of ``report``: layer, MACs, cycles, utilisation, each counter, PASS/FAIL."""
    c = report["config"]
    layer = ",".join(f"{k}={v}" for k, v in report["layer"].items())
    lines = [
        f"layer        {layer}",
        f"accelerator  {c['rows']}x{c['cols']} {c['dataflow']} bits={c['bits']} rf_depth={c['rf_depth']} on {report['simulator']} (seed {report['seed']})",
        f"MACs         {report['macs']}",
        f"utilisation  {report['utilization']:.1%}   (ideal {report['ideal_cycles']} cycles, "
        f"fill+drain every fold {report['naive_cycles']}, passes {report['passes']})",
        "",
        f"{'counter':<20}{'RTL':>12}{'model':>12}",
    ]
    for name, pair in report["counters"].items():
        mark = "" if pair["rtl"] == pair["model"] else "   <-- mismatch"
        lines.append(f"{name:<20}{pair['rtl']:>12}{pair['model']:>12}{mark}")
    lines.append("")
    if report.get("memory") == "dram":
        d, s = report["dram"], report["stall_cycles"]
        lines.append(f"memory       DRAM, latency {d['latency']} cycles, {d['bandwidth']} B/cycle: "
                     f"{report['sys_cycles']['rtl']} cycles, {s['rtl']} stalled (model {s['model']})")
    if report["energy"]:
        e = report["energy"]["horowitz"]
        levels = ", ".join(f"{level} {value:.3g}" for level, value in e["by_level"].items())
        lines.append(f"energy       {e['total']:.4g} {e['unit']} (Horowitz 45 nm: {levels})")
    if report["error"]:
        lines.append(f"error: {report['error']}")
    if report["first_mismatch"]:
        m = report["first_mismatch"]
        lines.append(f"first output mismatch at (n, m, e, f) = {tuple(m['index'])}: expected {m['expected']}, got {m['actual']}")
    lines.append(f"outputs {'match' if report['outputs_match'] else 'DIFFER'}: {'PASS' if report['pass'] else 'FAIL'}")
    return "\n".join(lines)
