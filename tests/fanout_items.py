"""Functions the fan-out tests send to worker processes (importable there: workers start afresh)."""

import json
import os
from pathlib import Path


def square(x: int) -> int:
    """x * x, a deterministic piece of work."""
    return x * x


def die_on_first_tries(job: tuple) -> int:
    """``(x, folder, deaths)``: kill this worker process outright on the first ``deaths`` tries of ``x``
    (counted in a marker file per item), then return ``x * x``. Every try is recorded in the file."""
    x, folder, deaths = job
    marker = Path(folder) / f"item{x}"
    tries = len(marker.read_text()) if marker.exists() else 0
    marker.write_text("x" * (tries + 1))
    if tries < deaths:
        os._exit(3)  # no exception, no clean-up: the process is gone mid-item
    return x * x


def fail_for_odd(x: int) -> int:
    """Raise for odd ``x`` (an error of the work itself, not of the worker)."""
    if x % 2:
        raise ArithmeticError(f"odd item {x}")
    return x


def fake_synth(config, fpga, root, pnr_timeout, layer, reuse):
    """A stand-in for :func:`sim.fpga.flow.synth_config`: a design fits while rows x cols x bits < 64."""
    size = config.rows * config.cols * config.bits
    fits = size < 64
    return {"fpga": fpga, "device": "test part", "config": json.loads(config.to_json()), "fits": fits,
            "luts": 10 * size, "ffs": 5 * size, "brams": 1, "dsps": config.pes, "seconds": {"yosys": 0.0},
            "fmax_mhz": 100.0 / config.bits if fits else None, "harness": {"luts": 1, "ffs": 1},
            "limits": {} if fits else {"luts": {"used": 10 * size, "available": 640}}, "reused": False,
            "throughput": {"gmacs": config.pes / config.bits if fits else None, "utilisation": 1.0,
                           "layer": {"name": "small_3x3", "scaled": False}}}


def synth_fails_at_8_bits(config, fpga, root, pnr_timeout, layer, reuse):
    """:func:`fake_synth`, but the flow raises for 8-bit designs."""
    if config.bits == 8:
        raise RuntimeError("nextpnr crashed")
    return fake_synth(config, fpga, root, pnr_timeout, layer, reuse)


def build_once_slowly(job: tuple) -> str:
    """``(root, marker)``: :func:`sim.build_cache.cached_build` of one fixed design whose "compile" takes
    a second and appends a line to ``marker``; returns the build folder."""
    import time

    from sim.build_cache import cached_build

    root, marker = map(Path, job)

    def compile_into(folder: Path) -> None:
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(1.0)
        (folder / "obj").mkdir()

    return str(cached_build("module top; endmodule", "icarus", [], {"waves": False}, compile_into, root=root))
