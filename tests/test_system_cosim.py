"""The System (qconv_system) with the Verilog DRAM (sim/dram/qconv_dram.v) on Icarus and Verilator.

DRAM loaded and dumped in bulk, the layer started over AXI4-Lite: outputs bit-exact against the
golden conv, STATUS.DONE without ERROR, the DRAM byte counters against the command list's runs,
the burst counters against model/bursts.py's split of those runs, the accelerator's cycle
counter against model.tiling.pass_cycles of every pass (the stall counter its complement), every
System counter (total cycles, stalls, DMA waits included) against
model/system_perf.py's replay of the command list exactly, at two DRAM timings (latency 40 at
8 B/cycle, latency 7 at 2 B/cycle: INTERVAL 4), and both simulators giving the same counters; depthwise
and grouped layers (model/depthwise.py, model/grouped.py) among the cases, on both dataflows.
"""

import numpy as np
import pytest

from model.bursts import split_transfer
from model.commands import build_image, read_output, system_plan
from model.config import AcceleratorConfig
from model.contract import COMMAND_BYTES, StatusBit
from model.conv import conv2d_layer
from model.data import random_operands
from model.dram import DramConfig
from model.program import RequantParams
from model.system_perf import accelerator_counters, predict_system
from model.tiling import pass_cycles
from sim.simulators import SIMULATORS
from sim.system.run import run_system
from tests.command_reference import moved
from tests.tiled_layers import DEPTHWISE, GROUPED, STRIDED_1X1, SYSTEM_TILING, TILING, tiled_cases

CASES = {
    "8bit-row-bands-stride2-pad1": (dict(bits=8), "row-bands-stride2-pad1", False),
    "16bit-filters": (dict(bits=16), "filters", False),
    "8bit-images-requant": (dict(bits=8), "images", True),
    "binary-channels": (dict(bits=1, pack=8), "channels", False),
    "8bit-filters-single-buffered": (dict(bits=8, **TILING), "filters", False),
    "8bit-strided-1x1-requant": (dict(bits=8), "strided-1x1", True),
    "8bit-depthwise-stride2-pad1": (dict(bits=8), "depthwise-stride2-pad1", False),
    "binary-depthwise-images": (dict(bits=1, pack=8), "depthwise-images", False),
    "8bit-os-depthwise-groups-requant": (dict(bits=8, dataflow="os"), "depthwise-groups", True),
    "8bit-grouped-shared-columns": (dict(bits=8), "grouped-shared-columns", False),
}
#: At the slow DRAM (latency 7, 2 B/cycle: one beat per 4 cycles, so the bus, not the latency, limits),
#: with the simulators each runs on (the 8-bit cases share one Verilator build; Icarus builds are free).
SLOW_DRAM_CASES = {
    "8bit-column-bands": ((dict(bits=8), "column-bands", False), SIMULATORS),
    "8bit-channels-requant": ((dict(bits=8), "channels", True), SIMULATORS),
    "16bit-row-bands-stride2-pad1": ((dict(bits=16), "row-bands-stride2-pad1", False), ("icarus",)),
    "16bit-strided-1x1": ((dict(bits=16), "strided-1x1", False), ("icarus",)),
}
_SEEN: dict = {}


def _requant(layer):
    rng = np.random.default_rng(3)
    return RequantParams(bias=rng.integers(-300, 300, layer.M), multiplier=rng.integers(1 << 29, 1 << 31, layer.M),
                         shift=rng.integers(-9, -2, layer.M), zero_point=-1, out_bits=8, relu=True)


def _run_case(simulator, spec, dram):
    """Run one case; return (config, layer, image, counters) after checking the outputs and STATUS."""
    fields, name, requant = spec
    config = AcceleratorConfig(**(SYSTEM_TILING | fields))
    layer = (STRIDED_1X1 if name == "strided-1x1" else (DEPTHWISE | GROUPED).get(name)
             or tiled_cases(AcceleratorConfig(**(TILING | fields)))[name])
    assert system_plan(config, layer).double == (config.ifmap_depth == SYSTEM_TILING["ifmap_depth"])
    x, w = random_operands(layer, config.bits, np.random.default_rng(17))
    rq = _requant(layer) if requant else None
    golden = conv2d_layer(x, w, layer, config.bits)
    golden = rq.apply(golden) if rq is not None else golden
    image = build_image(config, layer, x, w, rq)
    run = run_system(config, image, simulator, dram)
    assert run.status & (1 << StatusBit.DONE) and not run.status & (1 << StatusBit.ERROR) and run.error == 0
    np.testing.assert_array_equal(read_output(image, run.dump), golden)
    return config, layer, image, run.counters


def _assert_model(config, layer, image, dram, counters):
    """Every System and accelerator counter of the RTL equals model/system_perf.py's prediction."""
    predicted = predict_system(config, image, dram).counters | accelerator_counters(config, layer, image)
    assert {n: counters[n] for n in predicted} == predicted


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_system_with_verilog_dram(simulator, case):
    dram = DramConfig(latency=40, bandwidth=8)
    config, layer, image, c = _run_case(simulator, CASES[case], dram)

    beat, fields = config.axi_beat_bytes, [cmd.fields for cmd in image.commands]
    loads = [f for f in fields if "skip" in f]
    stores = [f for f in fields if "per_run" in f]
    assert c["dram_bytes_read"] == len(fields) * COMMAND_BYTES + sum(moved(f) for f in loads)
    assert c["dram_bytes_written"] == sum(moved(f) for f in stores)
    def bursts(fs):  # a run that starts inside a beat is walked from that beat (the write DMA strobes the rest)
        return sum(len(split_transfer(f["dram_addr"] - f["dram_addr"] % beat, f["dram_addr"] % beat + f["run_bytes"],
                                      f["count"], f["stride"], beat, f["repeat"], f["repeat_stride"])) for f in fs)

    assert c["axi_read_bursts"] == len(fields) * len(split_transfer(0, COMMAND_BYTES, 1, 0, beat)) + bursts(loads)
    assert c["axi_write_bursts"] == bursts(stores)
    compute = sum(pass_cycles(config, ps.tile) for ps in system_plan(config, layer).passes)
    assert c["cycles"] == compute
    # at this DRAM every RUN comes after the pass before has ended: no pass starts in a pipeline tail
    assert c["sys_cycles"] == c["stall_cycles"] + compute - len(system_plan(config, layer).passes)
    _assert_model(config, layer, image, dram, c)
    other = _SEEN.setdefault(case, c)
    assert other == c, "Icarus and Verilator count differently"


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_system_starts_passes_in_the_pipeline_tail(simulator):
    """At a fast DRAM the next RUN is fetched before the running pass has issued its last slot: the
    accelerator takes its start in that pass's pipeline tail, and the two passes share busy cycles,
    while the ``cycles`` counter still sums each pass's own."""
    dram = DramConfig(latency=2, bandwidth=8)
    config, layer, image, c = _run_case(simulator, (dict(bits=8), "channels", True), dram)
    passes = system_plan(config, layer).passes
    assert c["cycles"] == sum(pass_cycles(config, ps.tile) for ps in passes)
    busy = c["sys_cycles"] - c["stall_cycles"]                   # cycles the accelerator is busy
    assert busy < sum(pass_cycles(config, ps.tile) - 1 for ps in passes)
    _assert_model(config, layer, image, dram, c)


@pytest.mark.cosim
@pytest.mark.parametrize("case, simulator", [(case, sim) for case, (_, sims) in sorted(SLOW_DRAM_CASES.items())
                                             for sim in sims])
def test_system_cycles_at_a_slow_dram(simulator, case):
    dram = DramConfig(latency=7, bandwidth=2)
    config, layer, image, counters = _run_case(simulator, SLOW_DRAM_CASES[case][0], dram)
    _assert_model(config, layer, image, dram, counters)
