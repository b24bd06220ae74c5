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

__all__ = ["BUILD_ROOT", "DramBuild", "build", "run_scenario", "ScenarioFailed"]

#: Where DRAM builds go (git-ignored).
BUILD_ROOT = Path("build") / "dram"


class ScenarioFailed(RuntimeError):
    """The simulation did not finish the scenario (the message names its log)."""


class DramBuild:
    """One build of the DRAM model: simulator, parameters, folder."""

    def __init__(self, simulator: str, dram: DramConfig, beat_bytes: int, directory: Path) -> None:
        self.simulator = simulator
        self.dram = dram
        self.beat_bytes = beat_bytes
        self.directory = directory


def _runner(simulator: str):
    prepare(simulator)
    from cocotb_tools.runner import get_runner

    return get_runner(simulator)


def build(simulator: str, dram: DramConfig, beat_bytes: int, *, root: Path = BUILD_ROOT,
          cxx_opt: str | None = None) -> DramBuild:
    """Build the DRAM model for ``simulator`` with the parameters of ``dram`` (skipped when built).

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
    parameters = verilog_parameters(dram, beat_bytes)
    digest = hashlib.sha256((SOURCE.read_text() + repr(sorted(parameters.items()))).encode()).hexdigest()[:12]
    optimised = cxx_opt if simulator == "verilator" else None
    directory = (root / simulator / f"{TOP}-{digest}{optimised or ''}").resolve()
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
                runner.build(sources=[SOURCE], hdl_toplevel=TOP, build_dir=directory / "obj", parameters=parameters,
                             build_args=build_args, timescale=("1ns", "1ps"), always=True,
                             log_file=directory / "build.log")
            finally:
                os.environ["MAKEFLAGS"] = saved if saved is not None else ""
            stamp.write_text(digest)
    return DramBuild(simulator, dram, beat_bytes, directory)


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
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)  # else cocotb's runner judges the test itself
    try:
        _runner(built.simulator).test(
            test_module="sim.dram.testbench", hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
            build_dir=built.directory / "obj", test_dir=run_dir, extra_env=env,
            plusargs=[f"+dram_init={init_file}", f"+dram_dump={dump_file}"], timescale=("1ns", "1ps"),
            results_xml=str(run_dir / "results.xml"), log_file=run_dir / "sim.log")
    except (SystemExit, RuntimeError) as err:
        raise ScenarioFailed(f"the {built.simulator} simulation failed ({err}); see {run_dir / 'sim.log'}") from None
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    if not trace.exists():
        raise ScenarioFailed(f"the {built.simulator} simulation wrote no trace; see {run_dir / 'sim.log'}")
    return pickle.loads(trace.read_bytes())
