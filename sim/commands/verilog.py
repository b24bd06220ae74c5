"""``qconv verilog``: write the accelerator's Verilog and its configuration JSON."""

from __future__ import annotations

from pathlib import Path

from sim.cli import add_config_args, config_from_args


def register(subparsers) -> None:
    """Add the ``verilog`` sub-command."""
    p = subparsers.add_parser("verilog", help="write Verilog (qconv_top.v) and its configuration (qconv_top.json)")
    add_config_args(p)
    p.add_argument("--out", type=Path, default=Path("build/verilog"), help="output folder (default build/verilog)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Generate the Verilog of the configured accelerator."""
    from hw.verilog import generate

    v_path, json_path = generate(config_from_args(args), args.out)
    print(f"wrote {v_path} and {json_path}")
    return 0
