"""The System as a fault-injection target (:mod:`sim.faults`): build a (mutated) ``qconv_system.v``
with the Verilog DRAM, run a job list on it and score every job.

A job is ``(layer, seed)`` or ``(layer, seed, requant)``, with seeded operands (and requantization
parameters, :func:`model.data.random_requant`), as the accelerator's fault jobs are. Each job is one
simulation of ``qconv_system_dram`` (:mod:`sim.system`) at :data:`FAULT_DRAM`, its image's output
region filled with :data:`SENTINEL` first. It is scored like a host-port job
(:func:`sim.scoreboard.check`): the outputs bit for bit against the golden conv, and every counter
exactly against the model (the accelerator's, :func:`model.system_perf.accelerator_counters`, and
the System's, :func:`model.system_perf.predict_system`); and an output byte outside the output rows
(their padding) that is not the sentinel any more makes the outputs wrong, as does an end with
ERROR. A run that ends without ``irq`` is a ``timeout``, a counter with X bits ``x_values``,
anything else that stops the simulation a ``crash`` (:class:`sim.executor.ErrorKind`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from model.commands import build_image, output_rows, pad_value, read_output
from model.config import AcceleratorConfig
from model.contract import COUNTERS, SYSTEM_COUNTERS
from model.conv import conv2d_layer
from model.data import random_operands, random_requant
from model.dram import DramConfig
from model.system_perf import accelerator_counters, predict_system
from sim.dram import SOURCE, read_image, verilog_parameters
from sim.dram.run import ScenarioFailed, build, run_cocotb
from sim.executor import ErrorKind
from sim.scoreboard import check
from sim.system import WRAPPER_TOP, wrapper_verilog
from sim.system.axiram_run import status_problem
from sim.system.run import BUILD_ROOT

__all__ = ["FAULT_DRAM", "SENTINEL", "SystemBuild", "build_system", "run_system_jobs"]

#: The DRAM the System's fault jobs run against: a latency that shows every wait, a beat per cycle,
#: 64 KiB (every job's image fits; a small memory loads fast).
FAULT_DRAM = DramConfig(latency=12, bandwidth=8, size_bytes=1 << 16)
#: Every byte of a job's output region before the layer: a byte outside the output rows must keep it.
SENTINEL = 0xA5
#: Messages of :mod:`sim.system.testbench` that say why a run stopped.
_IRQ_TIMEOUT, _X_COUNTERS = "the System did not raise irq", "counters not 0/1"


@dataclass(frozen=True)
class SystemBuild:
    """A built System target: its configuration, simulator and the DRAM build around it (``objects``: its folder)."""

    config: AcceleratorConfig
    simulator: str
    objects: Path
    dram_build: object


def build_system(config: AcceleratorConfig, simulator: str, verilog: Path) -> SystemBuild:
    """Build ``verilog`` (a ``qconv_system.v`` of ``config``, e.g. multiplexed with faults) inside
    ``qconv_system_dram`` for ``simulator``, at :data:`FAULT_DRAM` (kept while unchanged)."""
    wrapper = verilog.parent / f"{WRAPPER_TOP}.v"
    wrapper.write_text(wrapper_verilog())
    beat = config.axi_beat_bytes
    built = build(simulator, FAULT_DRAM, beat, root=BUILD_ROOT, top=WRAPPER_TOP, sources=(SOURCE, verilog, wrapper),
                  parameters=verilog_parameters(FAULT_DRAM, beat), cxx_opt="-O0")
    return SystemBuild(config, simulator, built.directory, built)


def _stopped(layer, seed: int, kind: ErrorKind, error: str) -> dict:
    return {"layer": str(layer), "seed": seed, "outputs_match": False, "first_mismatch": None, "cycles": None,
            "counters": {}, "counter_mismatches": [], "error_kind": str(kind), "error": error, "pass": False}


def _run_one(built: SystemBuild, job: tuple, plusargs: tuple[str, ...]) -> dict:
    config = built.config
    layer, seed, *rest = job
    rng = np.random.default_rng(seed)
    x, w = random_operands(layer, config.bits, rng)
    rq = random_requant(layer, config.bits, rng, relu=seed % 2 == 1) if rest and rest[0] else None
    golden = conv2d_layer(x, w, layer, config.bits)
    golden = rq.apply(golden) if rq is not None else golden
    image = build_image(config, layer, x, w, rq)
    end = image.out_addr + image.out_bytes
    data = np.frombuffer(image.data, np.uint8).copy()
    data[image.out_addr:end] = SENTINEL
    image = replace(image, data=data.tobytes())
    model = accelerator_counters(config, layer, image) | predict_system(config, image, FAULT_DRAM).counters

    beat = config.axi_beat_bytes
    run_dir = built.dram_build.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    image_file, init, dump, result = (run_dir / name for name in ("image.bin", "init.hex", "dump.hex", "result.json"))
    image_file.write_bytes(image.data)
    env = {"QCONV_SYS_IMAGE": str(image_file), "QCONV_SYS_INIT": str(init), "QCONV_SYS_DUMP": str(dump),
           "QCONV_SYS_COMMANDS": str(len(image.commands)), "QCONV_SYS_BEAT": str(beat),
           "QCONV_SYS_MAX_CYCLES": str(2 * model["sys_cycles"] + 2000), "QCONV_SYS_RESULT": str(result)}
    try:
        run_cocotb(built.dram_build, "sim.system.testbench", env,
                   [f"+dram_init={init}", f"+dram_dump={dump}", *plusargs], run_dir)
    except ScenarioFailed as err:
        return _stopped(layer, seed, ErrorKind.CRASH, str(err))
    if not result.exists():
        log = (run_dir / "sim.log").read_text(errors="replace") if (run_dir / "sim.log").exists() else ""
        kind = (ErrorKind.TIMEOUT if _IRQ_TIMEOUT in log
                else ErrorKind.X_VALUES if _X_COUNTERS in log else ErrorKind.CRASH)
        what = {ErrorKind.TIMEOUT: f"{_IRQ_TIMEOUT} within {env['QCONV_SYS_MAX_CYCLES']} cycles",
                ErrorKind.X_VALUES: "a counter read X/Z bits"}.get(kind, "the simulation stopped")
        return _stopped(layer, seed, kind, f"{what}; see {run_dir / 'sim.log'}")
    out = json.loads(result.read_text())
    after = np.asarray(read_image(dump, beat), np.uint8).tobytes()[:len(image.data)]
    rtl = {name: out["counters"][name] for name in SYSTEM_COUNTERS + COUNTERS}
    record = check(layer, seed, golden, read_output(image, after), model, rtl)
    record |= {"error_kind": None, "error": None}
    rows = np.zeros(len(after), bool)
    for start, row in zip(*output_rows(image, golden, pad_value(rq))):
        rows[start:start + row.size] = True
    region = np.frombuffer(after, np.uint8)[image.out_addr:end]
    touched = np.flatnonzero((region != SENTINEL) & ~rows[image.out_addr:end])
    if len(touched):
        at = image.out_addr + int(touched[0])
        record |= {"pass": False, "outputs_match": False,
                   "first_mismatch": {"index": f"padding byte {at:#x}", "expected": SENTINEL, "actual": int(after[at])}}
    problem = status_problem(out["status"], out["error"])
    if problem is not None:
        record |= {"pass": False, "error": problem}
    return record


def run_system_jobs(built: SystemBuild, jobs: list[tuple], *, plusargs: tuple[str, ...] = ()) -> list[dict]:
    """Run and score every job of ``jobs`` on ``built``, one simulation each (module notes)."""
    return [_run_one(built, job, plusargs) for job in jobs]
