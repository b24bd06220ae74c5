"""Build the DMA copy (:class:`hw.axi.copy.DmaCopy`) for a simulator, run cases on it against ``AxiRam``,
and judge them.

The parent writes the Verilog (``build/axi/``, git-ignored), builds it once per simulator and
content (:func:`sim.dram.run.build`), hands the cases and the initial memory to the cocotb child
(:mod:`sim.axi.copy_testbench`) and judges what comes back with :func:`check_copy`: the memory
after each case against a numpy copy of the runs, the counters against the byte count and
:func:`model.bursts.split_transfer`, the cycles against the no-stall bound, the error codes.
"""

from __future__ import annotations

import enum
import pickle
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from hw.axi.copy import DmaCopy
from model.bursts import split_transfer
from model.contract import DmaError
from model.dram import DramConfig

__all__ = ["PERIOD_NS", "COPY_TOP", "BUILD_ROOT", "FaultSide", "CopyCase", "CopyResult", "CopyMismatch",
           "no_stall_bound", "write_design", "write_verilog", "run_copy", "check_copy"]

#: Clock period of the co-simulation, ns.
PERIOD_NS = 10
#: Verilog module name of the copy design.
COPY_TOP = "axi_copy"
#: Where the Verilog and the simulator builds go.
BUILD_ROOT = Path("build") / "axi"
#: Cycles the copy needs beyond one per beat, at the least (see :func:`no_stall_bound`).
PIPELINE_CYCLES = 4


class FaultSide(enum.Enum):
    """Which half of the RAM answers SLVERR inside a case's fault window."""

    NONE = "none"
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class CopyCase:
    """One copy: ``count`` runs of ``run_bytes`` bytes from ``src`` (stride ``src_stride``) to ``dst``.

    ``pause`` is the probability that each of AR, R, AW, W and B stalls in a cycle (seeded by
    ``seed``); beats at addresses in ``fault_window`` fail on the ``fault`` side.
    """

    name: str
    src: int
    dst: int
    run_bytes: int
    count: int = 1
    src_stride: int = 0
    dst_stride: int = 0
    pause: float = 0.0
    seed: int = 0
    fault: FaultSide = FaultSide.NONE
    fault_window: tuple[int, int] | None = None
    beat_bytes: int = 8

    @property
    def beats(self) -> int:
        """Beats each engine moves: every run is a whole number of beats (its last one partial)."""
        return self.count * -(-self.run_bytes // self.beat_bytes)


@dataclass(frozen=True)
class CopyResult:
    """What the child saw: cycles from the start edge to ``done`` (None: it hung), the two
    :class:`~model.contract.DmaError` codes, the counters' increments and the whole memory after."""

    name: str
    cycles: int | None
    read_error: int | None
    write_error: int | None
    counts: dict
    memory: bytes


class CopyMismatch(AssertionError):
    """A copy's result differs from the reference (the message says where)."""


def no_stall_bound(case: CopyCase) -> int:
    """Cycles a copy takes at the least, whatever the memory: one R beat per cycle, and a pipeline.

    The first AR is offered two cycles after the start edge, its first beat can come the cycle after;
    the last beat is read no sooner than ``beats`` cycles later, reaches W no sooner than the cycle
    after, and its B response and ``done`` follow in later cycles: ``beats + PIPELINE_CYCLES``.
    """
    return case.beats + PIPELINE_CYCLES


def write_design(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` unless it holds it already; atomically, since pytest-xdist workers
    share the file (a reader sees the old file or the new one, never a part). Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}")
        partial.write_text(text)
        partial.replace(path)
    return path


def write_verilog(data_bits: int) -> Path:
    """Write the copy's Verilog for ``data_bits`` under :data:`BUILD_ROOT` (kept when unchanged); its path."""
    return write_design((BUILD_ROOT / f"{COPY_TOP}-{data_bits}.v").resolve(),
                        verilog.convert(DmaCopy(data_bits), name=COPY_TOP))


def run_copy(simulator: str, cases: list[CopyCase], image: np.ndarray, *, data_bits: int = 64) -> list[CopyResult]:
    """Run ``cases`` in order in one simulation of the copy, the RAM starting as ``image`` (uint8).

    Raises
    ------
    sim.simulators.SimulatorMissing
        If the simulator is not installed.
    sim.dram.run.ScenarioFailed
        If the simulation failed.
    """
    from sim.dram.run import build, run_cocotb

    built = build(simulator, DramConfig(), data_bits // 8, root=BUILD_ROOT, top=COPY_TOP,
                  sources=(write_verilog(data_bits),), parameters={}, cxx_opt="-O0")
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    np.asarray(image, dtype=np.uint8).tofile(run_dir / "image.bin")
    (run_dir / "cases.pkl").write_bytes(pickle.dumps(cases))
    results = run_dir / "results.pkl"
    run_cocotb(built, "sim.axi.copy_testbench",
               {"QCONV_AXI_CASES": str(run_dir / "cases.pkl"), "QCONV_AXI_IMAGE": str(run_dir / "image.bin"),
                "QCONV_AXI_RESULTS": str(results)}, [], run_dir)
    return pickle.loads(results.read_bytes())


def _copied(case: CopyCase, memory: np.ndarray) -> np.ndarray:
    out = memory.copy()
    for k in range(case.count):
        s, d = case.src + k * case.src_stride, case.dst + k * case.dst_stride
        out[d:d + case.run_bytes] = memory[s:s + case.run_bytes]
    return out


def _dst_mask(case: CopyCase, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    for k in range(case.count):
        d = case.dst + k * case.dst_stride
        mask[d:d + case.run_bytes] = True
    return mask


def check_copy(cases: list[CopyCase], results: list[CopyResult], image: np.ndarray) -> None:
    """Judge ``results`` of ``cases`` run from ``image``; raise :class:`CopyMismatch` at the first fault.

    A case without a fault must end with no error, leave the memory exactly as a numpy copy of its
    runs would, count ``count * run_bytes`` bytes each way and the bursts of
    :func:`model.bursts.split_transfer` on each side, and take no fewer cycles than
    :func:`no_stall_bound`. A case with a fault must end (no hang) with SLVERR on the faulty side and
    CANCELLED on the other, change no byte outside its destination, and leave every destination byte
    either as it was or as copied.
    """
    memory = np.asarray(image, dtype=np.uint8)
    for case, got in zip(cases, results):
        where = f"case {case.name}"
        if got.cycles is None:
            raise CopyMismatch(f"{where}: no done (hung)")
        after = np.frombuffer(got.memory, dtype=np.uint8)
        want = _copied(case, memory)
        errors = (DmaError(got.read_error), DmaError(got.write_error))
        if case.fault is FaultSide.NONE:
            if errors != (DmaError.NONE, DmaError.NONE):
                raise CopyMismatch(f"{where}: errors {errors}")
            if not np.array_equal(after, want):
                first = int(np.argmax(after != want))
                raise CopyMismatch(f"{where}: byte {first:#x} is {after[first]}, want {want[first]}")
            bb = case.beat_bytes
            counts = {"read_bytes": case.count * case.run_bytes, "write_bytes": case.count * case.run_bytes,
                      "read_bursts": len(split_transfer(case.src, case.run_bytes, case.count, case.src_stride, bb)),
                      "write_bursts": len(split_transfer(case.dst, case.run_bytes, case.count, case.dst_stride, bb))}
            if got.counts != counts:
                raise CopyMismatch(f"{where}: counters {got.counts}, want {counts}")
            if got.cycles < no_stall_bound(case):
                raise CopyMismatch(f"{where}: {got.cycles} cycles, below the no-stall bound {no_stall_bound(case)}")
        else:
            faulty = (DmaError.SLVERR, DmaError.CANCELLED) if case.fault is FaultSide.READ \
                else (DmaError.CANCELLED, DmaError.SLVERR)
            if errors != faulty:
                raise CopyMismatch(f"{where}: errors (read, write) {errors}, want {faulty}")
            outside = ~_dst_mask(case, memory.size)
            if not np.array_equal(after[outside], memory[outside]):
                raise CopyMismatch(f"{where}: bytes outside the destination changed")
            if not np.all((after == memory) | (after == want)):
                raise CopyMismatch(f"{where}: a destination byte is neither old nor copied")
        memory = after
    if len(results) != len(cases):
        raise CopyMismatch(f"{len(results)} results for {len(cases)} cases")
