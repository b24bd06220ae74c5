"""cocotb testbench: run a list of jobs (layer, seed) on the accelerator and score each against the model.

Inputs come through the environment (Amaranth's Verilog has no parameters):
``QCONV_CONFIG`` (the configuration JSON written beside the Verilog),
``QCONV_JOBS`` (a JSON list of ``{"layer", "seed"}``) and ``QCONV_RESULTS``
(where to write one result per job, see :func:`sim.scoreboard.check`). The
file is rewritten after every job, so a crash still leaves the jobs before it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock

from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands
from model.layer import parse_layer
from model.perf import predict
from model.program import build_program
from sim.driver import CLOCK_NS, DoneTimeout, Driver, UnknownOutput
from sim.scoreboard import check


async def run_job(driver: Driver, config: AcceleratorConfig, layer, seed: int) -> dict:
    """Reset, run one layer with seeded operands, and score it."""
    x, w = random_operands(layer, config.bits, np.random.default_rng(seed))
    expected = conv2d_layer(x, w, layer, config.bits)
    prediction = predict(config, layer)
    ops = build_program(config, layer, x, w)
    await driver.reset()
    try:
        actual = await driver.execute(ops, layer.output_shape, max_pass_cycles=2 * prediction.cycles + 1000)
    except (DoneTimeout, UnknownOutput) as err:
        return {"layer": str(layer), "seed": seed, "pass": False, "outputs_match": False, "error": str(err)}
    return check(layer, seed, expected, actual, prediction.counters, driver.counters())


@cocotb.test()
async def run_jobs(dut):
    """Every job of ``QCONV_JOBS``; fails if any output, cycle count or counter differs from the model."""
    config = AcceleratorConfig.from_json(Path(os.environ["QCONV_CONFIG"]).read_text())
    jobs = json.loads(Path(os.environ["QCONV_JOBS"]).read_text())
    results_file = Path(os.environ["QCONV_RESULTS"])
    Clock(dut.clk, CLOCK_NS, unit="ns").start(start_high=False)
    driver = Driver(dut)
    results = []
    for job in jobs:
        results.append(await run_job(driver, config, parse_layer(job["layer"]), job["seed"]))
        results_file.write_text(json.dumps(results, indent=1))
    failed = [f"{r['layer']} seed={r['seed']}" for r in results if not r["pass"]]
    assert not failed, f"mismatch against the model in: {'; '.join(failed)}"
