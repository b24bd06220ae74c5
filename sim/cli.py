"""The ``qconv`` command line: one entry point, one sub-command per module of :mod:`sim.commands`.

Each sub-command module defines ``register(subparsers)``, which adds its
parser and sets ``func`` (called with the parsed arguments, returning an exit
status). Bad input (``ValueError``/``TypeError`` from the checks) and a missing
simulator are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import sim.commands
from sim.simulators import SimulatorMissing
from model.config import DATAFLOWS, PRESETS, AcceleratorConfig
from model.layer import ConvLayer, parse_layer

__all__ = ["main", "add_config_args", "config_from_args", "add_layer_arg"]

# Config fields a command line may override, with their argparse types.
_CONFIG_FIELDS = ("rows", "cols", "bits", "rf_depth", "pack", "ifmap_depth", "weight_depth", "psum_depth",
                  "max_reduction")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--preset`` and one option per :class:`AcceleratorConfig` field."""
    group = parser.add_argument_group("accelerator configuration")
    group.add_argument("--preset", default="default", choices=sorted(PRESETS), help="starting configuration")
    group.add_argument("--dataflow", choices=DATAFLOWS, help="os (output-stationary) or ws (weight-stationary)")
    for name in _CONFIG_FIELDS:
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, help=f"override {name}")


def config_from_args(args: argparse.Namespace) -> AcceleratorConfig:
    """The configuration chosen by :func:`add_config_args` options (validated)."""
    overrides = {k: getattr(args, k) for k in (*_CONFIG_FIELDS, "dataflow") if getattr(args, k, None) is not None}
    return AcceleratorConfig.preset(args.preset, **overrides)


def add_layer_arg(parser: argparse.ArgumentParser, default: str = "small_3x3") -> None:
    """Add ``--layer``: a named layer or ``"N=1,C=8,H=16,W=16,M=16,R=3,S=3,stride=1,pad=1"``."""
    parser.add_argument("--layer", default=default, type=str, help="named layer or 'N=..,C=..,H=..,...'")


def layer_from_args(args: argparse.Namespace) -> ConvLayer:
    """The layer named or spelled out by ``--layer``."""
    return parse_layer(args.layer)


def build_parser() -> argparse.ArgumentParser:
    """The ``qconv`` parser with every sub-command of :mod:`sim.commands` registered."""
    parser = argparse.ArgumentParser(prog="qconv", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(sim.commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"sim.commands.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``qconv``; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, SimulatorMissing) as err:
        print(f"qconv {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
