"""Column-tile STOREs that start inside a beat, through the System's Verilog on both simulators.

Requantized 1-byte outputs of column tiles start mid-beat; the write DMA strobes only the run's
bytes of its first and last beats. The output must be bit-exact against the golden conv, and every
byte of the output region outside the STORE runs must keep the sentinel it held before the layer.
"""

import dataclasses

import numpy as np
import pytest

from model.commands import build_image, read_output
from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands
from model.dram import DramConfig
from model.program import RequantParams
from sim.simulators import SIMULATORS
from sim.system.run import run_system
from tests.command_reference import SENTINEL, assert_outside_runs_untouched
from tests.tiled_layers import TILING, tiled_cases


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_mid_beat_column_stores_on_the_system(simulator):
    config = AcceleratorConfig(**TILING)
    layer = tiled_cases(config)["column-bands"]
    x, w = random_operands(layer, config.bits, np.random.default_rng(23))
    rng = np.random.default_rng(7)
    rq = RequantParams(bias=rng.integers(-300, 300, layer.M), multiplier=rng.integers(1 << 29, 1 << 31, layer.M),
                       shift=rng.integers(-9, -2, layer.M), zero_point=-1, out_bits=8)
    image = build_image(config, layer, x, w, rq)
    stores = [c.fields for c in image.commands if "per_run" in c.fields]
    assert any(f["dram_addr"] % config.axi_beat_bytes for f in stores), "the case should start stores mid-beat"
    data = np.frombuffer(image.data, np.uint8).copy()
    data[image.out_addr:image.out_addr + layer.N * layer.M * layer.E * image.out_pitch] = SENTINEL
    image = dataclasses.replace(image, data=data.tobytes())
    run = run_system(config, image, simulator, DramConfig(latency=40, bandwidth=8))
    assert run.error == 0
    np.testing.assert_array_equal(read_output(image, run.dump), rq.apply(conv2d_layer(x, w, layer, config.bits)))
    assert_outside_runs_untouched(image, run.dump)
    assert run.counters["dram_bytes_written"] == sum(f["run_bytes"] * f["count"] for f in stores)
