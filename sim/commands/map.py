"""``qconv map``: search loop orders x tile sizes of conv layers on a memory hierarchy."""

from __future__ import annotations

import json
from pathlib import Path

from model.config import AcceleratorConfig
from model.energy import HIERARCHIES, LEVELS, TABLES, Hierarchy
from model.layer import NAMED_LAYERS, parse_layer
from model.mapping import OBJECTIVES, search, sweep
from sim.cli import add_layer_arg, layer_from_args


def register(subparsers) -> None:
    """Add the ``map`` sub-command."""
    p = subparsers.add_parser("map", help="search loop orders and tile sizes of a layer (energy, DRAM or cycles)")
    add_layer_arg(p, default="resnet18_conv4")
    p.add_argument("--hierarchy", default="qconv-default",
                   help=f"one of {', '.join(HIERARCHIES)} or 'rows=8,cols=8,rf_words=16,glb_words=65536'")
    p.add_argument("--table", default="eyeriss", choices=sorted(TABLES), help="energy table")
    p.add_argument("--bits", type=int, default=8, help="operand bits (the accumulator width is derived)")
    p.add_argument("--objective", default="energy", choices=OBJECTIVES, help="what to minimise")
    p.add_argument("--top", type=int, default=5, help="best mappings to list")
    p.add_argument("--keep", type=int, default=8, help="GLB-tile candidates carried to the second stage")
    p.add_argument("--sweep", metavar="LAYERS",
                   help="map several layers in parallel instead: 'all', names separated by commas, or specs by semicolons")
    p.add_argument("--address", help="Dask scheduler (dask://host:port) or Ray cluster (ray://host:port, ray:auto) "
                                     "for --sweep; default a local process pool")
    p.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    p.set_defaults(func=run)


def _layer_list(text: str) -> list[str]:
    """Layers of ``--sweep``: 'all', names separated by commas, or specs separated by semicolons."""
    if text == "all":
        return list(NAMED_LAYERS)
    sep = ";" if "=" in text else ","
    return [x.strip() for x in text.split(sep) if x.strip()]


def _breakdown_line(breakdown: dict) -> str:
    per_level = {lv: sum(breakdown[lv].values()) for lv in ("MAC", *LEVELS)}
    return "  ".join(f"{lv} {v:.4g}" for lv, v in per_level.items())


def _print_one(s: dict, unit: str) -> None:
    print(f"layer {s['layer']}   objective {s['objective']}   "
          f"{s['evaluated']} mappings scored in {s['seconds']:.1f} s   energy in {unit}")
    print(f"{'mapping':<10} {'energy':>12} {'cycles':>10} {'DRAM words':>11}   per level")
    rows = ([(f"hand {k}", v) for k, v in s["handwritten"].items()]
            + [(f"best {k}", v) for k, v in s["per_dataflow"].items()]
            + [(f"best #{i + 1}", b) for i, b in enumerate(s["best"])])
    for label, ev in rows:
        print(f"{label:<10} {ev['energy']:12.4g} {ev['cycles']:10d} {ev['dram_words']:11d}   {_breakdown_line(ev['breakdown'])}")
    best = s["best"][0]
    print(f"best ({best['name']}): {best['mapping']}")
    for level, per in best["breakdown"].items():
        print(f"  {level:<4} " + "  ".join(f"{t} {v:.4g}" for t, v in per.items()))


def run(args) -> int:
    """Run the search (or a sweep) and print the hand-written baselines beside the best mappings."""
    hierarchy = Hierarchy.parse(args.hierarchy)
    acc_bits = AcceleratorConfig(bits=args.bits).acc_bits
    kwargs = dict(table=args.table, bits=args.bits, acc_bits=acc_bits, objective=args.objective,
                  keep=args.keep, top=args.top)
    unit = TABLES[args.table].unit
    if args.sweep:
        names = _layer_list(args.sweep)
        layers = [parse_layer(n) for n in names]
        summaries = sweep(layers, hierarchy, address=args.address, **kwargs)
        print(f"{'layer':<24} {'best':>12} {'hand-os':>12} {'hand-ws':>12} {'cycles':>10}   best mapping")
        for name, s in zip(names, summaries):
            b, h = s["best"][0], s["handwritten"]
            print(f"{name:<24} {b['energy']:12.4g} {h['os']['energy']:12.4g} {h['ws']['energy']:12.4g} "
                  f"{b['cycles']:10d}   {b['mapping']}")
    else:
        if args.address:
            raise ValueError("--address needs --sweep (one layer runs locally)")
        result = search(layer_from_args(args), hierarchy, progress=True, **kwargs)
        summaries = [result.summary()]
        _print_one(summaries[0], unit)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summaries, indent=2))
    return 0
