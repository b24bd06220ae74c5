"""Content-addressed simulator builds: one folder per (Verilog, simulator, version, build options).

A build is keyed by :func:`build_key`, a hash of the generated Verilog's text,
the simulator and its version, cocotb's version (and, for Verilator, the folder
of the cocotb libraries its executable is linked against) and every build
argument. It lives in ``<cache>/<simulator>/<key>/`` (``obj/`` the simulator's
objects, ``build.log``, ``key.json`` what went into the key and how long the
build took), where ``<cache>`` is ``$QCONV_BUILD_CACHE`` or ``build/cache``.
So any process, on any engine of :mod:`sim.fanout`, that needs a design some
process already built (itself, a neighbour, or a machine sharing the folder)
reuses it, and a changed design, simulator or option builds afresh.

Two processes wanting the same build at once are serialised by a lock on the
folder (``fcntl.flock``, released by the kernel if its holder dies); the one
that builds writes ``key.json`` last, so a build cut short is seen as missing
and done again.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CACHE_ENV", "DEFAULT_CACHE", "cache_root", "build_key", "cached_build", "last_build_seconds"]

#: Environment variable naming the cache folder (e.g. one shared by every machine of a cluster).
CACHE_ENV = "QCONV_BUILD_CACHE"
#: The cache folder when :data:`CACHE_ENV` is unset, relative to the working directory.
DEFAULT_CACHE = Path("build") / "cache"

#: Written last in a build folder: its presence means the build is complete.
_DONE = "key.json"


def cache_root() -> Path:
    """The cache folder: ``$QCONV_BUILD_CACHE`` if set (and not empty), else ``build/cache``; absolute."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).resolve()


@functools.cache
def simulator_version(simulator: str) -> str:
    """The version of ``simulator`` as its package or its ``-V`` banner says (part of the key)."""
    if simulator == "verilator":
        return importlib.metadata.version("verilator")
    banner = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout
    return banner.splitlines()[0] if banner else "unknown"


def _key_material(verilog_text: str, simulator: str, build_args: list[str], options: dict) -> dict:
    import cocotb_tools.config

    material = {
        "verilog_sha256": hashlib.sha256(verilog_text.encode()).hexdigest(),
        "simulator": simulator,
        "simulator_version": simulator_version(simulator),
        "cocotb": importlib.metadata.version("cocotb"),
        "build_args": list(build_args),
        "options": options,
    }
    if simulator == "verilator":  # the executable is linked against cocotb's libraries by absolute path
        material["cocotb_libs"] = str(cocotb_tools.config.libs_dir)
    return material


def build_key(verilog_text: str, simulator: str, build_args: list[str], options: dict) -> str:
    """The key of a build: 24 hex digits of the SHA-256 of everything that makes the build what it is.

    Parameters
    ----------
    verilog_text : str
        The Verilog, as built.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    build_args : list of str
        The simulator's build arguments.
    options : dict
        Every other choice that changes the build (JSON-serialisable: top, timescale, waves,
        C++ optimisation, ...).
    """
    return _digest(_key_material(verilog_text, simulator, build_args, options))


def _digest(material: dict) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def last_build_seconds(simulator: str, root: Path | None = None) -> float | None:
    """How long the last ``simulator`` build into the cache took, or None before the first one."""
    record = (root or cache_root()) / simulator / "last_build.json"
    try:
        return json.loads(record.read_text())["seconds"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def cached_build(verilog_text: str, simulator: str, build_args: list[str], options: dict,
                 compile_into: Callable[[Path], None], *, what: str = "the design", root: Path | None = None) -> Path:
    """The folder of the build keyed by the arguments (:func:`build_key`), built first if it is not there.

    Parameters
    ----------
    verilog_text, simulator, build_args, options
        What the build is (the key).
    compile_into : callable
        Builds into the folder it is given: the simulator's objects into ``<folder>/obj``, its log in
        ``<folder>/build.log``. An exception leaves the folder without ``key.json``, so the
        next caller builds again.
    what : str
        The design's name in the Verilator build message.
    root : Path, optional
        The cache folder (default :func:`cache_root`).

    Returns
    -------
    Path
        ``<root>/<simulator>/<key>``.
    """
    root = root or cache_root()
    material = _key_material(verilog_text, simulator, build_args, options)
    key = _digest(material)
    folder = root / simulator / key
    if (folder / _DONE).exists():
        return folder
    with _locked(folder):
        if (folder / _DONE).exists():  # built by another process while this one waited
            return folder
        shutil.rmtree(folder / "obj", ignore_errors=True)  # what a build cut short left
        if simulator == "verilator":
            last = last_build_seconds(simulator, root)
            hint = f"the last Verilator build took {last:.0f} s" if last is not None else "the first build"
            print(f"building {what} for Verilator in {folder} ({hint})", file=sys.stderr, flush=True)
        start = time.monotonic()
        compile_into(folder)
        seconds = round(time.monotonic() - start, 1)
        if simulator == "verilator":
            print(f"built {what} for Verilator in {seconds} s", file=sys.stderr, flush=True)
        _write_atomically(root / simulator / "last_build.json", json.dumps({"seconds": seconds, "key": key}))
        _write_atomically(folder / _DONE, json.dumps({**material, "build_seconds": seconds}, indent=1))
    return folder


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)
