"""Build the accelerator once per configuration and simulator, then co-simulate many layers on it.

A build lives in ``build/sim/<simulator>/<config key>/``: the generated
Verilog with its configuration JSON beside it, and the simulator's objects.
:func:`run` hands the testbench a list of jobs (layer + seed) in one
simulation, so the design is built and started once for many layers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from hw.verilog import generate
from model.config import AcceleratorConfig
from model.layer import ConvLayer
from sim.design_check import check_design
from sim.simulators import SIMULATORS, prepare

__all__ = ["Build", "build", "compile_verilog", "run", "run_module", "TOPLEVEL", "BUILD_ROOT"]

#: Top-level module name of the generated Verilog.
TOPLEVEL = "qconv_top"
#: Where builds go (git-ignored).
BUILD_ROOT = Path("build") / "sim"

logging.getLogger("cocotb").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Build:
    """One built design: its configuration, simulator, folder and Verilog."""

    config: AcceleratorConfig
    simulator: str
    directory: Path
    verilog: Path
    config_json: Path
    waves: bool


def _key(config: AcceleratorConfig, waves: bool) -> str:
    digest = hashlib.sha256(config.to_json().encode()).hexdigest()[:10]
    return f"{config.dataflow}-b{config.bits}-{config.rows}x{config.cols}-rf{config.rf_depth}-{digest}{'-waves' if waves else ''}"


def _runner(simulator: str):
    prepare(simulator)
    from cocotb_tools.runner import get_runner

    return get_runner(simulator)


def _build_args(simulator: str) -> list[str]:
    """Verilator: Amaranth's Verilog trips its WIDTHEXPAND/CASEINCOMPLETE warnings, fatal by default;
    and cocotb makes every signal VPI-public (``--public-flat-rw``), which blocks Verilator's
    optimisations: only the top-level ports are made public (the testbench touches nothing else),
    which builds four times faster and simulates faster."""
    if simulator != "verilator":
        return []
    return ["-Wno-fatal", "-O3", "--no-public-flat-rw", "--public-depth", "1"]


def _make_flags(cxx_opt: str | None) -> str:
    """``MAKEFLAGS`` for a Verilator model compiled at ``cxx_opt`` (None: Verilator's own -Os)."""
    flags = os.environ.get("MAKEFLAGS", "")
    return flags if cxx_opt is None else f"{flags} OPT_FAST={cxx_opt} OPT_SLOW={cxx_opt}".strip()


def compile_verilog(config: AcceleratorConfig, simulator: str, directory: Path, verilog: Path, config_json: Path,
                    *, waves: bool = False, cxx_opt: str | None = None) -> Build:
    """Build ``verilog`` (the design of ``config``, with ``config_json`` beside it) for ``simulator`` in
    ``directory``; skipped when that exact Verilog is already built there with the same options.

    ``cxx_opt`` is the C++ optimisation of a Verilator model: ``"-O0"`` compiles fastest
    (regressions, fault runs, tests: short simulations, where the build dominates), ``"-O2"``
    simulates fastest (benchmarks, long layers); None keeps Verilator's default ``-Os``.

    Raises
    ------
    sim.design_check.DesignMismatch
        If the Verilog's ports or the JSON are not those of ``config``.
    sim.simulators.SimulatorMissing
        If the simulator is not installed (the message says how to install it).
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    check_design(verilog, config_json, config)
    runner = _runner(simulator)
    stamp = directory / "built.stamp"
    options = repr((_build_args(simulator), cxx_opt if simulator == "verilator" else None))
    digest = hashlib.sha256((verilog.read_text() + options).encode()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        saved = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = _make_flags(cxx_opt)
        try:
            runner.build(
            sources=[verilog],
            hdl_toplevel=TOPLEVEL,
                build_dir=directory / "obj",
                build_args=_build_args(simulator),
                timescale=("1ns", "1ps"),
                waves=waves,
                always=True,
                log_file=directory / "build.log",
            )
        finally:
            os.environ["MAKEFLAGS"] = saved if saved is not None else ""
        stamp.write_text(digest)
    return Build(config, simulator, directory, verilog, config_json, waves)


def build(config: AcceleratorConfig, simulator: str = "verilator", *, root: Path = BUILD_ROOT, waves: bool = False,
          cxx_opt: str | None = None) -> Build:
    """Generate the Verilog of ``config`` and build it for ``simulator`` (skipped when up to date;
    ``cxx_opt`` as in :func:`compile_verilog`).

    Raises
    ------
    sim.simulators.SimulatorMissing
        If the simulator is not installed (the message says how to install it).
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    directory = (root / simulator / _key(config, waves)).resolve()
    verilog, config_json = generate(config, directory / "rtl")
    return compile_verilog(config, simulator, directory, verilog, config_json, waves=waves, cxx_opt=cxx_opt)


def run(built: Build, jobs: list[tuple], *, plusargs: tuple[str, ...] = ()) -> list[dict]:
    """Co-simulate ``jobs`` (layer, seed) or (layer, seed, requant) on ``built`` in one simulation;
    return one result per job (``requant`` true: outputs through the requantization stage with
    seeded random parameters, see :func:`sim.testbench.run_job`).

    Each result is the dict the testbench writes (see :mod:`sim.testbench`):
    ``layer``, ``seed``, ``outputs_match``, ``first_mismatch``, ``cycles``,
    ``counters`` (each ``{"rtl", "model"}``), ``error`` and ``pass``.
    A job the simulation never reached (the simulator crashed, or the test
    raised) comes back with ``pass`` false and the reason in ``error``.
    ``plusargs`` go to the simulator (e.g. ``+qconv_fault=3``, :mod:`sim.faults`).
    """
    runner = _runner(built.simulator)
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    jobs_file, results_file = run_dir / "jobs.json", run_dir / "results.json"
    jobs_file.write_text(json.dumps([{"layer": str(job[0]), "seed": job[1], **({"requant": True} if job[2:] and job[2] else {})}
                                     for job in jobs]))
    env = {"QCONV_CONFIG": str(built.config_json), "QCONV_JOBS": str(jobs_file), "QCONV_RESULTS": str(results_file)}
    try:
        runner.test(
            test_module="sim.testbench",
            hdl_toplevel=TOPLEVEL,
            hdl_toplevel_lang="verilog",
            build_dir=built.directory / "obj",
            test_dir=run_dir,
            extra_env=env,
            plusargs=list(plusargs),
            waves=built.waves,
            timescale=("1ns", "1ps"),
            results_xml=str(run_dir / "results.xml"),
            log_file=run_dir / "sim.log",
        )
    except (SystemExit, RuntimeError):
        pass  # a failing cocotb test: the results file below says what failed
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    log = run_dir / "sim.log"
    raised = re.findall(r"^\s*(\w+(?:Error|Exception): .*)$", log.read_text(), re.M) if log.exists() else []
    reason = f" ({raised[-1].strip()})" if raised else ""
    for layer, seed, *_ in jobs[len(results):]:
        results.append({
            "layer": str(layer), "seed": seed, "pass": False, "outputs_match": False,
            "error": f"the simulation stopped before this job{reason}; see {log}",
        })
    return results


def run_module(built: Build, module: str, env: dict[str, str]) -> Path:
    """Run the cocotb test module ``module`` on ``built`` with extra environment ``env``; return its run folder.

    The module writes its own results (e.g. to a path it is given in ``env``); a failing
    cocotb test is not an exception here, the caller reads what was written.
    """
    runner = _runner(built.simulator)
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    env = {"QCONV_CONFIG": str(built.config_json), **env}
    try:
        runner.test(test_module=module, hdl_toplevel=TOPLEVEL, hdl_toplevel_lang="verilog",
                    build_dir=built.directory / "obj", test_dir=run_dir, extra_env=env, waves=built.waves,
                    timescale=("1ns", "1ps"), results_xml=str(run_dir / "results.xml"), log_file=run_dir / "sim.log")
    except (SystemExit, RuntimeError):
        pass
    return run_dir
