"""The one executor of a host program, over any back end that can drive the accelerator's ports.

:func:`execute` runs the ops of :mod:`model.program` in order on a
:class:`HostPort` -- the cocotb back end (:mod:`sim.cocotb_port`, Icarus and
Verilator) or the Amaranth-simulator back end (:mod:`sim.amaranth_port`) --
and returns the raw words the program's reads return. It knows nothing of
layers, expected values or the model: the parent process prepares the
program and scores what comes back (:mod:`sim.jobs`).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Protocol

from model.program import HostRead, HostRun, HostWrite

__all__ = [
    "ErrorKind", "ExecutionError", "DoneTimeout", "UnknownOutput", "HostPort", "Program", "RawRun", "execute", "execute_all",
    "done_timeout",
]


def done_timeout(predicted_cycles: int) -> int:
    """Cycles a pass may take before the wait for ``done`` gives up: twice the prediction plus 1000."""
    return 2 * predicted_cycles + 1000


class ErrorKind(enum.StrEnum):
    """Why a program did not run to its end."""

    TIMEOUT = "timeout"    #: ``done`` did not rise in time
    X_VALUES = "x_values"  #: a read returned X or Z bits (four-state simulators)
    CRASH = "crash"        #: the simulator stopped (or the testbench raised) before the program ended


class ExecutionError(AssertionError):
    """A program stopped early; ``kind`` says why."""

    kind: ErrorKind


class DoneTimeout(ExecutionError):
    """The accelerator did not raise ``done`` within the allowed number of cycles."""

    kind = ErrorKind.TIMEOUT


class UnknownOutput(ExecutionError):
    """A word read back holds X or Z bits (an uninitialised or undriven value)."""

    kind = ErrorKind.X_VALUES


class HostPort(Protocol):
    """What a back end provides: one method per host op, each returning after its clock edges."""

    async def reset(self) -> None:
        """Reset the accelerator (clears the counters)."""

    async def write(self, op: HostWrite) -> None:
        """One buffer or parameter write."""

    async def read(self, op: HostRead) -> int:
        """One read; the word as a signed accumulator-wide integer (raises :class:`UnknownOutput`)."""

    async def run(self, op: HostRun, max_cycles: int) -> None:
        """Start a pass and wait for ``done`` and one more edge, so the counters hold the whole pass
        (raises :class:`DoneTimeout` after ``max_cycles``)."""

    def counters(self) -> dict[str, int]:
        """Every hardware counter by its name in :data:`model.contract.COUNTERS`."""


@dataclass(frozen=True)
class Program:
    """A host program and the longest any of its passes may take (:func:`done_timeout`)."""

    ops: tuple
    max_pass_cycles: int


@dataclass
class RawRun:
    """What a back end saw running one program: the words read (in op order), the counters after it,
    the wall time, and, when it stopped early, why (``error_kind``) and the message."""

    values: list[int] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error_kind: ErrorKind | None = None
    error: str | None = None


async def execute(port: HostPort, program: Program, run: RawRun) -> None:
    """Reset, then run every op of ``program`` on ``port``, filling ``run``.

    ``run.values`` gets the words read, in op order, and ``run.counters`` the counters'
    increase over the program; when the program stops early, ``run.error_kind`` and
    ``run.error`` say why (and ``run.counters`` holds the increase up to there).
    """
    await port.reset()
    before = port.counters()
    try:
        await _ops(port, program, run.values)
    except ExecutionError as err:
        run.error_kind, run.error = err.kind, str(err)
    after = port.counters()
    run.counters = {name: after[name] - before[name] for name in after}


async def execute_all(port: HostPort, programs, after_each=None) -> list[RawRun]:
    """:func:`execute` every program of ``programs`` in order, timing each; the runs, in order.

    ``after_each(runs)``, if given, is called with the runs so far after every program (the
    cocotb child saves them, so a simulator crash still leaves the runs before it).
    """
    runs: list[RawRun] = []
    for program in programs:
        start = time.perf_counter()
        run = RawRun()
        await execute(port, program, run)
        run.seconds = time.perf_counter() - start
        runs.append(run)
        if after_each is not None:
            after_each(runs)
    return runs


async def _ops(port: HostPort, program: Program, values: list) -> None:
    for op in program.ops:
        if isinstance(op, HostWrite):
            await port.write(op)
        elif isinstance(op, HostRead):
            values.append(await port.read(op))
        elif isinstance(op, HostRun):
            await port.run(op, program.max_pass_cycles)
        else:
            raise TypeError(f"not a host op: {op!r}")
