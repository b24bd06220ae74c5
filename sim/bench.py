"""Benchmarks of qconv, each figure a ratio measured side by side in one run (median of repetitions).

Sections (each a function returning a JSON-ready dict, or None with a note
when the model it needs is not in this tree):

1. :func:`bench_golden` -- vectorised ``conv2d_int`` against the literal loop
   nest (small layer) and against a float64 im2col + BLAS convolution (large
   layer).
2. :func:`bench_reuse` -- ``model.reuse``'s O(N log N) reuse distances against
   its naive reference, in accesses per second.
3. :func:`bench_sim_speed` -- simulated cycles per second of the same layer's
   passes in Verilator (model C++ at ``-O2``), Icarus and Amaranth's simulator,
   build time apart, and a full co-simulation (host transfers included) on the
   HDL simulators.
4. :func:`bench_quality` -- PE utilisation and cycles against the ideal
   ``ceil(MACs/PEs)`` for OS and WS on real layers (``model.perf``), layers
   scaled down to fit the buffers where needed, spot-checked on RTL.
5. :func:`bench_energy` -- energy per inference of a small CNN at 8, 4 and 1
   bits from ``model.energy``.

:func:`run_bench` writes ``summary.json`` and ``summary.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from model.config import AcceleratorConfig
from model.conv import conv2d_int, conv2d_loops
from model.data import random_operands
from model.layer import NAMED_LAYERS, ConvLayer
from model.energy import accelerator_energy, total
from model.perf import predict
from model.quant.network import layer_shapes
from model.reuse import benchmark as reuse_benchmark
from model.tiling import plan

__all__ = [
    "BENCH_ROOT",
    "GOLDEN_SMALL",
    "GOLDEN_LARGE",
    "QUALITY_LAYERS",
    "median_seconds",
    "conv2d_blas",
    "scale_to_fit",
    "bench_golden",
    "bench_reuse",
    "bench_sim_speed",
    "bench_quality",
    "bench_energy",
    "run_bench",
    "summary_markdown",
]

#: Where benchmark results go (git-ignored).
BENCH_ROOT = Path("build") / "bench"
#: Layer for the loop-nest comparison (the loop nest runs in pure Python).
GOLDEN_SMALL = ConvLayer(C=8, H=12, W=12, M=8, R=3, S=3, pad=1)
#: Layer for the BLAS comparison (ResNet-18 conv4: 116 M MACs).
GOLDEN_LARGE = NAMED_LAYERS["resnet18_conv4"]
#: Real layers of the quality section, by their names in :data:`model.layer.NAMED_LAYERS`.
QUALITY_LAYERS = (
    "lenet5_conv1", "lenet5_conv2",
    "resnet18_conv1", "resnet18_conv2", "resnet18_conv3_down", "resnet18_conv4", "resnet18_conv5",
    "mobilenet_pw",
)
#: The small CNN of the energy section: LeNet-5's two convolution layers.


def median_seconds(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn()`` (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv2d_blas(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Float64 convolution the usual fast way: im2col (a strided view) and one BLAS matrix product.

    The baseline of :func:`bench_golden`: what a numpy user would write with no
    exactness guarantee. Layouts NCHW x MCRS -> NMEF, float64.
    """
    M, C, R, S = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (R, S), axis=(2, 3))[:, :, ::stride, ::stride]
    N, _, E, F = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N * E * F, C * R * S)
    out = cols @ w.reshape(M, C * R * S).astype(np.float64).T
    return out.reshape(N, E, F, M).transpose(0, 3, 1, 2)


def bench_golden(small: ConvLayer = GOLDEN_SMALL, large: ConvLayer = GOLDEN_LARGE, *, bits: int = 8,
                 repeat: int = 5, seed: int = 1) -> dict:
    """Time ``conv2d_int`` against ``conv2d_loops`` (small) and :func:`conv2d_blas` (large), same operands.

    Returns
    -------
    dict
        Per comparison the layer, MACs, median seconds of each side and the
        speed-up of ``conv2d_int`` (``> 1`` means faster); the results are
        checked equal first.
    """
    rng = np.random.default_rng(seed)
    xs, ws = random_operands(small, bits, rng)
    xl, wl = random_operands(large, bits, rng)
    if not np.array_equal(conv2d_int(xs, ws, small.stride, small.pad), conv2d_loops(xs, ws, small.stride, small.pad)):
        raise AssertionError("conv2d_int and conv2d_loops disagree on the benchmark layer")
    if not np.array_equal(conv2d_int(xl, wl, large.stride, large.pad),
                          conv2d_blas(xl, wl, large.stride, large.pad).astype(np.int64)):
        raise AssertionError("conv2d_int and the BLAS convolution disagree on the benchmark layer")
    t_int_s = median_seconds(lambda: conv2d_int(xs, ws, small.stride, small.pad), repeat)
    t_loops = median_seconds(lambda: conv2d_loops(xs, ws, small.stride, small.pad), max(1, repeat // 2))
    t_int_l = median_seconds(lambda: conv2d_int(xl, wl, large.stride, large.pad), repeat)
    t_blas = median_seconds(lambda: conv2d_blas(xl, wl, large.stride, large.pad), repeat)
    return {
        "vs_loops": {"layer": str(small), "macs": small.macs, "conv2d_int_s": t_int_s, "conv2d_loops_s": t_loops,
                     "speedup": t_loops / t_int_s},
        "vs_blas": {"layer": str(large), "macs": large.macs, "conv2d_int_s": t_int_l, "float64_blas_s": t_blas,
                    "speedup": t_blas / t_int_l},
        "repeat": repeat,
    }


def bench_reuse(n: int = 1_000_000, naive_n: int = 4_000) -> dict:
    """:func:`model.reuse.benchmark` (the O(N log N) reuse distances against the naive reference)."""
    result = reuse_benchmark(n=n, naive_n=naive_n)
    return {**result, "speedup": result["accesses_per_s"] / result["naive_accesses_per_s"]}


# -- simulator speed -----------------------------------------------------------


def _cocotb_passes(config: AcceleratorConfig, layer: ConvLayer, simulator: str, repeat: int, min_seconds: float,
                   root: Path) -> dict:
    """Cold-build ``config`` for an HDL simulator, time the build, then time the layer's passes."""
    from cocotb_tools.runner import get_runner

    from sim.runner import TOPLEVEL, build

    shutil.rmtree(root / simulator, ignore_errors=True)
    t0 = time.perf_counter()
    built = build(config, simulator, root=root, cxx_opt="-O2")  # the model's C++ at -O2 runs fastest
    build_s = time.perf_counter() - t0
    run_dir = built.directory / "bench"
    run_dir.mkdir(exist_ok=True)
    results = run_dir / "passes.json"
    results.unlink(missing_ok=True)
    env = {"QCONV_CONFIG": str(built.config_json), "QCONV_BENCH_LAYER": str(layer),
           "QCONV_BENCH_REPEAT": str(repeat), "QCONV_BENCH_MIN_SECONDS": str(min_seconds),
           "QCONV_BENCH_RESULTS": str(results)}
    get_runner(simulator).test(
        test_module="sim.bench_testbench", hdl_toplevel=TOPLEVEL, hdl_toplevel_lang="verilog",
        build_dir=built.directory / "obj",
        test_dir=run_dir, extra_env=env, timescale=("1ns", "1ps"), results_xml=str(run_dir / "results.xml"),
        log_file=run_dir / "sim.log",
    )
    runs = json.loads(results.read_text())
    return {"build_s": build_s, "runs": runs, "built": built}


def _amaranth_passes(config: AcceleratorConfig, layer: ConvLayer, repeat: int, min_seconds: float) -> dict:
    """Time the same passes in amaranth.sim (the "build" is elaboration and simulator set-up)."""
    from amaranth.sim import Simulator

    from hw.accelerator import Accelerator
    from sim.bench_testbench import pass_descriptors

    descs = pass_descriptors(config, layer)
    t0 = time.perf_counter()
    dut = Accelerator(config)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    build_s = time.perf_counter() - t0
    runs = []

    async def bench(ctx):
        while len(runs) < repeat or sum(r["seconds"] for r in runs) < min_seconds:
            before = ctx.get(dut.count_cycles)
            t = time.perf_counter()
            for desc in descs:
                ctx.set(dut.desc.as_value(), desc)
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)
                await ctx.tick().until(dut.done)
            runs.append({"cycles": ctx.get(dut.count_cycles) - before, "seconds": time.perf_counter() - t})

    sim.add_testbench(bench)
    sim.run()
    return {"build_s": build_s, "runs": runs}


def _cosim_seconds(built, layer: ConvLayer, seed: int) -> dict:
    """Wall time of one full co-simulation of ``layer`` (host transfers included) and its check."""
    from sim.runner import run

    t0 = time.perf_counter()
    (result,) = run(built, [(layer, seed)])
    return {"seconds": time.perf_counter() - t0, "pass": bool(result["pass"]),
            "cycles": result.get("cycles"), "error": result.get("error")}


def bench_sim_speed(config: AcceleratorConfig | None = None, layer: ConvLayer | None = None, *,
                    simulators=("verilator", "icarus", "amaranth"), repeat: int = 5, min_seconds: float = 3.0,
                    root: Path = BENCH_ROOT / "sim-speed", cosim: bool = True, seed: int = 1) -> dict:
    """Simulated cycles per second of ``layer``'s passes on each simulator, and build times.

    Parameters
    ----------
    config, layer : optional
        Default: the ``default`` preset (8x8, WS, 8-bit) and ``small_3x3`` (the
        default layer of ``qconv sim``).
    simulators : iterable of str
        Any of ``"verilator"``, ``"icarus"``, ``"amaranth"``.
    repeat, min_seconds : int, float
        The whole layer is repeated in one simulation at least ``repeat`` times and
        until ``min_seconds`` of wall time are measured (a fast simulator's layer
        takes milliseconds); the median rate over repetitions is reported.
    root : Path
        Build folder (cleared per simulator so the build time is a cold build).
    cosim : bool
        Also time one full co-simulation (host transfers, checked against the
        golden model) on each HDL simulator.

    Returns
    -------
    dict
        ``cycles_per_s``, ``build_s``, ``pass_cycles`` per simulator, ``ratios``
        (Verilator over the others), ``cosim`` and a description of the workload.
    """
    config = config or AcceleratorConfig.preset("default")
    layer = layer or NAMED_LAYERS["small_3x3"]
    out: dict = {"config": config.to_dict(), "layer": str(layer), "repeat": repeat, "min_seconds": min_seconds,
                 "workload": "every pass of the layer, back to back, no host transfers; "
                             "cycles = count_cycles, wall time around the passes only",
                 "cycles_per_s": {}, "build_s": {}, "pass_cycles": {}, "repetitions": {}, "cosim": {}}
    for simulator in simulators:
        if simulator == "amaranth":
            measured = _amaranth_passes(config, layer, repeat, min_seconds)
        else:
            measured = _cocotb_passes(config, layer, simulator, repeat, min_seconds, Path(root))
            if cosim:
                out["cosim"][simulator] = _cosim_seconds(measured["built"], layer, seed)
        out["cycles_per_s"][simulator] = statistics.median(r["cycles"] / r["seconds"] for r in measured["runs"])
        out["build_s"][simulator] = measured["build_s"]
        out["pass_cycles"][simulator] = measured["runs"][0]["cycles"]
        out["repetitions"][simulator] = len(measured["runs"])
    rates = out["cycles_per_s"]
    out["ratios"] = {f"verilator/{s}": rates["verilator"] / rates[s] for s in rates if s != "verilator" and "verilator" in rates}
    return out


# -- accelerator quality ---------------------------------------------------------


def scale_to_fit(configs: list[AcceleratorConfig], layer: ConvLayer) -> ConvLayer:
    """``layer`` unchanged if it fits every config; else with C and then H, W reduced until it does.

    C is cut to the largest value whose ``C*R*S`` fits ``max_reduction``; H
    and W are halved (never below the kernel) until one image fits the buffers.
    """
    for _ in range(32):
        try:
            for config in configs:
                plan(config, layer)
            return layer
        except ValueError:
            limit = min(c.max_reduction for c in configs)
            if layer.reduction > limit:
                layer = dataclasses.replace(layer, C=max(1, limit // (layer.R * layer.S)))
            elif layer.H > layer.R or layer.W > layer.S:
                layer = dataclasses.replace(layer, H=max(layer.R, (layer.H + 1) // 2), W=max(layer.S, (layer.W + 1) // 2))
            else:
                raise
    raise ValueError(f"could not scale {layer} to fit the configurations")


def bench_quality(base: AcceleratorConfig | None = None, layers=QUALITY_LAYERS, *,
                  spot_check: tuple[str, ...] = ("lenet5_conv2",), simulator: str = "verilator",
                  root: Path = BENCH_ROOT / "sim", seed: int = 1) -> dict:
    """Utilisation and cycles against ``ceil(MACs/PEs)`` for OS and WS, from :func:`model.perf.predict`.

    Parameters
    ----------
    base : AcceleratorConfig, optional
        The build (default preset); its dataflow is replaced by each of OS and WS.
    layers : iterable of str
        Names in :data:`model.layer.NAMED_LAYERS`.
    spot_check : tuple of str
        Layers also co-simulated on ``simulator`` for both dataflows: RTL cycles
        against the model and outputs against the golden model.

    Returns
    -------
    dict
        ``{layer name: {"layer", "scaled", "macs", "ideal_cycles", "os": {...}, "ws": {...}}}``
        with per dataflow ``cycles``, ``naive_cycles``, ``utilization``,
        ``vs_ideal`` (cycles / ideal) and, when spot-checked, ``rtl_cycles`` and ``rtl_pass``.
    """
    base = base or AcceleratorConfig.preset("default")
    configs = {df: base.replace(dataflow=df) for df in ("os", "ws")}
    out: dict = {}
    for name in layers:
        layer = scale_to_fit(list(configs.values()), NAMED_LAYERS[name])
        row = {"layer": str(layer), "scaled": layer != NAMED_LAYERS[name], "macs": layer.macs}
        for df, config in configs.items():
            p = predict(config, layer)
            row["ideal_cycles"] = p.ideal_cycles
            row[df] = {"cycles": p.cycles, "naive_cycles": p.naive_cycles, "utilization": p.utilization,
                       "vs_ideal": p.cycles / p.ideal_cycles, "passes": p.passes}
        out[name] = row
    if spot_check:
        from sim.runner import build, run

        for df, config in configs.items():
            built = build(config, simulator, root=Path(root))
            jobs = [(scale_to_fit(list(configs.values()), NAMED_LAYERS[n]), seed) for n in spot_check]
            for name, result in zip(spot_check, run(built, jobs)):
                out[name][df]["rtl_cycles"] = (result.get("cycles") or {}).get("rtl")
                out[name][df]["rtl_pass"] = bool(result["pass"])
    return out


# -- energy ------------------------------------------------------------------------


def bench_energy(base: AcceleratorConfig | None = None, bits=(8, 4, 1), table: str = "eyeriss") -> dict:
    """Energy of one inference of the small digits CNN (:mod:`model.quant.network`) per bit width.

    Every layer of the network (its two conv layers and the dense layer, which
    is a 2x2 conv of the last feature map) runs on the accelerator; the
    energy comes from :func:`model.energy.accelerator_energy` of the
    analytical model's counters.

    Returns
    -------
    dict
        ``{"table", "layers", "bits": {bits: {"total", "per_layer", "relative_to_8bit"}}}`` in
        units of ``table`` (``eyeriss``: one 16-bit MAC; ``horowitz``: pJ).
    """
    base = base or AcceleratorConfig.preset("default")
    layers = layer_shapes(1)
    out: dict = {"table": table, "layers": [str(layer) for layer in layers], "bits": {}}
    for b in bits:
        config = base.replace(bits=b)
        per_layer = {str(layer): total(accelerator_energy(config, predict(config, layer).counters, table))
                     for layer in layers}
        out["bits"][str(b)] = {"total": sum(per_layer.values()), "per_layer": per_layer}
    ref = out["bits"].get("8", {}).get("total")
    for entry in out["bits"].values():
        entry["relative_to_8bit"] = entry["total"] / ref if ref else None
    return out


# -- summary -------------------------------------------------------------------------


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
        sim_kw = dict(simulators=("amaranth",), repeat=1, min_seconds=0.0, cosim=False)
        quality_kw = dict(layers=("lenet5_conv1",), spot_check=())
        reuse_kw = dict(n=20_000, naive_n=500)
    else:
        config, sim_layer, golden = AcceleratorConfig.preset("default"), NAMED_LAYERS["small_3x3"], {}
        sim_kw, quality_kw, reuse_kw = {}, {}, {}
    summary: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform(), "load_average_at_start": os.getloadavg()[0]},
                     "notes": []}
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
    quality = bench_quality(config, root=out_dir / "sim", **quality_kw)
    summary["quality"] = quality
    summary["utilization"] = {n: {df: q[df]["utilization"] for df in ("os", "ws")} for n, q in quality.items()}
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
              f"{s['config']['bits']}-bit; {s['workload']}; median over repetitions (at least {s['repeat']} "
              f"and {s['min_seconds']} s per simulator: {s['repetitions']}).", "",
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
    if summary["notes"]:
        lines += ["## Notes", ""] + [f"* {n}" for n in summary["notes"]] + [""]
    return "\n".join(lines)
