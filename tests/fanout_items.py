"""Functions the fan-out tests send to worker processes (importable there: workers start afresh)."""

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
