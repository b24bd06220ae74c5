"""Synthesis sweep: resources and Fmax of the accelerator across bit widths, array sizes and dataflows.

For each FPGA, dataflow and bit width the array sizes are synthesised in
order; once a size does not fit, larger arrays with the same settings are
skipped (recorded, not synthesised), so the sweep covers the part that fits.
Results, a Markdown table and plots go to ``build/synth/`` and are rewritten
after every design; a design whose ``<design>.json`` is already there from
the same RTLIL and seed is reused, so an interrupted sweep resumes where it
stopped, and a change to the RTL is synthesised again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from model.config import DATAFLOWS, AcceleratorConfig  # noqa: E402
from sim.fpga.flow import SYNTH_ROOT, synth_config  # noqa: E402
from sim.fpga.parts import FPGAS  # noqa: E402
from sim.fpga.table import format_table  # noqa: E402
from sim.fpga.throughput import workload  # noqa: E402

__all__ = ["SWEEP_BITS", "SWEEP_ARRAYS", "sweep", "plot_sweep"]

#: Bit widths of the sweep (1 = binary XNOR-popcount).
SWEEP_BITS = (1, 2, 4, 8, 16)
#: Array shapes of the sweep, smallest first.
SWEEP_ARRAYS = ((2, 2), (4, 4), (8, 8))


def sweep(fpgas=("ecp5",), bits=SWEEP_BITS, arrays=SWEEP_ARRAYS, dataflows=DATAFLOWS, *,
          root: Path = SYNTH_ROOT, pnr_timeout: float | None = None, layer: str | None = None,
          progress=print) -> list[dict]:
    """Synthesise every combination that fits; write ``sweep.json``, ``sweep.md`` and plots under ``root``.

    Parameters
    ----------
    fpgas, bits, arrays, dataflows : iterables
        What to sweep; each FPGA uses its default preset's buffer depths.
    root : Path
        Output folder.
    pnr_timeout : float, optional
        Seconds nextpnr may run per design (see :func:`sim.fpga.flow.synthesize`).
    layer : str, optional
        Layer of the throughput figures (see :func:`sim.fpga.throughput.workload`); by
        default each design's first of :data:`sim.fpga.throughput.DEFAULT_LAYERS` that fits.
    progress : callable
        Called with one line of text before and after each design.

    Returns
    -------
    list of dict
        One :func:`sim.fpga.flow.synth_config` result per design synthesised, plus
        one ``{"fpga", "config", "skipped"}`` entry per design skipped because
        a smaller array with the same settings did not fit.
    """
    jobs = [(f, d, b, a) for f in fpgas for d in dataflows for b in bits for a in sorted(arrays)]
    configs = [AcceleratorConfig.preset(FPGAS[f].default_preset, dataflow=d, bits=b, rows=a[0], cols=a[1])
               for f, d, b, a in jobs]
    for config in configs:
        workload(config, layer)  # a layer that does not fit one of the builds fails now, not hours later
    results: list[dict] = []
    too_big: set[tuple] = set()
    start = time.perf_counter()
    for i, ((fpga, dataflow, b, (rows, cols)), config) in enumerate(zip(jobs, configs), 1):
        tag = f"[{i}/{len(jobs)}] {fpga} {dataflow} bits={b} {rows}x{cols}"
        if (fpga, dataflow, b) in too_big:
            progress(f"{tag}: skipped (a smaller array did not fit)")
            results.append({"fpga": fpga, "config": json.loads(config.to_json()), "skipped": True})
            _write(results, Path(root))
            continue
        progress(f"{tag}: started ({time.perf_counter() - start:.0f} s elapsed)")
        r = synth_config(config, fpga, root, pnr_timeout=pnr_timeout, layer=layer, reuse=True)
        if not r["fits"]:
            too_big.add((fpga, dataflow, b))
        fmax = "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f} MHz"
        took = f"reused {r['json']}" if r["reused"] else f"{sum(r['seconds'].values()):.0f} s"
        progress(f"{tag}: {'fits' if r['fits'] else 'does not fit'}, {r['luts']} LUTs, {r['ffs']} FFs, "
                 f"{r['brams']} BRAMs, {r['dsps']} DSPs, {fmax} ({took})")
        results.append(r)
        _write(results, Path(root))
    return results


def _write(results: list[dict], root: Path) -> None:
    """``sweep.json``, ``sweep.md`` and one ``sweep_<fpga>.png`` per FPGA of ``results``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(results, indent=1))
    done = [r for r in results if not r.get("skipped")]
    (root / "sweep.md").write_text(format_table(done) + "\n")
    for fpga in sorted({r["fpga"] for r in done}):
        plot_sweep([r for r in done if r["fpga"] == fpga], root / f"sweep_{fpga}.png")


def _value(result: dict, key: str) -> float | None:
    """``result[key]``, or its throughput's GMAC/s for ``"gmacs"`` (None in results written before it)."""
    if key == "gmacs":
        return (result.get("throughput") or {}).get("gmacs")
    return result[key]


def plot_sweep(results: list[dict], path: Path) -> Path:
    """LUTs, flip-flops, block RAMs, DSPs, Fmax and GMAC/s against bit width, one line per dataflow and array."""
    fig = Figure(figsize=(15, 8), layout="constrained")
    axes = fig.subplots(2, 3)
    panels = (("luts", "LUTs"), ("ffs", "flip-flops"), ("brams", "block RAMs"), ("dsps", "DSP blocks"),
              ("fmax_mhz", "Fmax (MHz)"), ("gmacs", "GMAC/s (throughput layer)"))
    series: dict[tuple, list[dict]] = {}
    for r in results:
        c = r["config"]
        series.setdefault((c["dataflow"], c["rows"], c["cols"]), []).append(r)
    for ax, (key, label) in zip(axes.flat, panels):
        for (dataflow, rows, cols), rs in sorted(series.items()):
            pts = sorted((r["config"]["bits"], _value(r, key)) for r in rs if r["fits"] and _value(r, key) is not None)
            if pts:
                ax.plot(*zip(*pts), marker="o", linestyle="-" if dataflow == "ws" else "--",
                        label=f"{dataflow} {rows}x{cols}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(SWEEP_BITS, [str(b) for b in SWEEP_BITS])
        ax.set_xlabel("bits (1 = binary XNOR-popcount)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if key in ("luts", "ffs"):
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"qconv on {results[0]['device']} (fitting designs; harness included)")
    fig.savefig(path, dpi=110)
    return path
