"""``python -m sim.system.measure LAYER``: one named layer through the System on Verilator.

Default 8x8 build, DRAM latency 40 and 8 B/cycle; prints one JSON line: bit-exactness against
the golden conv, commands, image bytes, wall times, every counter, the model's prediction of every
counter (``model``: :mod:`model.system_perf`, with its wall time) and whether
it equals the RTL's (``model_exact``), the roofline (outputs at 8 bits, and at the 32 bits the raw
containers take) and the fraction of it achieved.
"""
import json
import sys
import time

import numpy as np

from model.commands import build_image, read_output, system_plan
from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands
from model.dram import DramConfig
from model.layer import NAMED_LAYERS
from model.roofline import roofline
from model.system_perf import accelerator_counters, predict_system
from model.tiling import pass_cycles
from sim.system.run import run_system


def main(name: str) -> None:
    """Measure ``name`` (a key of :data:`model.layer.NAMED_LAYERS`)."""
    config = AcceleratorConfig()
    layer = NAMED_LAYERS[name]
    x, w = random_operands(layer, 8, np.random.default_rng(0))
    t = time.time()
    image = build_image(config, layer, x, w)
    tb = time.time() - t
    dram = DramConfig(latency=40, bandwidth=8, size_bytes=max(16 << 20, 1 << (len(image.data) - 1).bit_length()))
    t = time.time()
    run = run_system(config, image, "verilator", dram, max_cycles=500_000_000)
    tw = time.time() - t
    ok = bool((read_output(image, run.dump) == conv2d_layer(x, w, layer, 8)).all())
    rf, rf32 = roofline(config, layer, dram), roofline(config, layer, dram, output_bits=32)
    compute = sum(pass_cycles(config, p.tile) for p in system_plan(config, layer).passes)
    t = time.time()
    model = predict_system(config, image, dram).counters | accelerator_counters(config, layer, image)
    tm = time.time() - t
    print(json.dumps({"layer": name, "exact": ok, "commands": len(image.commands), "image_bytes": len(image.data),
                      "build_image_s": round(tb, 2), "run_s": round(tw, 1), "sim_wall_s": round(run.wall_s, 1),
                      "roofline_cycles": rf.cycles, "roofline_fraction": rf.fraction(run.counters["sys_cycles"]),
                      "model_compute_cycles": compute, "model": model, "model_s": round(tm, 2),
                      "model_exact": all(run.counters[n] == v for n, v in model.items()), "roofline32_cycles": rf32.cycles,
                      "roofline32_fraction": rf32.fraction(run.counters["sys_cycles"]), **run.counters}))


if __name__ == "__main__":
    main(sys.argv[1])
