"""``qconv analyze``: reuse distances, LRU hit rates, energy breakdowns and the mapping search, as figures.

Writes to ``--out`` (default ``build/analyze/``): ``reuse_histograms.png``,
``hit_rate.png``, ``energy_breakdown.png``, ``mapping_pareto.png`` and
``summary.json`` with the numbers behind them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from model.energy import Hierarchy
from model.layer import parse_layer
from model.loopnest import conv_nest, trace
from model.mapping import pareto_front, search
from model.reuse import hit_rate_curve, histogram, reuse_distances
from sim import figures
from sim.commands.map import add_search_args, search_kwargs
from sim.progress import StageProgress

#: Loop orders compared in the reuse figures (outermost first): label -> order of "nmcefrs".
ORDERS = {
    "output-stationary  n m e f | c r s": "nmefcrs",
    "weight-stationary  n m c r s | e f": "nmcrsef",
    "input-stationary  n c e f r s | m": "ncefrsm",
    "textbook  n m c e f r s": "nmcefrs",
}


def register(subparsers) -> None:
    """Add the ``analyze`` sub-command."""
    p = subparsers.add_parser("analyze", help="loop-nest analysis figures: reuse, LRU hit rate, energy, mapping search")
    p.add_argument("--layer", default="resnet18_conv4", help="layer of the mapping search and energy bars")
    p.add_argument("--reuse-layer", default="small_3x3", help="layer whose address traces are analysed (keep it small)")
    add_search_args(p)
    p.add_argument("--out", type=Path, default=Path("build/analyze"), help="output folder")
    p.set_defaults(func=run)


def _reuse(layer, out: Path) -> dict:
    """Reuse-distance histograms and hit-rate curves of the orders of :data:`ORDERS`."""
    hists, curves, stats = {}, {}, {}
    for label, order in ORDERS.items():
        nest = conv_nest(layer, order)
        addr = trace(nest)
        t0 = time.perf_counter()
        dist = reuse_distances(addr)
        seconds = time.perf_counter() - t0
        bases = np.cumsum([0] + [t.size for t in nest.tensors])
        which = np.searchsorted(bases, addr, side="right") - 1
        edges, _, cold = histogram(dist)
        per_tensor = {}
        for i, t in enumerate(nest.tensors):
            per_tensor[t.name] = histogram(dist[which == i], len(edges))[1]
        hists[label] = (edges, per_tensor, cold)
        curves[label] = hit_rate_curve(dist)
        stats[label] = {"accesses": int(addr.size), "seconds": seconds,
                        "hit_rate_64": float(curves[label][min(64, len(curves[label]) - 1)])}
    title = f"reuse distances of {layer}"
    figures.reuse_histograms(hists, out / "reuse_histograms.png", title)
    figures.hit_rate_curves(curves, out / "hit_rate.png", f"LRU hit rate, {layer}")
    return stats


def run(args) -> int:
    """Compute and draw everything; print the files written."""
    layer, reuse_layer = parse_layer(args.layer), parse_layer(args.reuse_layer)
    hierarchy = Hierarchy.parse(args.hierarchy)
    kwargs = search_kwargs(args)
    unit = kwargs["table"].unit
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    reuse_stats = _reuse(reuse_layer, out)
    bar = StageProgress()
    result = search(layer, hierarchy, progress=bar, **kwargs)
    bar.close()
    best = result.best[0]
    bars = {f"best {k.upper()}": ev.breakdown for k, ev in result.per_dataflow.items()}
    figures.energy_bars(bars, out / "energy_breakdown.png", f"energy per level and tensor, {layer}, {args.table}", unit)
    marks = {f"best {k.upper()}": (ev.energy, ev.cycles) for k, ev in result.per_dataflow.items()}
    marks["search best"] = (best.energy, best.cycles)
    figures.pareto_scatter(result.points, pareto_front(result.points), marks, out / "mapping_pareto.png",
                           f"mapping search, {layer}\n{result.evaluated} mappings scored in {result.seconds:.1f} s", unit)
    summary = {"reuse_layer": str(reuse_layer), "reuse": reuse_stats, "hierarchy": vars(hierarchy),
               "table": kwargs["table"].name, "unit": unit, "search": result.summary()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for name in ("reuse_histograms.png", "hit_rate.png", "energy_breakdown.png", "mapping_pareto.png", "summary.json"):
        print(out / name)
    per = ", ".join(f"best {k.upper()} {ev.energy:.4g}" for k, ev in result.per_dataflow.items())
    print(f"best mapping: {best.mapping.describe()}  energy {best.energy:.4g} {unit}  ({per})")
    return 0
