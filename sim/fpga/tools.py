"""Running the YoWASP tools (Yosys, nextpnr compiled to WebAssembly) from any folder.

A YoWASP tool runs in a WASI sandbox that sees the host only through the
directories ``yowasp-runtime`` opens for it: every top-level directory at its
own name, ``.`` and ``..``, ``../..``, ... up to the root, and a fresh, empty
temporary directory mounted at ``/tmp``, which takes priority over any mount
(also over one given in ``YOWASP_MOUNT``). An *absolute* path under ``/tmp``
therefore reaches that empty directory, not the host's file; a path *relative*
to the working directory reaches the host's file wherever it is, ``/tmp``
included. So every tool runs with its working directory set to the folder that
holds its inputs and outputs, and is given file names relative to it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["run_tool", "tool_path"]


def tool_path(name: str) -> str:
    """Path of a YoWASP console script: beside this interpreter (a venv not on PATH) or on PATH.

    Raises
    ------
    RuntimeError
        If the tool is not installed.
    """
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `make setup` (it installs the pins of requirements.txt)")
    return found


def run_tool(cmd: list[str], cwd: Path, log: str, timeout: float | None = None) -> int | None:
    """Run YoWASP tool ``cmd[0]`` in folder ``cwd``, its output to ``cwd/log``.

    Parameters
    ----------
    cmd : list of str
        The tool's name and arguments; file arguments relative to ``cwd`` (see the module notes).
    cwd : Path
        Working directory of the tool: the folder of its inputs and outputs.
    log : str
        File name (in ``cwd``) for the tool's standard output and error.
    timeout : float, optional
        Seconds the tool may run.

    Returns
    -------
    int or None
        The tool's exit status, or None when it was stopped after ``timeout`` seconds.
    """
    with (Path(cwd) / log).open("w") as out:
        try:
            return subprocess.run([tool_path(cmd[0]), *cmd[1:]], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None
