"""The System (hw/system.py) runs whole tiled layers from DRAM in amaranth.sim.

The DRAM is the AXI4 slave of tests/axi_models.py holding model/commands.py's image; the host
writes CMD_ADDR, CMD_COUNT and START over AXI4-Lite and waits for STATUS.DONE. The output tensor
read back from the slave's memory must be the golden conv (model.conv), the byte and burst
counters must equal the bursts the slave saw, and an error response must end the layer with
STATUS.ERROR and its code.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.system import System
from model.commands import build_image, read_output, system_plan, word_bytes
from model.config import AcceleratorConfig
from model.contract import AxiResp, DmaError, LiteRegister, StatusBit
from model.conv import conv2d_layer
from model.data import random_operands
from model.layer import ConvLayer
from model.program import RequantParams
from model.system_perf import accelerator_counters
from tests.axi_models import AxiSlaveMemory, ErrorWindow, Pauses
from tests.command_reference import assert_outside_runs_untouched, mid_beat_case, moved
from tests.tiled_layers import STRIDED_1X1, SYSTEM_TILING, TILING, tiled_cases


def run_system(config, image, *, pause=0.0, seed=0, errors=(), latency=6, max_cycles=200000):
    """Run ``image`` on the System; (DRAM after, STATUS, ERROR, counters, slave)."""
    dut = System(config, word_bytes(config))
    mem = np.frombuffer(image.data, np.uint8).copy()
    rng = np.random.default_rng(seed)
    slave = AxiSlaveMemory(mem, config.axi_beat_bytes, latency,
                           {c: Pauses(rng, pause) for c in ("ar", "r", "aw", "w", "b")}, tuple(errors))
    out = {}

    async def bench(ctx):
        bus, cyc = dut.s_axil, [0]

        async def step():
            slave.cycle = cyc[0]
            slave.drive_read(ctx, dut.m_axi.read)
            slave.drive_write(ctx, dut.m_axi.write)
            slave.sample_read(ctx, dut.m_axi.read)
            slave.sample_write(ctx, dut.m_axi.write)
            await ctx.tick()
            cyc[0] += 1
            assert cyc[0] < max_cycles, "the System did not end"

        async def write(addr, value):
            ctx.set(bus.awaddr, addr), ctx.set(bus.awvalid, 1)
            ctx.set(bus.wdata, value), ctx.set(bus.wstrb, 0xF), ctx.set(bus.wvalid, 1), ctx.set(bus.bready, 1)
            while not ctx.get(bus.awready):
                await step()
            await step()
            ctx.set(bus.awvalid, 0), ctx.set(bus.wvalid, 0)
            while not ctx.get(bus.bvalid):
                await step()
            assert ctx.get(bus.bresp) == AxiResp.OKAY
            await step()

        async def read(addr):
            ctx.set(bus.araddr, addr), ctx.set(bus.arvalid, 1), ctx.set(bus.rready, 1)
            while not ctx.get(bus.arready):
                await step()
            await step()
            ctx.set(bus.arvalid, 0)
            while not ctx.get(bus.rvalid):
                await step()
            value = ctx.get(bus.rdata)
            await step()
            return value

        await write(LiteRegister.CMD_ADDR, image.cmd_addr)
        await write(LiteRegister.CMD_COUNT, len(image.commands))
        await write(LiteRegister.CONTROL, 1)
        while not ctx.get(dut.irq):
            await step()
        for _ in range(latency + 4):  # nothing may move after the end
            await step()
        out["status"] = await read(LiteRegister.STATUS)
        out["error"] = await read(LiteRegister.ERROR)
        out["counters"] = {name[len("count_"):]: ctx.get(getattr(dut, name))
                           for name in dir(dut) if name.startswith("count_")}

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return slave.mem.tobytes(), out["status"], DmaError(out["error"]), out["counters"], slave


def check_layer(config, layer, operand_seed, pause_seed):
    """Run ``layer`` from DRAM with random pauses on every AXI channel; check STATUS, the outputs against
    the golden conv and every accelerator counter against model/system_perf.py; the counters predicted."""
    x, w = random_operands(layer, config.bits, np.random.default_rng(operand_seed))
    image = build_image(config, layer, x, w)
    dump, status, _, counters, _ = run_system(config, image, pause=0.2, seed=pause_seed)
    assert status & (1 << StatusBit.DONE) and not status & (1 << StatusBit.ERROR)
    np.testing.assert_array_equal(read_output(image, dump), conv2d_layer(x, w, layer, config.bits))
    predicted = accelerator_counters(config, layer, image)
    assert {n: counters[n] for n in predicted} == predicted
    return predicted


CASES = [("8bit", "row-bands-stride2-pad1"), ("8bit", "column-bands"), ("8bit", "channels"), ("8bit", "filters"),
         ("8bit", "images"), ("16bit", "channels"), ("binary", "channels"), ("8bit", "strided-1x1"),
         ("binary", "strided-1x1")]
BITS = {"8bit": dict(bits=8), "16bit": dict(bits=16), "binary": dict(bits=1, pack=8)}


@pytest.mark.parametrize("kind, layer_name", CASES)
def test_system_runs_a_tiled_layer(kind, layer_name):
    config = AcceleratorConfig(**SYSTEM_TILING, **BITS[kind])    # double-buffered: halves of TILING's size
    layer = (STRIDED_1X1 if layer_name == "strided-1x1"
             else tiled_cases(AcceleratorConfig(**TILING, **BITS[kind]))[layer_name])
    assert system_plan(config, layer).double
    x, w = random_operands(layer, config.bits, np.random.default_rng(21))
    image = build_image(config, layer, x, w)
    dump, status, error, counters, slave = run_system(config, image, pause=0.2, seed=3)
    assert status & (1 << StatusBit.DONE) and not status & (1 << StatusBit.ERROR) and error is DmaError.NONE
    np.testing.assert_array_equal(read_output(image, dump), conv2d_layer(x, w, layer, config.bits))
    assert counters["axi_read_bursts"] == len(slave.ar) and counters["axi_write_bursts"] == len(slave.aw)
    fields = [c.fields for c in image.commands]
    stores = [f for f in fields if "per_run" in f]
    assert counters["dram_bytes_written"] == sum(moved(f) for f in stores)
    assert counters["dram_bytes_read"] == len(image.commands) * 64 + sum(
        moved(f) for f in fields if "skip" in f)


@pytest.mark.parametrize("kind", ["8bit", "16bit"])
def test_system_runs_a_requantized_layer(kind):
    config = AcceleratorConfig(**TILING, **BITS[kind])           # single-buffered: SYNCs between passes
    layer = tiled_cases(config)["channels"]
    assert not system_plan(config, layer).double
    x, w = random_operands(layer, config.bits, np.random.default_rng(8))
    if kind == "16bit":
        x, w = x >> 8, w >> 8  # keep acc + bias in int32, as requantization requires
    rng = np.random.default_rng(4)
    rq = RequantParams(bias=rng.integers(-300, 300, layer.M), multiplier=rng.integers(1 << 29, 1 << 31, layer.M),
                       shift=rng.integers(-9, -2, layer.M), zero_point=-2, out_bits=7 if kind == "8bit" else 13,
                       relu=kind == "8bit")
    image = build_image(config, layer, x, w, rq)
    dump, status, error, _, _ = run_system(config, image, pause=0.2, seed=5)
    assert error is DmaError.NONE and status & (1 << StatusBit.DONE)
    np.testing.assert_array_equal(read_output(image, dump), rq.apply(conv2d_layer(x, w, layer, config.bits)))


def test_system_stops_on_an_error_response():
    config = AcceleratorConfig(**TILING)
    layer = tiled_cases(config)["filters"]
    x, w = random_operands(layer, config.bits, np.random.default_rng(2))
    image = build_image(config, layer, x, w)
    bad = ErrorWindow(image.weight_addr, image.weight_addr + 8, AxiResp.SLVERR)
    dump, status, error, counters, _ = run_system(config, image, errors=(bad,))
    assert status & (1 << StatusBit.ERROR) and status & (1 << StatusBit.DONE) and error is DmaError.SLVERR
    assert counters["dram_bytes_written"] == 0


def test_system_stores_column_tiles_that_start_mid_beat():
    # requantized 1-byte outputs of column tiles: STORE runs start inside a beat; the write DMA strobes
    # only their bytes, so the neighbouring tile's outputs and the rows' padding stay as they were
    case = mid_beat_case()
    image = case.image
    layer_end = image.out_addr + image.out_bytes
    dump, status, error, counters, _ = run_system(case.config, image, pause=0.2, seed=11)
    assert error is DmaError.NONE and status & (1 << StatusBit.DONE)
    np.testing.assert_array_equal(read_output(image, dump), case.expected)
    assert dump[:image.out_addr] == image.data[:image.out_addr] and dump[layer_end:] == image.data[layer_end:]
    assert_outside_runs_untouched(image, dump)
    assert counters["dram_bytes_written"] == sum(moved(f) for f in case.stores)


FOLD_ACROSS = dict(rows=2, cols=2, ifmap_depth=512, weight_depth=256, psum_depth=128, dataflow="os")


@pytest.mark.parametrize("kind", ["8bit", "16bit", "binary"])
@pytest.mark.parametrize("rf_depth", [2, 4])
@pytest.mark.parametrize("layer", [ConvLayer(C=2, H=5, W=5, M=6, R=3, S=3),
                                   ConvLayer(C=3, H=5, W=5, M=5, R=3, S=3, stride=2, pad=1),
                                   ConvLayer(C=40, H=3, W=3, M=5, R=3, S=3, pad=1)], ids=str)
def test_os_folds_across_filter_groups(kind, rf_depth, layer):
    """The OS System runs a one-image pass of several filter groups whose pixels do not fill whole folds
    with its folds across the groups (model.contract.Tile.fold_groups): odd pixel counts, stride 2 with
    padding, channel tiles accumulated; bit-exact, every counter = model."""
    config = AcceleratorConfig(**FOLD_ACROSS, **BITS[kind], rf_depth=rf_depth)
    assert any(ps.tile.fold_groups for ps in system_plan(config, layer).passes)
    check_layer(config, layer, 1, 2)
