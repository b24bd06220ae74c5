"""cocotb testbench of ``qconv infer``: a quantized network's conv layers on the RTL, the rest on the host.

Inputs through the environment: ``QCONV_CONFIG`` (configuration JSON),
``QCONV_INFER`` (a pickle of ``{"network", "images"}``, see
:func:`model.infer.accelerator_stages`) and ``QCONV_RESULTS`` (the JSON
written: one entry per stage with the RTL and model counters, and whether the
requantized outputs and the host outputs match the golden model, plus the
RTL's predicted classes).
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock

from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.infer import accelerator_stages, golden_stage_outputs
from model.perf import predict
from model.program import build_program
from sim.driver import CLOCK_NS, Driver


def _first_mismatch(a: np.ndarray, b: np.ndarray):
    bad = np.argwhere(a != b)
    return None if not bad.size else {"index": [int(i) for i in bad[0]], "rtl": int(a[tuple(bad[0])]),
                                      "model": int(b[tuple(bad[0])])}


async def run_network(driver: Driver, config: AcceleratorConfig, network, images: np.ndarray) -> dict:
    """Every stage on the RTL in turn; returns the per-stage results and the classes."""
    stages = accelerator_stages(network, len(images))
    golden = golden_stage_outputs(network, images)
    results = []
    await driver.reset()
    host = network.input_bits(images) if hasattr(network, "input_bits") else network.quantize_input(images)
    for stage, want_host in zip(stages, golden):
        x = stage.prepare(host)
        ops = build_program(config, stage.layer, x, stage.weights, stage.requant)
        prediction = predict(config, stage.layer)
        before = driver.counters()
        out = await driver.execute(ops, stage.layer.output_shape, max_pass_cycles=2 * prediction.cycles + 1000)
        after = driver.counters()
        rtl = {k: after[k] - before[k] for k in after}
        want = stage.requant.apply(conv2d_layer(x, stage.weights, stage.layer, config.bits))
        host = stage.finish(out)
        results.append({
            "layer": stage.name, "shape": str(stage.layer),
            "requantized_match": bool(np.array_equal(out, want)), "first_mismatch": _first_mismatch(out, want),
            "host_output_match": bool(np.array_equal(host, want_host)),
            "host_ops": {"writes": sum(type(o).__name__ == "HostWrite" for o in ops),
                         "reads": sum(type(o).__name__ == "HostRead" for o in ops),
                         "runs": sum(type(o).__name__ == "HostRun" for o in ops)},
            "counters": {k: {"rtl": rtl[k], "model": prediction.counters[k]} for k in rtl},
        })
    return {"stages": results, "rtl_classes": [int(c) for c in host.argmax(axis=1)],
            "model_classes": [int(c) for c in golden[-1].argmax(axis=1)]}


@cocotb.test()
async def infer(dut):
    """Run the network; fails if any output differs from the golden integer model."""
    config = AcceleratorConfig.from_json(Path(os.environ["QCONV_CONFIG"]).read_text())
    with open(os.environ["QCONV_INFER"], "rb") as f:
        job = pickle.load(f)
    Clock(dut.clk, CLOCK_NS, unit="ns").start(start_high=False)
    result = await run_network(Driver(dut), config, job["network"], job["images"])
    Path(os.environ["QCONV_RESULTS"]).write_text(json.dumps(result, indent=1))
    bad = [s["layer"] for s in result["stages"] if not (s["requantized_match"] and s["host_output_match"])]
    assert not bad, f"outputs differ from the golden integer model in {bad}"
