"""Standalone Verilog of the configured accelerator, with its configuration as JSON beside it."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from hw.accelerator import Accelerator
from model.config import AcceleratorConfig

__all__ = ["generate", "TOP_NAME"]

#: Verilog module name of the accelerator.
TOP_NAME = "qconv_top"


def generate(config: AcceleratorConfig, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<out_dir>/qconv_top.v`` and ``<out_dir>/qconv_top.json`` (``config.to_json()``).

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
