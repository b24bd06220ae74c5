"""Benchmarks of the RTL and the summary of ``make bench``: simulator speed, RTL spot checks, and the model's sections.

The pure-model sections (golden convolution, reuse distances, utilisation,
energy) are :mod:`model.benchmarks`; this module adds what needs a simulator
and writes ``summary.json`` and ``summary.md`` (:func:`run_bench`).

:func:`bench_sim_speed` measures simulated cycles per second of the same
layer's passes on Verilator (model C++ at ``-O2``), Icarus and Amaranth's
simulator -- the same host programs through the one executor
(:mod:`sim.executor`), without buffer transfers, so the figure is the
simulation of the computation -- and, on the HDL simulators, the wall time of
one full co-simulation with transfers, checked against the model.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

from model.benchmarks import bench_energy, bench_golden, bench_quality, bench_reuse, scale_to_fit
from model.config import AcceleratorConfig, Dataflow
from model.layer import NAMED_LAYERS, ConvLayer

__all__ = ["BENCH_ROOT", "bench_sim_speed", "spot_check", "run_bench", "summary_markdown"]

#: Where benchmark results go (git-ignored).
BENCH_ROOT = Path("build") / "bench"

#: Repetitions of the layer per simulator (Verilator runs a small layer in milliseconds).
REPEATS = {"verilator": 200, "icarus": 3, "amaranth": 3}


def bench_sim_speed(config: AcceleratorConfig | None = None, layer: ConvLayer | None = None, *,
                    simulators=("verilator", "icarus", "amaranth"), repeats: dict | None = None,
                    root: Path = BENCH_ROOT / "sim-speed", cosim: bool = True, seed: int = 1) -> dict:
    """Simulated cycles per second of ``layer``'s passes on each simulator, and build times.

    Parameters
    ----------
    config, layer : optional
        Default: the ``default`` preset (8x8, WS, 8-bit) and ``small_3x3`` (the
        default layer of ``qconv sim``).
    simulators : iterable of str
        Any of ``"verilator"``, ``"icarus"``, ``"amaranth"``.
    repeats : dict, optional
        Repetitions of the layer per simulator, in one simulation (default :data:`REPEATS`).
    root : Path
        Build folder (cleared per simulator so the build time is a cold build).
    cosim : bool
        Also time one full co-simulation (host transfers, checked against the
        golden model) on each HDL simulator.

    Returns
    -------
    dict
        ``cycles_per_s`` (median over repetitions), ``build_s``, ``pass_cycles``,
        ``repetitions`` per simulator, ``ratios`` (Verilator over the others),
        ``cosim`` and a description of the workload.
    """
    from sim.amaranth_port import simulate as amaranth_simulate
    from sim.jobs import random_job
    from sim.runner import build, run, simulate

    config = config or AcceleratorConfig.preset("default")
    layer = layer or NAMED_LAYERS["small_3x3"]
    repeats = {**REPEATS, **(repeats or {})}
    out: dict = {"config": config.to_dict(), "layer": str(layer),
                 "workload": "every pass of the layer, no buffer transfers; cycles = count_cycles, "
                             "wall time around each repetition's program",
                 "cycles_per_s": {}, "build_s": {}, "pass_cycles": {}, "repetitions": {}, "cosim": {}}
    job = random_job(config, layer, seed, transfers=False)
    for simulator in simulators:
        jobs = [job] * repeats[simulator]
        t0 = time.perf_counter()
        if simulator == "amaranth":
            measured = [(run.counters["cycles"], run.seconds) for run in amaranth_simulate(config, [j.program for j in jobs])]
            out["build_s"][simulator] = 0.0
        else:
            shutil.rmtree(Path(root) / simulator, ignore_errors=True)  # a cold build: its own, empty build cache
            built = build(config, simulator, root=Path(root), cxx_opt="-O2",  # the model's C++ at -O2 runs fastest
                          cache=Path(root) / simulator / "cache")
            out["build_s"][simulator] = time.perf_counter() - t0
            records = simulate(built, jobs)
            # no transfers ran, so only the cycles are comparable with the whole-layer prediction
            if any(r["cycles"]["rtl"] != r["cycles"]["model"] for r in records):
                raise AssertionError(f"{simulator}: the benchmark's passes take other cycles than the model's: "
                                     f"{records[0]['cycles']}")
            measured = [(r["cycles"]["rtl"], r["seconds"]) for r in records]
            if cosim:
                t1 = time.perf_counter()
                (result,) = run(built, [(layer, seed)])
                out["cosim"][simulator] = {"seconds": time.perf_counter() - t1, "pass": bool(result["pass"]),
                                           "error": result.get("error")}
        out["cycles_per_s"][simulator] = statistics.median(cycles / seconds for cycles, seconds in measured)
        out["pass_cycles"][simulator] = measured[0][0]
        out["repetitions"][simulator] = len(measured)
    rates = out["cycles_per_s"]
    out["ratios"] = {f"verilator/{s}": rates["verilator"] / rates[s] for s in rates if s != "verilator" and "verilator" in rates}
    return out


def spot_check(quality: dict, base: AcceleratorConfig, names: tuple[str, ...], simulator: str = "verilator",
               root: Path = BENCH_ROOT / "sim", seed: int = 1) -> None:
    """Co-simulate ``names`` of a :func:`model.benchmarks.bench_quality` result on both dataflows; add
    ``rtl_cycles`` and ``rtl_pass`` (outputs, cycles and every counter equal the model) to its rows."""
    from sim.runner import build, run

    for df in Dataflow:
        config = base.replace(dataflow=df)
        built = build(config, simulator, root=Path(root))
        jobs = [(scale_to_fit([base.replace(dataflow=d) for d in Dataflow], NAMED_LAYERS[n]), seed) for n in names]
        for name, result in zip(names, run(built, jobs)):
            quality[name][df.value]["rtl_cycles"] = (result.get("cycles") or {}).get("rtl")
            quality[name][df.value]["rtl_pass"] = bool(result["pass"])


def run_bench(out_dir: Path = BENCH_ROOT, *, quick: bool = False, progress=print) -> dict:
    """Run every section; write ``summary.json`` and ``summary.md`` under ``out_dir``; return the summary.

    ``quick`` uses a tiny configuration and layers and one repetition (for tests of the plumbing).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if quick:
        config = AcceleratorConfig.preset("tiny")
        sim_layer = ConvLayer(C=2, H=5, W=5, M=2, R=3, S=3)
        golden = dict(small=ConvLayer(C=2, H=5, W=5, M=2, R=3, S=3), large=ConvLayer(C=8, H=8, W=8, M=8, R=3, S=3),
                      repeat=1)
        sim_kw = dict(simulators=("amaranth",), repeats={"amaranth": 1}, cosim=False)
        quality_layers, spot = ("lenet5_conv1",), ()
        reuse_kw = dict(n=20_000, naive_n=500)
    else:
        config, sim_layer, golden = AcceleratorConfig.preset("default"), NAMED_LAYERS["small_3x3"], {}
        sim_kw, reuse_kw = {}, {}
        quality_layers, spot = None, ("lenet5_conv2",)
    summary: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform(), "load_average_at_start": os.getloadavg()[0]}}
    progress("golden model ...")
    summary["golden"] = bench_golden(**golden)
    summary["golden_speedup_vs_loops"] = summary["golden"]["vs_loops"]["speedup"]
    summary["golden_speedup_vs_blas"] = summary["golden"]["vs_blas"]["speedup"]
    progress("reuse distances ...")
    summary["reuse"] = bench_reuse(**reuse_kw)
    summary["reuse_accesses_per_s"] = summary["reuse"]["accesses_per_s"]
    progress("simulator speed ...")
    speed = bench_sim_speed(config, sim_layer, root=out_dir / "sim-speed", **sim_kw)
    summary["sim_speed"] = speed
    summary["sim_cycles_per_s"] = speed["cycles_per_s"]
    progress("accelerator quality ...")
    quality = bench_quality(config, *((quality_layers,) if quality_layers else ()))
    spot_check(quality, config, spot, root=out_dir / "sim")
    summary["quality"] = quality
    summary["utilization"] = {n: {df.value: q[df.value]["utilization"] for df in Dataflow} for n, q in quality.items()}
    progress("energy ...")
    summary["energy"] = bench_energy()  # analytical: the default build even in quick runs
    summary["machine"]["load_average_at_end"] = os.getloadavg()[0]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    (out_dir / "summary.md").write_text(summary_markdown(summary))
    return summary


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def summary_markdown(summary: dict) -> str:
    """The benchmark summary as Markdown tables."""
    m = summary["machine"]
    lines = ["# qconv benchmark summary", "",
             f"Python {m['python']}, {m['cpus']} CPUs, {m['platform']}; 1-minute load average "
             f"{m['load_average_at_start']:.1f} at the start, {m['load_average_at_end']:.1f} at the end.", ""]
    g = summary["golden"]
    lines += ["## Golden model (median of repetitions)", "",
              "| comparison | layer | MACs | conv2d_int (s) | other (s) | speed-up of conv2d_int |", "|---|---|---|---|---|---|",
              f"| vs literal loop nest | {g['vs_loops']['layer']} | {g['vs_loops']['macs']:,} | {g['vs_loops']['conv2d_int_s']:.4g} "
              f"| {g['vs_loops']['conv2d_loops_s']:.4g} | {g['vs_loops']['speedup']:.3g}x |",
              f"| vs float64 im2col + BLAS | {g['vs_blas']['layer']} | {g['vs_blas']['macs']:,} | {g['vs_blas']['conv2d_int_s']:.4g} "
              f"| {g['vs_blas']['float64_blas_s']:.4g} | {g['vs_blas']['speedup']:.2f}x |", ""]
    if "reuse" in summary:
        r = summary["reuse"]
        lines += ["## Reuse distances", "", "| method | trace length | accesses/s |", "|---|---|---|",
                  f"| O(N log N) | {r['n']:,} | {_fmt(r['accesses_per_s'])} |",
                  f"| naive O(N^2) | {r['naive_n']:,} | {_fmt(r['naive_accesses_per_s'])} |",
                  f"| ratio | | {r['speedup']:,.0f}x |", ""]
    s = summary["sim_speed"]
    lines += ["## RTL simulation speed", "",
              f"Layer `{s['layer']}` on {s['config']['rows']}x{s['config']['cols']} {s['config']['dataflow']} "
              f"{s['config']['bits']}-bit; {s['workload']}; median over repetitions ({s['repetitions']}).", "",
              "| simulator | simulated cycles/s | build (s) | pass cycles | full co-simulation (s) |", "|---|---|---|---|---|"]
    for sim_name, rate in s["cycles_per_s"].items():
        co = s["cosim"].get(sim_name)
        co_text = f"{co['seconds']:.1f} ({'pass' if co['pass'] else 'FAIL'})" if co else "-"
        lines.append(f"| {sim_name} | {_fmt(rate)} | {s['build_s'][sim_name]:.2f} | {s['pass_cycles'][sim_name]:,} | {co_text} |")
    lines += [""] + [f"* {k}: {v:,.1f}x" for k, v in s["ratios"].items()] + [""]
    lines += ["## Accelerator quality (model.perf; ideal = ceil(MACs / PEs))", "",
              "| layer | shape used | MACs | ideal cycles | OS cycles | OS util | WS cycles | WS util | RTL spot check |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, q in summary["quality"].items():
        spot = [f"{df}: {q[df]['rtl_cycles']} {'pass' if q[df]['rtl_pass'] else 'FAIL'}"
                for df in ("os", "ws") if "rtl_pass" in q[df]]
        lines.append(f"| {name} | {q['layer']}{' (scaled)' if q['scaled'] else ''} | {q['macs']:,} | {q['ideal_cycles']:,} "
                     f"| {q['os']['cycles']:,} | {q['os']['utilization']:.1%} | {q['ws']['cycles']:,} "
                     f"| {q['ws']['utilization']:.1%} | {'; '.join(spot) or '-'} |")
    lines.append("")
    if "energy" in summary:
        e = summary["energy"]
        lines += [f"## Energy per inference of {' + '.join(e['layers'])} ({e['table']} table)", "",
                  "| bits | energy | relative to 8-bit |", "|---|---|---|"]
        lines += [f"| {b} | {_fmt(v['total'])} | {v['relative_to_8bit']:.3f} |" for b, v in e["bits"].items()]
        lines.append("")
    return "\n".join(lines)
