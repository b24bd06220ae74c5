"""``qconv synth``: synthesise and place-and-route the accelerator for an FPGA, report its size, Fmax and throughput."""

from __future__ import annotations

import json

from sim.cli import add_config_args, config_from_args
from sim.fpga.flow import Top, synth_config
from sim.fpga.parts import FPGAS
from sim.fpga.table import format_table
from sim.fpga.throughput import DEFAULT_LAYERS


def register(subparsers) -> None:
    """Add the ``synth`` sub-command."""
    p = subparsers.add_parser("synth", help="synthesise for an FPGA (YoWASP Yosys + nextpnr): LUTs, FFs, BRAMs, DSPs, "
                                            "Fmax, critical path, GMAC/s")
    p.add_argument("--fpga", choices=sorted(FPGAS), default="ice40", help="target part: ice40 (UP5K), ice40-hx8k, ecp5 (85F)")
    add_config_args(p)
    p.set_defaults(preset=None, func=run)
    p.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    p.add_argument("--top", default=Top.ACCELERATOR.value, choices=[t.value for t in Top],
                   help="the bare accelerator or the System around it (AXI4 DMAs, registers; default: %(default)s)")
    p.add_argument("--pnr-timeout", type=float, help="seconds nextpnr may run; stopped while routing, the "
                                                     "post-placement Fmax estimate is reported")
    p.add_argument("--layer", help="layer of the GMAC/s figure, named or 'C=..,H=..,...' (default: the first of "
                                   f"{', '.join(DEFAULT_LAYERS)} that fits the build, the last scaled down if none does)")


def run(args) -> int:
    """Synthesise one configuration; exit status 0 when done (fitting or not), 1 when a tool failed."""
    if args.preset is None:
        args.preset = FPGAS[args.fpga].default_preset
    config = config_from_args(args)
    top = Top(args.top)
    print(f"synthesising the {top} {config.rows}x{config.cols} {config.dataflow} bits={config.bits} "
          f"(preset {args.preset}) for {FPGAS[args.fpga].device} ...", flush=True)
    try:
        result = synth_config(config, args.fpga, seed=args.seed, pnr_timeout=args.pnr_timeout, layer=args.layer,
                              top=top)
    except RuntimeError as err:
        print(f"qconv synth: {err}")
        return 1
    print(format_table([result]))
    path, rate = result["critical_path"], result["throughput"]
    if path is not None:
        print(f"critical path: {path['delay_ns']:.2f} ns ({path['logic_ns']:.2f} logic, {path['routing_ns']:.2f} routing; "
              f"{path['logic_levels']} logic levels, {path['nets']} nets) from {path['from_signal']} to {path['to_signal']}")
    if rate["gmacs"] is not None:
        layer = rate["layer"]
        print(f"throughput: {rate['gmacs']:.4g} GMAC/s = {config.pes} PEs x {config.channels_per_word} MAC/cycle x "
              f"{result['fmax_mhz']} MHz x {rate['utilisation']:.2%} utilisation on {layer['name']}"
              + (f" scaled to the buffers: {layer['shape']}" if layer["scaled"] else ""))
    if not result["fits"]:
        print(f"does not fit {result['device']}: {json.dumps(result['limits'])}; {'; '.join(result['errors'])}")
    print(f"wrote {result['json']}")
    return 0
