"""``qconv check-design``: does a generated Verilog file and the JSON beside it match a configuration?"""

from __future__ import annotations

from pathlib import Path

from sim.cli import add_config_args, config_from_args
from sim.design_check import check_design


def register(subparsers) -> None:
    """Add the ``check-design`` sub-command."""
    p = subparsers.add_parser("check-design", help="check a qconv_top.v and its JSON against a configuration")
    p.add_argument("verilog", type=Path, help="the generated qconv_top.v")
    p.add_argument("--config-json", type=Path, help="its configuration JSON (default: beside it, suffix .json)")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Exit status 0 when they match; a mismatch is a ValueError, printed as one line (status 2)."""
    config = config_from_args(args)
    check_design(args.verilog, args.config_json or args.verilog.with_suffix(".json"), config)
    print(f"{args.verilog} matches {config.rows}x{config.cols} {config.dataflow} bits={config.bits}")
    return 0
