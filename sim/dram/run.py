"""Build ``qconv_dram`` for a simulator and run a scenario on it (:mod:`sim.dram.testbench`).

A build lives in ``build/dram/<simulator>/<parameters>/`` (git-ignored) and is reused while the
Verilog and its parameters are unchanged.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import uuid
from pathlib import Path

from model.dram import DramConfig
from sim.dram import SOURCE, TOP, verilog_parameters
from sim.dram.scenario import Trace
from sim.simulators import SIMULATORS, prepare

__all__ = ["BUILD_ROOT", "DramBuild", "build", "run_cocotb", "run_scenario", "ScenarioFailed"]

#: Where DRAM builds go (git-ignored).
BUILD_ROOT = Path("build") / "dram"


class ScenarioFailed(RuntimeError):
    """The simulation did not finish the scenario (the message names its log)."""


class DramBuild:
    """One build of the DRAM model (or of a design around it): simulator, parameters, folder, top."""

    def __init__(self, simulator: str, dram: DramConfig, beat_bytes: int, directory: Path, top: str) -> None:
        self.simulator = simulator
        self.top = top
        self.dram = dram
        self.beat_bytes = beat_bytes
        self.directory = directory


def _runner(simulator: str):
    prepare(simulator)
    from cocotb_tools.runner import get_runner

    return get_runner(simulator)


def build(simulator: str, dram: DramConfig, beat_bytes: int, *, root: Path = BUILD_ROOT,
          cxx_opt: str | None = None, top: str = TOP, sources: tuple[Path, ...] = (SOURCE,),
          parameters: dict[str, int] | None = None) -> DramBuild:
    """Build the DRAM model for ``simulator`` with the parameters of ``dram`` (skipped when built).

    ``top``, ``sources`` and ``parameters`` (default: :func:`sim.dram.verilog_parameters`) build
    another design around the model instead, such as the benchmark's (:mod:`sim.dram.bench`).

    ``cxx_opt`` is the C++ optimisation of a Verilator model (``"-O0"`` builds fastest, for short
    tests; None keeps Verilator's default). Concurrent callers (pytest-xdist workers) wait for one
    another on a lock file, so a build is made once.

    Raises
    ------
    sim.simulators.SimulatorMissing
        If the simulator is not installed (the message says how).
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    parameters = verilog_parameters(dram, beat_bytes) if parameters is None else parameters
    text = "".join(source.read_text() for source in sources) + repr(sorted(parameters.items()))
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    optimised = cxx_opt if simulator == "verilator" else None
    directory = (root / simulator / f"{top}-{digest}{optimised or ''}").resolve()
    runner = _runner(simulator)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = directory / "built.stamp"
        if not stamp.exists():
            build_args = ["-Wno-fatal", "-O3", "--no-public-flat-rw", "--public-depth", "1"] if simulator == "verilator" else []
            saved = os.environ.get("MAKEFLAGS")
            if optimised:
                os.environ["MAKEFLAGS"] = f"{saved or ''} OPT_FAST={optimised} OPT_SLOW={optimised}".strip()
            try:
                runner.build(sources=list(sources), hdl_toplevel=top, build_dir=directory / "obj", parameters=parameters,
                             build_args=build_args, timescale=("1ns", "1ps"), always=True,
                             log_file=directory / "build.log")
            finally:
                os.environ["MAKEFLAGS"] = saved if saved is not None else ""
            stamp.write_text(digest)
    return DramBuild(simulator, dram, beat_bytes, directory, top)


def run_cocotb(built: DramBuild, module: str, env: dict[str, str], plusargs: list[str], run_dir: Path) -> None:
    """Run cocotb test module ``module`` on ``built`` in ``run_dir``.

    Raises
    ------
    ScenarioFailed
        If the simulator or the test failed (the message names the log).
    """
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)  # else cocotb's runner judges the test itself
    try:
        _runner(built.simulator).test(
            test_module=module, hdl_toplevel=built.top, hdl_toplevel_lang="verilog",
            build_dir=built.directory / "obj", test_dir=run_dir, extra_env=env, plusargs=plusargs,
            timescale=("1ns", "1ps"), results_xml=str(run_dir / "results.xml"), log_file=run_dir / "sim.log")
    except (SystemExit, RuntimeError) as err:
        raise ScenarioFailed(f"the {built.simulator} simulation failed ({err}); see {run_dir / 'sim.log'}") from None
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


def run_scenario(built: DramBuild, phases: list) -> Trace:
    """Run ``phases`` (:mod:`sim.dram.scenario`) on ``built`` in one simulation and return its trace.

    Raises
    ------
    ScenarioFailed
        If the simulation wrote no trace (the testbench raised or the simulator crashed).
    """
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    scenario, trace = run_dir / "scenario.pkl", run_dir / "trace.pkl"
    scenario.write_bytes(pickle.dumps(list(phases)))
    init_file, dump_file = run_dir / "init.hex", run_dir / "dump.hex"
    env = {"QCONV_DRAM_SCENARIO": str(scenario), "QCONV_DRAM_TRACE": str(trace),
           "QCONV_DRAM_INIT": str(init_file), "QCONV_DRAM_DUMP": str(dump_file)}
    run_cocotb(built, "sim.dram.testbench", env, [f"+dram_init={init_file}", f"+dram_dump={dump_file}"], run_dir)
    if not trace.exists():
        raise ScenarioFailed(f"the {built.simulator} simulation wrote no trace; see {run_dir / 'sim.log'}")
    return pickle.loads(trace.read_bytes())
