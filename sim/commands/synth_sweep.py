"""``qconv synth-sweep``: resources and Fmax across bits {1,2,4,8,16} x arrays {2x2,4x4,8x8} x dataflows."""

from __future__ import annotations

from sim.fanout import add_fanout_args, fanout_from_args
from sim.fpga.parts import FPGAS
from sim.fpga.sweep import SWEEP_ARRAYS, SWEEP_BITS, describe, sweep


def _array(text: str) -> tuple[int, int]:
    rows, sep, cols = text.partition("x")
    if not sep:
        raise ValueError(f"array must be ROWSxCOLS such as 4x4, not {text!r}")
    return int(rows), int(cols)


def register(subparsers) -> None:
    """Add the ``synth-sweep`` sub-command."""
    p = subparsers.add_parser("synth-sweep", help="synthesise across bits, array sizes and dataflows; table and plots")
    p.add_argument("--fpga", choices=sorted(FPGAS), action="append", help="target family (repeatable; default ecp5)")
    p.add_argument("--bits", type=int, nargs="+", default=list(SWEEP_BITS), help="bit widths")
    p.add_argument("--arrays", type=_array, nargs="+", default=list(SWEEP_ARRAYS), help="array shapes, e.g. 2x2 4x4")
    p.add_argument("--dataflow", choices=("os", "ws"), action="append", help="dataflow (repeatable; default both)")
    p.add_argument("--pnr-timeout", type=float, help="seconds nextpnr may run per design")
    p.add_argument("--layer", help="layer of the GMAC/s figures (default: per design, as `qconv synth`)")
    add_fanout_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the sweep (progress: one step per finished chain), then print one line per design; the table
    and plots go to build/synth/. Exit status 1 if a chain failed."""
    results = sweep(tuple(args.fpga or ["ecp5"]), tuple(args.bits), tuple(args.arrays),
                    tuple(args.dataflow or ["os", "ws"]), pnr_timeout=args.pnr_timeout, layer=args.layer,
                    how=fanout_from_args(args))
    for result in results:
        print(describe(result))
    done = [r for r in results if not r.get("skipped") and not r.get("error")]
    failed = sum(bool(r.get("error")) for r in results)
    print(f"{len(done)} synthesised, {sum(r['fits'] for r in done)} fit, {failed} failed; "
          "table build/synth/sweep.md, plots build/synth/sweep_<fpga>.png")
    return 1 if failed else 0
