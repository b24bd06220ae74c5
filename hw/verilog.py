"""Standalone Verilog of the configured accelerator, with its configuration as JSON beside it."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from hw.accelerator import Accelerator
from model.config import AcceleratorConfig
from model.contract import SYSTEM_TOP_NAME, TOP_NAME

__all__ = ["generate"]


def generate(config: AcceleratorConfig, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<out_dir>/<TOP_NAME>.v`` and ``<out_dir>/<TOP_NAME>.json`` (``config.to_json()``).

    Returns
    -------
    (Path, Path)
        The Verilog file and the JSON file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path, json_path = out_dir / f"{TOP_NAME}.v", out_dir / f"{TOP_NAME}.json"
    v_path.write_text(verilog.convert(Accelerator(config), name=TOP_NAME))
    json_path.write_text(config.to_json() + "\n")
    return v_path, json_path


def generate_system(config: AcceleratorConfig, word_bytes: int, out_dir: Path) -> Path:
    """Write ``<out_dir>/<SYSTEM_TOP_NAME>.v``: the command-driven :class:`hw.system.System`."""
    from hw.system import System

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path = out_dir / f"{SYSTEM_TOP_NAME}.v"
    v_path.write_text(verilog.convert(System(config, word_bytes), name=SYSTEM_TOP_NAME))
    return v_path
