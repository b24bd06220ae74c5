#!/usr/bin/env python3
"""Verilator's ``OBJCACHE``: keep the runtime objects (``verilated*.o``) of one build for the next.

Verilator's ``verilated.mk`` puts ``$(OBJCACHE)`` before every compiler
command. :func:`sim.runner.compile_verilog` sets it to this file, so each
compile reaches :func:`main` as ``objcache.py c++ FLAGS... -c -o OUT SOURCE``.
A compile of a source in Verilator's own ``include`` folder (the runtime
library: ``verilated.cpp``, ``verilated_vpi.cpp``, ...) is the same for every
design built with the same flags, and is most of the compile time of a small
design (8 of 10 CPU-seconds for a 1x1 array); its object is stored under ``$QCONV_OBJCACHE/<key>.o`` and
copied from there on the next build. The key is a hash of the command line
(less the output name), the source's content, the compiler's path, size and
modification time, and Verilator's version (``$QCONV_OBJCACHE_SALT``); the
headers come from the same ``include`` folder and so are covered by the
version. Any other compile (the design's own C++, cocotb's ``verilator.cpp``,
which includes the design's header) runs unchanged.

Standard library only: ``make`` runs it with whichever ``python3`` is first on
``PATH``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Environment: the folder of cached objects, the runtime library's folder, and what else goes into a key.
CACHE_ENV, SOURCES_ENV, SALT_ENV = "QCONV_OBJCACHE", "QCONV_OBJCACHE_SOURCES", "QCONV_OBJCACHE_SALT"


def cache_key(command: list[str], source: Path, salt: str) -> str | None:
    """The key of a compile ``command`` of ``source``, or None when it is not a cacheable compile."""
    if "-c" not in command or "-o" not in command:
        return None
    out = command.index("-o") + 1
    compiler = shutil.which(command[0])
    if compiler is None or out >= len(command):
        return None
    stat = os.stat(compiler)
    digest = hashlib.sha256()
    for part in (salt, os.path.realpath(compiler), str(stat.st_size), str(stat.st_mtime_ns),
                 *command[:out], *command[out + 1:]):
        digest.update(part.encode() + b"\0")
    digest.update(source.read_bytes())
    return digest.hexdigest()[:32]


def _copy_atomically(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def main(argv: list[str]) -> int:
    """Run the compile ``argv`` (compiler first), through the cache when it builds a runtime object."""
    cache, sources, salt = os.environ.get(CACHE_ENV), os.environ.get(SOURCES_ENV), os.environ.get(SALT_ENV, "")
    source = Path(argv[-1]) if argv else None
    runtime = (cache and sources and source is not None and source.suffix == ".cpp"
               and source.resolve().parent == Path(sources).resolve())
    key = cache_key(argv, source, salt) if runtime else None
    if key is None:
        return subprocess.call(argv)
    output = Path(argv[argv.index("-o") + 1])
    stored = Path(cache) / f"{key}.o"
    if stored.exists():
        _copy_atomically(stored, output)
        print(f"objcache: {output} from the cache ({stored})", file=sys.stderr)
        return 0
    status = subprocess.call(argv)
    if status == 0:
        stored.parent.mkdir(parents=True, exist_ok=True)
        _copy_atomically(output, stored)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
