"""The System (qconv_system) with the Verilog DRAM (sim/dram/qconv_dram.v) on Icarus and Verilator.

DRAM loaded and dumped in bulk, the layer started over AXI4-Lite: outputs bit-exact against the
golden conv, STATUS.DONE without ERROR, the DRAM byte counters against the command list's runs,
the burst counters against model/bursts.py's split of those runs, the accelerator's cycle
counter (and the System's DMA-wait cycles, the RUN phases) against model.tiling.pass_cycles of
every pass, and both simulators giving the same counters. (The System's total cycles and stall
cycles have no model yet: model/system_perf.py is not built.)
"""

import numpy as np
import pytest

from model.bursts import split_transfer
from model.commands import build_image, read_output
from model.config import AcceleratorConfig
from model.contract import COMMAND_BYTES, StatusBit
from model.conv import conv2d_layer
from model.data import random_operands
from model.dram import DramConfig
from model.program import RequantParams
from model.tiling import pass_cycles, plan
from sim.simulators import SIMULATORS
from sim.system.run import run_system
from tests.tiled_layers import TILING, tiled_cases

CASES = {
    "8bit-row-bands-stride2-pad1": (dict(bits=8), "row-bands-stride2-pad1", False),
    "16bit-filters": (dict(bits=16), "filters", False),
    "8bit-images-requant": (dict(bits=8), "images", True),
    "binary-channels": (dict(bits=1, pack=8), "channels", False),
}
_SEEN: dict = {}


def _requant(layer):
    rng = np.random.default_rng(3)
    return RequantParams(bias=rng.integers(-300, 300, layer.M), multiplier=rng.integers(1 << 29, 1 << 31, layer.M),
                         shift=rng.integers(-9, -2, layer.M), zero_point=-1, out_bits=8, relu=True)


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_system_with_verilog_dram(simulator, case):
    bits, name, requant = CASES[case]
    config = AcceleratorConfig(**TILING, **bits)
    layer = tiled_cases(config)[name]
    x, w = random_operands(layer, config.bits, np.random.default_rng(17))
    rq = _requant(layer) if requant else None
    golden = conv2d_layer(x, w, layer, config.bits)
    golden = rq.apply(golden) if rq is not None else golden
    image = build_image(config, layer, x, w, rq)
    run = run_system(config, image, simulator, DramConfig(latency=40, bandwidth=8))
    assert run.status & (1 << StatusBit.DONE) and not run.status & (1 << StatusBit.ERROR) and run.error == 0
    np.testing.assert_array_equal(read_output(image, run.dump), golden)

    beat, fields = config.axi_beat_bytes, [c.fields for c in image.commands]
    loads = [f for f in fields if "skip" in f]
    stores = [f for f in fields if "per_run" in f]
    c = run.counters
    assert c["dram_bytes_read"] == len(fields) * COMMAND_BYTES + sum(f["run_bytes"] * f["count"] for f in loads)
    assert c["dram_bytes_written"] == sum(f["run_bytes"] * f["count"] for f in stores)
    bursts = lambda fs: sum(len(split_transfer(f["dram_addr"], f["run_bytes"], f["count"], f["stride"], beat))
                            for f in fs)
    assert c["axi_read_bursts"] == len(fields) * len(split_transfer(0, COMMAND_BYTES, 1, 0, beat)) + bursts(loads)
    assert c["axi_write_bursts"] == bursts(stores)
    compute = sum(pass_cycles(config, ps.tile) for ps in plan(config, layer).passes)
    assert c["cycles"] == compute and c["dma_wait_cycles"] == compute
    assert c["sys_cycles"] > c["stall_cycles"] + c["dma_wait_cycles"]
    other = _SEEN.setdefault(case, c)
    assert other == c, "Icarus and Verilator count differently"
