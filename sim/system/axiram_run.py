"""The whole System (``hw/system.py``) against cocotbext-axi's ``AxiRam``, with seeded pauses on every AXI channel.

``python -m sim.system.axiram_run [--simulator S] [--seeds N] [--pause P]`` runs every case of
:data:`CASES` for ``N`` seeds and prints one line per run and a summary (exit status 1 if any failed).

The parent (this module) builds each case's DRAM image (:func:`model.commands.build_image`), fills
the output region and a tail beyond the image with seeded canary bytes, builds ``qconv_system``
once per configuration and simulator (no wrapper: the ``AxiRam`` binds to its ``m_axi`` ports),
hands the jobs to the cocotb child (:mod:`sim.system.axiram_testbench`) and judges what comes back
with :func:`check_case`:

* the whole memory after the layer equals the canary image with the golden outputs
  (:func:`model.conv.conv2d_layer`, requantized when the case says) written into the output rows
  and nothing else: outputs bit-exact, nothing lost or duplicated, the rows' padding bytes, every
  input and the tail untouched;
* ``irq`` rose and STATUS is DONE without ERROR;
* every counter that does not depend on the memory's timing (DRAM bytes, AXI bursts, the
  accelerator's :data:`~model.contract.COUNTERS`) equals the model's, and ``sys_cycles`` and
  ``stall_cycles`` are no lower than :func:`model.system_perf.predict_system`'s at :func:`fastest_dram`.

Why :func:`fastest_dram` bounds the AxiRam from below: cocotbext-axi's sinks sample a handshake at
a clock edge and its sources drive VALID only from the next edge, so a read burst's first R beat is
taken two cycles after its AR handshake at the earliest, and a write burst's B response two cycles
after its last W beat; its sources move at most one beat per cycle. That is
``DramConfig(latency=2, bandwidth=beat_bytes)`` of :mod:`model.dram` (2 is the smallest latency it
accepts), whose rules are otherwise no stricter than the AxiRam: its queues of 16 never fill behind
the DMAs' 8 outstanding bursts, and the System never reads and writes at once. Without pauses the
AxiRam is exactly that DRAM (:data:`CASES` has a case that asserts so). The argument rests on the
System's sequential schedule: once loads and stores overlap, the AxiRam (separate read and write
data channels) can move an R and a W beat in one cycle where :mod:`model.dram`'s shared bus moves
one, so the bound and the no-pause equality must then come from a model of two buses.

A case with a fault answers SLVERR or DECERR to every beat of one window (the weights' first beat on
the read side, the outputs' first beat on the write side): the System must raise ``irq`` within
the bounded wait with STATUS DONE|ERROR and the :class:`~model.contract.DmaError` of that
response, change no byte outside the output rows, and leave every output byte old or right;
:func:`raise_for_status` is the driver's report of such a run.
"""

from __future__ import annotations

import argparse
import pickle
import re
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hw.verilog import generate_system
from model.commands import DramImage, build_image, output_rows, pad_value, read_output, word_bytes
from model.config import AcceleratorConfig
from model.contract import COUNTERS, SYSTEM_COUNTERS, SYSTEM_TOP_NAME, AxiResp, DmaError, StatusBit
from model.conv import conv2d_layer
from model.data import random_operands
from model.dram import DRAM_SIZE_ALIGN, DramConfig
from model.program import RequantParams
from model.system_perf import accelerator_counters, predict_system
from sim.axi.copy_run import FaultSide
from sim.simulators import SIMULATORS

__all__ = ["PERIOD_NS", "BUILD_ROOT", "TAIL_BYTES", "AxiRamCase", "AxiRamJob", "AxiRamResult", "PreparedCase",
           "AxiRamMismatch", "SystemStopped", "CASES", "DOUBLE_TILING", "WRAPPER_TOP", "fastest_dram",
           "wrapper_verilog", "case_config", "prepare_case", "run_jobs", "status_problem", "run_cases", "check_case",
           "raise_for_status", "main"]

#: Verilog top of the co-simulation (:func:`wrapper_verilog`).
WRAPPER_TOP = "qconv_system_axiram"
#: Clock period of the co-simulation, ns.
PERIOD_NS = 10
#: Where the Verilog and the simulator builds go (git-ignored).
BUILD_ROOT = Path("build") / "system-axiram"
#: Canary bytes after the image: a write past the image's end changes one of them.
TAIL_BYTES = 4096
#: Cycles the child waits for ``irq`` beyond the model's prediction, per predicted cycle and in all.
HANG_FACTOR, HANG_MARGIN = 20, 5000
#: Timing-independent counters: each must equal the model's whatever the pauses.
EXACT_SYSTEM_COUNTERS = ("dram_bytes_read", "dram_bytes_written", "axi_read_bursts", "axi_write_bursts")
#: Counters of waiting that a slower memory can only make larger: each no lower than the model's at
#: :func:`fastest_dram` (every cycle of FETCH, DECODE and LOAD is a stall; a pause lengthens a LOAD).
BOUNDED_SYSTEM_COUNTERS = ("sys_cycles", "stall_cycles")
#: Small buffers (ifmap 64 words, weights 16 lines, psum 32 lines on a 2x2 array) that force every kind of tile.
TILING = dict(rows=2, cols=2, ifmap_depth=64, weight_depth=16, psum_depth=32)
#: Twice :data:`TILING`'s buffers: the System double-buffers them (:func:`model.commands.system_plan`),
#: each half :data:`TILING`'s, so loads and stores run beside the passes (tests/tiled_layers.py's
#: ``SYSTEM_TILING``).
DOUBLE_TILING = dict(TILING, ifmap_depth=128, weight_depth=32, psum_depth=64)
#: The layers of the cases, each forcing one kind of tile on :data:`TILING` (as tests/tiled_layers.py).
LAYERS = {
    "row-bands-stride2-pad1": dict(C=1, H=12, W=6, M=2, R=3, S=3, stride=2, pad=1),   # output rows with halo
    "column-bands": dict(C=1, H=3, W=30, M=2, R=3, S=3, pad=1),                        # stores start mid-beat
    "channels": dict(C=4, H=4, W=4, M=3, R=3, S=3, pad=1),                             # channels accumulated
    "filters": dict(C=1, H=4, W=4, M=5, R=3, S=3),
    "images": dict(N=3, C=1, H=5, W=5, M=2, R=3, S=3),
    "strided-1x1": dict(C=5, H=11, W=13, M=3, R=1, S=1, stride=2),                    # LOADs take every other row
}


@dataclass(frozen=True)
class AxiRamCase:
    """One layer on the System with an ``AxiRam``.

    ``bits``: the build's operand bits; ``single``: the build with :data:`TILING`'s buffers, where
    the System runs the tiles one after another (else :data:`DOUBLE_TILING`'s, double-buffered);
    ``layer``: a key of :data:`LAYERS`; ``requant``: outputs
    requantized to 8 bits (else raw accumulators); ``pause``: probability that each of AR, R, AW,
    W and B stalls in a cycle; ``seed``: the operands' and the pauses' seed; ``fault``: the side
    whose window answers ``fault_resp``.
    """

    name: str
    bits: int
    layer: str
    requant: bool = False
    pause: float = 0.3
    seed: int = 1
    fault: FaultSide = FaultSide.NONE
    fault_resp: AxiResp = AxiResp.SLVERR
    single: bool = False

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {', '.join(LAYERS)}, not {self.layer!r}")
        if not 0.0 <= self.pause < 1.0:
            raise ValueError(f"pause must be in [0, 1), not {self.pause!r}")
        if self.fault_resp not in (AxiResp.SLVERR, AxiResp.DECERR):
            raise ValueError(f"fault_resp must be SLVERR or DECERR, not {self.fault_resp!r}")


@dataclass(frozen=True)
class AxiRamJob:
    """What the child runs: the memory, the command list, the pauses and the error windows."""

    name: str
    memory: bytes
    cmd_addr: int
    cmd_count: int
    pause: float
    seed: int
    read_window: tuple[int, int] | None
    write_window: tuple[int, int] | None
    fault_resp: int
    max_cycles: int


@dataclass(frozen=True)
class AxiRamResult:
    """What the child saw: whether ``irq`` rose (and after how many cycles from the START write),
    STATUS, ERROR, every counter's increment over the layer (at ``irq``) and the whole memory after
    it; ``late``: each counter that still moved after ``irq``, by how much, until all stopped."""

    name: str
    irq: bool
    cycles: int | None
    status: int
    error: int
    counters: dict
    memory: bytes
    late: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedCase:
    """A case made concrete: its build, layer, image, expected memory and the model's counters."""

    case: AxiRamCase
    config: AcceleratorConfig
    image: DramImage
    golden: np.ndarray
    expected: np.ndarray
    rows: np.ndarray = field(repr=False)
    model: dict = field(repr=False)
    job: AxiRamJob = field(repr=False)


class AxiRamMismatch(AssertionError):
    """A run's result differs from the reference (the message says where)."""


class SystemStopped(RuntimeError):
    """The System ended a layer with an error status (the message names the DMA error)."""


#: The default cases: every kind of tile, 8-bit requantized and 16-bit raw outputs, pauses on every
#: channel, one run without pauses (exactly :func:`fastest_dram`), and read and write error responses,
#: each followed by a clean layer (in the same simulation: the System recovers).
CASES: tuple[AxiRamCase, ...] = (
    AxiRamCase("8bit-row-bands-stride2-pad1", 8, "row-bands-stride2-pad1", seed=1),
    AxiRamCase("8bit-channels-requant", 8, "channels", requant=True, seed=2),
    AxiRamCase("8bit-images-requant-no-pauses", 8, "images", requant=True, pause=0.0, seed=4),
    AxiRamCase("8bit-weights-slverr", 8, "filters", pause=0.2, seed=5, fault=FaultSide.READ),
    AxiRamCase("8bit-filters-after-read-error", 8, "filters", pause=0.5, seed=6),
    AxiRamCase("8bit-outputs-decerr", 8, "images", requant=True, pause=0.2, seed=7, fault=FaultSide.WRITE,
               fault_resp=AxiResp.DECERR),
    AxiRamCase("8bit-column-bands-requant-after-write-error", 8, "column-bands", requant=True, seed=3),
    AxiRamCase("16bit-filters", 16, "filters", seed=8),
    AxiRamCase("16bit-weights-decerr", 16, "channels", pause=0.2, seed=11, fault=FaultSide.READ,
               fault_resp=AxiResp.DECERR),
    AxiRamCase("16bit-row-bands-stride2-pad1-after-read-error", 16, "row-bands-stride2-pad1", seed=9),
    AxiRamCase("16bit-outputs-slverr", 16, "row-bands-stride2-pad1", pause=0.2, seed=12, fault=FaultSide.WRITE),
    AxiRamCase("16bit-images-after-write-error", 16, "images", pause=0.4, seed=13),
    AxiRamCase("16bit-channels", 16, "channels", seed=10),
    AxiRamCase("8bit-strided-1x1-requant", 8, "strided-1x1", requant=True, seed=17),
    AxiRamCase("16bit-strided-1x1", 16, "strided-1x1", seed=18),
    AxiRamCase("8bit-channels-single-buffered", 8, "channels", requant=True, seed=14, single=True),
    AxiRamCase("8bit-outputs-slverr-single-buffered", 8, "column-bands", pause=0.2, seed=15, single=True,
               fault=FaultSide.WRITE),
    AxiRamCase("8bit-row-bands-single-buffered-after-write-error", 8, "row-bands-stride2-pad1", seed=16, single=True),
)


def case_config(bits: int, single: bool = False) -> AcceleratorConfig:
    """The build of ``bits``-bit operands with :data:`DOUBLE_TILING`'s small buffers (``single``: :data:`TILING`'s)."""
    return AcceleratorConfig(**(TILING if single else DOUBLE_TILING), bits=bits)


def fastest_dram(config: AcceleratorConfig, size_bytes: int) -> DramConfig:
    """The fastest :class:`~model.dram.DramConfig` the AxiRam can be (module notes): latency 2, a beat a cycle."""
    return DramConfig(latency=2, bandwidth=config.axi_beat_bytes, size_bytes=size_bytes)


def _requant(layer, seed: int) -> RequantParams:
    rng = np.random.default_rng(seed)
    return RequantParams(bias=rng.integers(-300, 300, layer.M), multiplier=rng.integers(1 << 29, 1 << 31, layer.M),
                         shift=rng.integers(-9, -2, layer.M), zero_point=-1, out_bits=8, relu=True)


def _row_bytes(image: DramImage) -> int:
    """Bytes of an output row (before its padding): ``F`` pixels of a filter group's ``out_block`` lanes."""
    return int(image.out_format) * image.out_shape[3] * image.out_block


def prepare_case(case: AxiRamCase) -> PreparedCase:
    """Build ``case``'s image, canaries, expected memory, the model's counters and the child's job."""
    from model.layer import ConvLayer

    config = case_config(case.bits, case.single)
    layer = ConvLayer(**LAYERS[case.layer])
    x, w = random_operands(layer, config.bits, np.random.default_rng(case.seed))
    rq = _requant(layer, case.seed) if case.requant else None
    golden = conv2d_layer(x, w, layer, config.bits)
    golden = rq.apply(golden) if rq is not None else golden
    image = build_image(config, layer, x, w, rq)
    size = -(-(len(image.data) + TAIL_BYTES) // DRAM_SIZE_ALIGN) * DRAM_SIZE_ALIGN
    memory = np.zeros(size, np.uint8)
    memory[:len(image.data)] = np.frombuffer(image.data, np.uint8)
    canary = np.random.default_rng(case.seed + 1000).integers(0, 256, size - image.out_addr, dtype=np.uint8)
    memory[image.out_addr:] = canary
    expected = memory.copy()
    rows, values = output_rows(image, golden, pad_value(rq))
    for start, row in zip(rows, values):
        expected[start:start + row.size] = row
    beat = config.axi_beat_bytes
    model = (predict_system(config, image, fastest_dram(config, size)).counters
             | accelerator_counters(config, layer, image))
    read_window = (image.weight_addr, image.weight_addr + beat) if case.fault is FaultSide.READ else None
    write_window = (image.out_addr, image.out_addr + beat) if case.fault is FaultSide.WRITE else None
    job = AxiRamJob(case.name, memory.tobytes(), image.cmd_addr, len(image.commands), case.pause, case.seed,
                    read_window, write_window, int(case.fault_resp),
                    HANG_FACTOR * model["sys_cycles"] + HANG_MARGIN)
    return PreparedCase(case, config, image, golden, expected, rows, model, job)


def wrapper_verilog(system_verilog: str) -> str:
    """``qconv_system_axiram``: ``qconv_system`` with the same ports, RREADY read as 1 only when it is 1.

    On Icarus, a combinational block that reads only registers still at their initial values is not
    run before its inputs first change, so the System's RREADY is X while reset is held (it depends
    on the command FSM's state, in ``always @*``, which first changes after reset). RREADY is X while
    RVALID is low, so no handshake is at stake; but cocotbext-axi's R source samples READY before
    VALID and raises on an X. The wrapper gives the AxiRam ``rready === 1'b1``, the reading the
    Verilog DRAM (``sim/dram/qconv_dram.v``) makes of it (an X handshake is none). Every other port
    is passed through unchanged, so an X anywhere else still reaches the models.
    """
    body = re.search(rf"^module {SYSTEM_TOP_NAME}\(.*?^endmodule", system_verilog, re.M | re.S)
    if body is None:
        raise ValueError(f"no module {SYSTEM_TOP_NAME} in the System's Verilog")
    ports = re.findall(r"^\s*(input|output) (\[\d+:0\] )?(\w+);$", body.group(0), re.M)
    gated = "m_axi__read__rready"
    lines = [f"// generated by sim/system/axiram_run.py: {SYSTEM_TOP_NAME} with {gated} read as === 1",
             f"module {WRAPPER_TOP}(" + ", ".join(name for _, _, name in ports) + ");"]
    lines += [f"  {direction} wire {width}{name};" for direction, width, name in ports]
    lines += [f"  wire system_rready;", f"  assign {gated} = system_rready === 1'b1;",
              f"  {SYSTEM_TOP_NAME} system ("]
    lines.append(",\n".join(f"    .{name}({'system_rready' if name == gated else name})" for _, _, name in ports))
    lines += ["  );", "endmodule", ""]
    return "\n".join(lines)


def _build(simulator: str, config: AcceleratorConfig):
    """Write ``qconv_system.v`` of ``config`` and its wrapper; build them for ``simulator`` (kept while unchanged)."""
    from sim.axi.copy_run import write_design
    from sim.dram.run import build

    src = (BUILD_ROOT / "src" / uuid.uuid5(uuid.NAMESPACE_OID, config.to_json()).hex[:12]).resolve()
    system_v = generate_system(config, word_bytes(config), src)
    wrapper_v = write_design(src / f"{WRAPPER_TOP}.v", wrapper_verilog(system_v.read_text()))
    return build(simulator, DramConfig(), config.axi_beat_bytes, root=BUILD_ROOT, top=WRAPPER_TOP,
                 sources=(system_v, wrapper_v), parameters={}, cxx_opt="-O0")


def run_jobs(built, jobs: list[AxiRamJob], plusargs: tuple[str, ...] = ()) -> list[AxiRamResult]:
    """Run ``jobs`` in order in one simulation of ``built`` (a build of ``qconv_system``).

    A job whose ``irq`` never rose ends the simulation: the results stop after it.

    Raises
    ------
    sim.dram.run.ScenarioFailed
        If the simulation failed (the message names its log).
    """
    from sim.dram.run import ScenarioFailed, run_cocotb

    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    (run_dir / "jobs.pkl").write_bytes(pickle.dumps(jobs))
    results = run_dir / "results.pkl"
    run_cocotb(built, "sim.system.axiram_testbench",
               {"QCONV_AXIRAM_JOBS": str(run_dir / "jobs.pkl"), "QCONV_AXIRAM_RESULTS": str(results)},
               list(plusargs), run_dir)
    if not results.exists():
        raise ScenarioFailed(f"the {built.simulator} simulation wrote no results; see {run_dir / 'sim.log'}")
    return pickle.loads(results.read_bytes())


def run_cases(simulator: str,
              cases: tuple[AxiRamCase, ...] | list[AxiRamCase]) -> list[tuple[PreparedCase, AxiRamResult | None]]:
    """Prepare ``cases``, run those of one configuration in one simulation each, in order.

    Returns each prepared case with its result (None: an earlier job of its simulation hung).

    Raises
    ------
    sim.simulators.SimulatorMissing
        If the simulator is not installed.
    sim.dram.run.ScenarioFailed
        If a simulation failed.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    prepared = [prepare_case(c) for c in cases]
    results: dict[str, AxiRamResult] = {}
    for key in sorted({(p.case.bits, p.case.single) for p in prepared}):
        group = [p for p in prepared if (p.case.bits, p.case.single) == key]
        built = _build(simulator, group[0].config)
        for result in run_jobs(built, [p.job for p in group]):
            results[result.name] = result
    return [(p, results.get(p.case.name)) for p in prepared]


#: What each :class:`~model.contract.DmaError` means, for the driver's message.
_WHY = {
    DmaError.NONE: "an error flagged without a code",
    DmaError.SLVERR: "a DMA saw a SLVERR response from the memory",
    DmaError.DECERR: "a DMA saw a DECERR response (no slave at that address)",
    DmaError.CANCELLED: "a DMA command was cancelled",
    DmaError.BAD_COMMAND: "the System fetched a command record with an unknown opcode",
}


def status_problem(status: int, error: int) -> str | None:
    """What is wrong with how a layer ended (the STATUS and ERROR registers), or None: DONE without ERROR.

    The message names the :class:`~model.contract.DmaError` of ERROR."""
    if not status & (1 << StatusBit.DONE):
        return f"the layer ended without DONE (STATUS {status:#x})"
    if status & (1 << StatusBit.ERROR) or error != DmaError.NONE:
        try:
            code = DmaError(error)
        except ValueError:
            return f"the System stopped the layer with an unknown ERROR code {error} (STATUS {status:#x})"
        return f"the System stopped the layer with ERROR {code.name} (STATUS {status:#x}): {_WHY[code]}"
    return None


def raise_for_status(result: AxiRamResult) -> None:
    """The driver's verdict on a run: return if the layer ended well, else raise.

    Raises
    ------
    SystemStopped
        If ``irq`` never rose (the bounded wait ran out), or the System ended without DONE or with
        ERROR (:func:`status_problem`); the message names the :class:`~model.contract.DmaError`.
    """
    if not result.irq:
        raise SystemStopped(f"{result.name}: the System did not raise irq within the bounded wait "
                            f"(STATUS {result.status:#x})")
    problem = status_problem(result.status, result.error)
    if problem is not None:
        raise SystemStopped(f"{result.name}: {problem}")


def _first_difference(p: PreparedCase, after: np.ndarray) -> str:
    at = int(np.argmax(after != p.expected))
    image = p.image
    if at < image.out_addr:
        where = "below the output region (commands, inputs, weights)"
    elif at >= len(image.data):
        where = "in the tail after the image"
    else:
        offset = (at - image.out_addr) % image.out_pitch
        row = (at - image.out_addr) // image.out_pitch
        width = _row_bytes(image)
        where = (f"in output row {row}, byte {offset}" + (" (the row's padding)" if offset >= width else "")
                 if row < len(p.rows) else "in the output region's padding after the last row")
    return f"byte {at:#x} {where} is {after[at]:#04x}, want {p.expected[at]:#04x}"


def check_case(p: PreparedCase, result: AxiRamResult | None) -> None:
    """Judge one run (module notes); raise :class:`AxiRamMismatch` at the first fault."""
    where = f"case {p.case.name}"
    if result is None:
        raise AxiRamMismatch(f"{where}: not run (an earlier job of its simulation hung)")
    if not result.irq:
        raise AxiRamMismatch(f"{where}: irq never rose within {p.job.max_cycles} cycles (hung)")
    after = np.frombuffer(result.memory, np.uint8)
    if p.case.fault is FaultSide.NONE:
        try:
            raise_for_status(result)
        except SystemStopped as err:
            raise AxiRamMismatch(str(err)) from None
        got = read_output(p.image, result.memory)
        if not np.array_equal(got, p.golden):
            first = tuple(int(i) for i in np.argwhere(got != p.golden)[0])
            raise AxiRamMismatch(f"{where}: output {first} is {got[first]}, want {p.golden[first]}")
        if not np.array_equal(after, p.expected):
            raise AxiRamMismatch(f"{where}: {_first_difference(p, after)}")
        if result.late:
            raise AxiRamMismatch(f"{where}: counters still moved after irq (the layer had not ended): {result.late}")
        exact = EXACT_SYSTEM_COUNTERS + COUNTERS
        got_counts = {n: result.counters[n] for n in exact}
        want_counts = {n: p.model[n] for n in exact}
        if got_counts != want_counts:
            wrong = {n: (got_counts[n], want_counts[n]) for n in exact if got_counts[n] != want_counts[n]}
            raise AxiRamMismatch(f"{where}: counters (rtl, model) {wrong}")
        for name in BOUNDED_SYSTEM_COUNTERS:
            if result.counters[name] < p.model[name]:
                raise AxiRamMismatch(f"{where}: {name} {result.counters[name]} below the model's "
                                     f"{p.model[name]} for the fastest DRAM the AxiRam can be")
        if p.case.pause == 0.0:
            timed = {n: (result.counters[n], p.model[n]) for n in SYSTEM_COUNTERS if result.counters[n] != p.model[n]}
            if timed:
                raise AxiRamMismatch(f"{where}: without pauses, counters (rtl, model at latency 2) differ: {timed}")
        return
    want = DmaError.SLVERR if p.case.fault_resp is AxiResp.SLVERR else DmaError.DECERR
    done_error = (1 << StatusBit.DONE) | (1 << StatusBit.ERROR)
    if result.status & done_error != done_error or result.error != want:
        raise AxiRamMismatch(f"{where}: STATUS {result.status:#x}, ERROR {result.error}, want DONE|ERROR and "
                             f"{want.name}")
    try:
        raise_for_status(result)
    except SystemStopped as err:
        if want.name not in str(err):
            raise AxiRamMismatch(f"{where}: the report does not name {want.name}: {err}") from None
    else:
        raise AxiRamMismatch(f"{where}: raise_for_status accepted a run that ended with an error")
    outside = np.ones(after.size, bool)
    width = _row_bytes(p.image)
    for start in p.rows:
        outside[start:start + width] = False
    if not np.array_equal(after[outside], p.expected[outside]):
        raise AxiRamMismatch(f"{where}: {_first_difference(p, np.where(outside, after, p.expected))}")
    before = p.expected.copy()
    before[~outside] = np.frombuffer(p.job.memory, np.uint8)[~outside]
    if not np.all((after == before) | (after == p.expected)):
        raise AxiRamMismatch(f"{where}: an output byte is neither its canary nor its golden value")


def main(argv: list[str] | None = None) -> int:
    """Run :data:`CASES` for several seeds (each case's seed shifted by 100 per round) and print the verdicts."""
    parser = argparse.ArgumentParser(prog="python -m sim.system.axiram_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulator", choices=SIMULATORS, default="icarus")
    parser.add_argument("--seeds", type=int, default=3, help="rounds of every case, each with new seeds (default 3)")
    parser.add_argument("--pause", type=float, default=None,
                        help="override every paused case's pause probability (0 <= P < 1)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    cases = []
    for round_ in range(args.seeds):
        for c in CASES:
            pause = c.pause if args.pause is None or c.pause == 0.0 else args.pause
            cases.append(replace(c, name=f"{c.name}@{c.seed + 100 * round_}", seed=c.seed + 100 * round_, pause=pause))
    start = time.monotonic()
    failed = 0
    for p, result in run_cases(args.simulator, cases):
        try:
            check_case(p, result)
            verdict = "ok"
        except AxiRamMismatch as err:
            failed += 1
            verdict = f"FAIL {err}"
        cycles = result.counters["sys_cycles"] if result is not None and result.counters else None
        print(f"{p.case.name:<44} sys_cycles {cycles!s:>6} (model at latency 2: {p.model['sys_cycles']:>5})  {verdict}")
    print(f"{len(cases) - failed} of {len(cases)} runs passed on {args.simulator} in {time.monotonic() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    # run the module's own main, so the pickled jobs name sim.system.axiram_run's classes (not __main__'s)
    from sim.system.axiram_run import main as _main

    sys.exit(_main())
