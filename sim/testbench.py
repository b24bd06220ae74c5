"""The cocotb child of a co-simulation: runs the host programs the parent prepared and returns what it saw.

It computes nothing of its own (no model, no golden outputs): the parent
(:func:`sim.runner.simulate`) prepares every program once and scores the raw
runs. Inputs through the environment (Amaranth's Verilog has no parameters):
``QCONV_PROGRAMS``, a pickle of a list of :class:`sim.executor.Program`, and
``QCONV_RUNS``, where the list of :class:`sim.executor.RawRun` is pickled,
rewritten after every program so a crash still leaves the runs before it, and
``QCONV_DONE``, where the number of programs finished so far is written (replaced
atomically after each), which the parent watches to show progress.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import cocotb
from cocotb.clock import Clock

from sim.cocotb_port import CLOCK_NS, CocotbPort
from sim.executor import execute_all


@cocotb.test()
async def run_programs(dut):
    """Every program of ``QCONV_PROGRAMS``, each after a reset."""
    programs = pickle.loads(Path(os.environ["QCONV_PROGRAMS"]).read_bytes())
    runs_file, done_file = Path(os.environ["QCONV_RUNS"]), Path(os.environ["QCONV_DONE"])
    partial = done_file.with_suffix(".partial")

    def save(runs):
        runs_file.write_bytes(pickle.dumps(runs))
        partial.write_text(str(len(runs)))
        partial.replace(done_file)

    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start(start_high=False)
    await execute_all(CocotbPort(dut), programs, save)
