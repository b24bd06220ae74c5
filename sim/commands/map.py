"""``qconv map``: search tiles, loop orders, array unrolling and buffer cuts of conv layers on a hierarchy."""

from __future__ import annotations

import json
from pathlib import Path

from model.config import AcceleratorConfig
from model.energy import HIERARCHIES, LEVELS, TABLES, Hierarchy, parse_table
from model.layer import NAMED_LAYERS, parse_layer
from model.mapping import OBJECTIVES, search
from sim.cli import add_layer_arg, layer_from_args
from sim.fanout import add_fanout_args, fanout_from_args
from sim.map_sweep import sweep
from sim.progress import StageProgress


def add_search_args(p) -> None:
    """The arguments ``map`` and ``analyze`` share: hierarchy, table, widths, margin."""
    p.add_argument("--hierarchy", default="qconv-default",
                   help=f"one of {', '.join(HIERARCHIES)} or 'rows=8,cols=8,reg_words=1,rf_words=16,glb_words=65536"
                        f"[,glb_split=I/W/O]'")
    p.add_argument("--table", default="eyeriss",
                   help=f"energy table: {', '.join(TABLES)} or a FILE.json "
                        '{"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}')
    p.add_argument("--bits", type=int, default=8, help="operand bits")
    p.add_argument("--acc-bits", type=int, help="partial-sum bits (default: the accelerator's accumulator for --bits)")
    p.add_argument("--margin", type=float, default=0.1,
                   help="stage one keeps GLB tiles within this fraction of the least DRAM energy")


def search_kwargs(args) -> dict:
    """:func:`model.mapping.search` keywords from :func:`add_search_args` arguments."""
    acc_bits = args.acc_bits if args.acc_bits is not None else AcceleratorConfig(bits=args.bits).acc_bits
    return dict(table=parse_table(args.table), bits=args.bits, acc_bits=acc_bits, margin=args.margin)


def register(subparsers) -> None:
    """Add the ``map`` sub-command."""
    p = subparsers.add_parser("map", help="search tiles, loop orders and buffer cuts of a layer (energy, DRAM or cycles)")
    add_layer_arg(p, default="resnet18_conv4")
    add_search_args(p)
    p.add_argument("--objective", default="energy", choices=OBJECTIVES, help="what to minimise")
    p.add_argument("--top", type=int, default=5, help="best mappings to list")
    p.add_argument("--sweep", metavar="LAYERS",
                   help="map several layers in parallel instead: 'all', names separated by commas, or specs by semicolons")
    add_fanout_args(p)
    p.add_argument("--json", type=Path, help="also write the results (with words per level and tensor) to this file")
    p.set_defaults(func=run)


def _layer_list(text: str) -> list[str]:
    """Layers of ``--sweep``: 'all', names separated by commas, or specs separated by semicolons."""
    if text == "all":
        return list(NAMED_LAYERS)
    sep = ";" if "=" in text else ","
    return [x.strip() for x in text.split(sep) if x.strip()]


def _breakdown_line(breakdown: dict) -> str:
    per_level = {lv: sum(breakdown[lv].values()) for lv in ("MAC", *map(str, LEVELS))}
    return "  ".join(f"{lv} {v:.4g}" for lv, v in per_level.items())


def _print_one(s: dict, unit: str) -> None:
    print(f"layer {s['layer']}   objective {s['objective']}   "
          f"{s['evaluated']} mappings scored in {s['seconds']:.2f} s   energy in {unit}")
    print("pruned: " + ", ".join(f"{k} {v}" for k, v in s["pruning"].items()))
    print(f"{'mapping':<10} {'energy':>12} {'cycles':>10} {'DRAM words':>11}   per level")
    rows = [(f"best {k}", v) for k, v in s["per_dataflow"].items()] + [(f"best {b['name']}", b) for b in s["best"]]
    for label, ev in rows:
        print(f"{label:<10} {ev['energy']:12.4g} {ev['cycles']:10d} {ev['dram_words']:11d}   {_breakdown_line(ev['breakdown'])}")
    best = s["best"][0]
    print(f"best: {best['mapping']}")
    for level, per in best["words"].items():
        print(f"  {level:<4} " + "  ".join(f"{t} {v['reads']}r/{v['writes']}w" for t, v in per.items()))


def run(args) -> int:
    """Run the search (or a sweep) and print the best mappings with their words per level; exit status 1
    if a layer of the sweep failed (its row says why)."""
    hierarchy = Hierarchy.parse(args.hierarchy)
    kwargs = search_kwargs(args) | dict(objective=args.objective, top=args.top)
    unit = kwargs["table"].unit
    if args.sweep:
        names = _layer_list(args.sweep)
        layers = [parse_layer(n) for n in names]
        outcomes = sweep(layers, hierarchy, how=fanout_from_args(args), **kwargs)
        print(f"{'layer':<24} {'energy':>12} {'cycles':>10} {'DRAM words':>11} {'seconds':>8}   best mapping")
        for name, outcome in zip(names, outcomes):
            if not outcome.ok:
                print(f"{name:<24} FAILED: {outcome.error}")
                continue
            s, b = outcome.value, outcome.value["best"][0]
            print(f"{name:<24} {b['energy']:12.4g} {b['cycles']:10d} {b['dram_words']:11d} {s['seconds']:8.2f}   "
                  f"{b['mapping']}")
        summaries = [o.value for o in outcomes if o.ok]
        failed = len(outcomes) - len(summaries)
    else:
        if args.address or args.dask or args.workers is not None:
            raise ValueError("--workers, --dask and --address need --sweep (one layer runs in this process)")
        bar = StageProgress()
        result = search(layer_from_args(args), hierarchy, progress=bar, **kwargs)
        bar.close()
        summaries, failed = [result.summary()], 0
        _print_one(summaries[0], unit)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summaries, indent=2))
    return 1 if failed else 0
