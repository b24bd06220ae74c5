"""Synthesis sweep: resources and Fmax of the accelerator across bit widths, array sizes and dataflows.

For each FPGA, dataflow and bit width the array sizes are synthesised in
order; once a size does not fit, larger arrays with the same settings are
skipped (recorded, not synthesised), so the sweep covers the part that fits.
Each such chain (FPGA, dataflow, bit width) is one item of a fan-out
(:mod:`sim.fanout`: a local process pool, a local Dask cluster or an existing
Dask scheduler), so the chains run side by side and the skip rule holds
inside each. Every design writes its ``<design>.json`` as it finishes; the
results, a Markdown table and plots go to ``build/synth/`` at the end. A
design whose ``<design>.json`` is already there from the same RTLIL and seed
is reused, so an interrupted sweep resumes where it stopped, and a change to
the RTL is synthesised again.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from model.config import DATAFLOWS, AcceleratorConfig  # noqa: E402
from sim.fanout import FanOut, fan_out  # noqa: E402
from sim.fpga.flow import SYNTH_ROOT, synth_config  # noqa: E402
from sim.fpga.parts import FPGAS  # noqa: E402
from sim.fpga.table import format_table  # noqa: E402
from sim.fpga.throughput import workload  # noqa: E402

__all__ = ["SWEEP_BITS", "SWEEP_ARRAYS", "sweep", "describe", "plot_sweep"]

#: Bit widths of the sweep (1 = binary XNOR-popcount).
SWEEP_BITS = (1, 2, 4, 8, 16)
#: Array shapes of the sweep, smallest first.
SWEEP_ARRAYS = ((2, 2), (4, 4), (8, 8))


def sweep(fpgas=("ecp5",), bits=SWEEP_BITS, arrays=SWEEP_ARRAYS, dataflows=DATAFLOWS, *,
          root: Path = SYNTH_ROOT, pnr_timeout: float | None = None, layer: str | None = None,
          how: FanOut = FanOut(), synth=synth_config) -> list[dict]:
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
    how : FanOut
        Where the chains (one per FPGA, dataflow and bit width) run.
    synth : callable
        The flow of one design, :func:`sim.fpga.flow.synth_config` (a module-level function: it is
        sent to the workers).

    Returns
    -------
    list of dict
        In sweep order (FPGA, dataflow, bits, array): one :func:`sim.fpga.flow.synth_config`
        result per design synthesised, one ``{"fpga", "config", "skipped"}`` entry per design
        skipped because a smaller array with the same settings did not fit, and one
        ``{"fpga", "config", "error"}`` entry per design of a chain that failed (its flow
        raised, or its worker died twice).
    """
    chains = [(f, d, b) for f in fpgas for d in dataflows for b in bits]
    configs = {chain: [AcceleratorConfig.preset(FPGAS[chain[0]].default_preset, dataflow=chain[1], bits=chain[2],
                                                rows=rows, cols=cols) for rows, cols in sorted(arrays)]
               for chain in chains}
    for chain_configs in configs.values():
        for config in chain_configs:
            workload(config, layer)  # a layer that does not fit one of the builds fails now, not hours later
    items = [(synth, fpga, configs[(fpga, d, b)], Path(root), pnr_timeout, layer) for fpga, d, b in chains]
    outcomes = fan_out(_synth_chain, items, how, what="synthesis sweep",
                       label=lambda item: f"{item[1]} {item[2][0].dataflow} bits={item[2][0].bits}")
    results: list[dict] = []
    for item, outcome in zip(items, outcomes):
        fpga, chain_configs = item[1], item[2]
        results += outcome.value if outcome.ok else [
            {"fpga": fpga, "config": json.loads(config.to_json()), "error": outcome.error} for config in chain_configs]
    _write(results, Path(root))
    return results


def _synth_chain(item: tuple) -> list[dict]:
    """Synthesise one chain's arrays, smallest first; once one does not fit, the larger are skipped."""
    synth, fpga, configs, root, pnr_timeout, layer = item
    results: list[dict] = []
    for config in configs:
        if results and not results[-1].get("fits"):
            results.append({"fpga": fpga, "config": json.loads(config.to_json()), "skipped": True})
        else:
            results.append(synth(config, fpga, root, pnr_timeout=pnr_timeout, layer=layer, reuse=True))
    return results


def describe(result: dict) -> str:
    """One line for a :func:`sweep` result: the design, then fits or not with its resources, skipped, or failed."""
    c = result["config"]
    tag = f"{result['fpga']} {c['dataflow']} bits={c['bits']} {c['rows']}x{c['cols']}"
    if result.get("skipped"):
        return f"{tag}: skipped (a smaller array did not fit)"
    if result.get("error"):
        return f"{tag}: FAILED ({result['error']})"
    r = result
    fmax = "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f} MHz"
    took = f"reused {r['json']}" if r["reused"] else f"{sum(r['seconds'].values()):.0f} s"
    return (f"{tag}: {'fits' if r['fits'] else 'does not fit'}, {r['luts']} LUTs, {r['ffs']} FFs, "
            f"{r['brams']} BRAMs, {r['dsps']} DSPs, {fmax} ({took})")


def _write(results: list[dict], root: Path) -> None:
    """``sweep.json``, ``sweep.md`` and one ``sweep_<fpga>.png`` per FPGA of ``results``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(results, indent=1))
    done = [r for r in results if not r.get("skipped") and not r.get("error")]
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
