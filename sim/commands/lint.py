"""``qconv lint``: generate the Verilog of a configuration and lint it with Verilator ``-Wall``."""

from __future__ import annotations

from pathlib import Path

from hw.verilog import generate
from sim.cli import add_config_args, config_from_args
from sim.lint import WAIVERS, lint


def register(subparsers) -> None:
    """Add the ``lint`` sub-command."""
    p = subparsers.add_parser("lint", help="verilator --lint-only -Wall on the generated Verilog (documented waivers)")
    add_config_args(p)
    p.add_argument("--out", type=Path, default=Path("build") / "lint", help="folder for the Verilog")
    p.set_defaults(func=run)


def run(args) -> int:
    """Lint one configuration; exit status 1 on any warning outside the waiver list."""
    config = config_from_args(args)
    verilog, _ = generate(config, args.out)
    report = lint(verilog)
    for rule, count in sorted(report.waived.items()):
        print(f"waived  {rule:<14} x{count:<4} {WAIVERS[rule]}")
    for failure in report.failures:
        print(f"FAIL    {failure}")
    print(f"{verilog}: {'clean' if report.ok else f'{len(report.failures)} warning(s) outside the waivers'} "
          f"(verilator --lint-only -Wall)")
    return 0 if report.ok else 1
