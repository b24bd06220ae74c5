"""cocotb testbench of the simulator-speed benchmark: run a layer's passes back to back and time them.

The accelerator's cycle count does not depend on buffer contents, so the
passes of a layer run on whatever the buffers hold after reset; no host
transfer is simulated. Each repetition runs every pass of the layer's plan
(``start``, then ``await RisingEdge(done)``: the simulator runs free while a
pass computes) and records the pass cycles (``count_cycles``) and the wall
time. The clock is cocotb's GPI (C++) clock, so no Python runs while a pass
computes. Inputs come through the environment: ``QCONV_CONFIG`` (configuration
JSON), ``QCONV_BENCH_LAYER``, ``QCONV_BENCH_REPEAT`` and
``QCONV_BENCH_MIN_SECONDS`` (repetitions continue until both are reached) and
``QCONV_BENCH_RESULTS`` (where the JSON list of ``{"cycles", "seconds"}`` is
written, one entry per repetition).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from model.config import AcceleratorConfig
from model.layer import parse_layer
from model.perf import predict
from model.program import HostRun, build_program
from sim.driver import CLOCK_NS, Driver


def pass_descriptors(config: AcceleratorConfig, layer) -> list[int]:
    """Packed descriptors of every pass of ``layer`` on ``config``, in order."""
    x = np.zeros(layer.input_shape, dtype=np.int64)
    w = np.zeros(layer.weight_shape, dtype=np.int64)
    return [op.desc for op in build_program(config, layer, x, w) if isinstance(op, HostRun)]


@cocotb.test()
async def time_passes(dut):
    """Every pass of the layer, at least ``QCONV_BENCH_REPEAT`` times and ``QCONV_BENCH_MIN_SECONDS`` in all."""
    config = AcceleratorConfig.from_json(Path(os.environ["QCONV_CONFIG"]).read_text())
    layer = parse_layer(os.environ["QCONV_BENCH_LAYER"])
    descs = pass_descriptors(config, layer)
    bound = Timer((2 * predict(config, layer).cycles + 1000) * CLOCK_NS, unit="ns")
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start(start_high=False)
    await Driver(dut).reset()
    runs = []
    repeat, min_seconds = int(os.environ["QCONV_BENCH_REPEAT"]), float(os.environ["QCONV_BENCH_MIN_SECONDS"])
    while len(runs) < repeat or sum(r["seconds"] for r in runs) < min_seconds:
        before = int(dut.count_cycles.value)
        t0 = time.perf_counter()
        for desc in descs:
            dut.desc.value = desc
            dut.start.value = 1
            await FallingEdge(dut.clk)
            dut.start.value = 0
            if not int(dut.done.value) and await First(RisingEdge(dut.done), bound) is bound:
                raise AssertionError(f"done did not rise within {bound} of start")
            await FallingEdge(dut.clk)
        seconds = time.perf_counter() - t0
        runs.append({"cycles": int(dut.count_cycles.value) - before, "seconds": seconds})
    Path(os.environ["QCONV_BENCH_RESULTS"]).write_text(json.dumps(runs))
