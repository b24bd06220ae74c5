"""The LOAD and STORE paths of the command processor (read DMA -> hw/command/load.py,
hw/command/store.py -> write DMA) in amaranth.sim.

Every ifmap and weight LOAD of small tiled layers (model/commands.py) runs against the AXI4
slave of tests/axi_models.py holding the layer's DRAM image, with seeded pauses on AR and R:
the buffer writes must be the reference's (tests/command_reference.py), in order. Without
pauses the unpacker writes every cycle once the first beat is in (the beat's words two at a time
on the 2x2 array). Every STORE of small tiled layers (raw and requantized, 8- and 16-bit builds)
runs against the slave with seeded pauses on AW, W and B, a host port answering each psum read
with the golden outputs of that line's lanes: the output tensor read back from DRAM is the golden
conv, and nothing else changed.
"""

import collections

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.axi.read_dma import ReadDma
from hw.axi.write_dma import WriteDma
from hw.command.load import LoadUnpacker
from hw.command.requant_load import RequantLoader
from hw.command.store import StorePacker
from model.commands import requant_entries, build_image, read_output, system_plan, word_bytes
from model.config import AcceleratorConfig
from model.contract import READ_LATENCY, Buffer, Opcode, ifmap_load_words, weight_load_lanes
from model.conv import conv2d_layer
from model.data import random_operands
from model.program import HostWrite, RequantParams, build_program, requant_writes
from tests.axi_models import AxiSlaveMemory, Pauses
from tests.command_reference import SENTINEL, assert_outside_runs_untouched, load_writes, pass_values, run_bytes
from tests.tiled_layers import STRIDED_1X1, TILING, tiled_cases


class _LoadPath(wiring.Component):
    def __init__(self, config):
        self.dma = ReadDma(config.axi_data_bits)
        self.unpack = LoadUnpacker(config, word_bytes(config))
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dma, m.submodules.unpack = self.dma, self.unpack
        wiring.connect(m, self.dma.data, self.unpack.beats)
        return m


def _run_loads(config, image, pause, seed):
    dut = _LoadPath(config)
    mem = np.frombuffer(image.data, np.uint8).copy()
    rng = np.random.default_rng(seed)
    slave = AxiSlaveMemory(mem, config.axi_beat_bytes, 5, {c: Pauses(rng, pause) for c in ("ar", "r")})
    loads = [c.fields for c in image.commands if c.opcode is Opcode.LOAD and c.fields["buffer"] != Buffer.REQUANT]
    got, gaps, cycles = [], [], []

    async def bench(ctx):
        dma, up = dut.dma, dut.unpack
        for cycle_budget, f in ((20000, f) for f in loads):
            for name, key in (("addr", "dram_addr"), ("run_bytes", "run_bytes"), ("count", "count"),
                              ("stride", "stride"), ("repeat", "repeat"), ("repeat_stride", "repeat_stride")):
                ctx.set(getattr(dma.cmd.payload, name), f[key])
            for name in ("buffer", "buf_addr", "words", "skip", "step", "run_bytes"):
                ctx.set(getattr(up, name), f[name])
            ctx.set(dma.cmd.valid, 1)
            ctx.set(up.start, 1)
            writes, first, last, busy = [], None, None, 0
            for cycle in range(cycle_budget):
                slave.cycle = cycle
                slave.drive_read(ctx, dma.bus)
                slave.sample_read(ctx, dma.bus)
                lanes, words = ctx.get(up.line_write.en), ctx.get(up.ifmap_write.en)
                for j in (j for j in range(len(up.ifmap_write.data)) if words >> j & 1):   # consecutive ifmap words
                    writes.append(HostWrite(Buffer.IFMAP, ctx.get(up.ifmap_write.addr) + j, 0,
                                            ctx.get(up.ifmap_write.data[j])))
                for j in (j for j in range(config.cols) if lanes >> j & 1):   # a weight write: lanes of a line
                    writes.append(HostWrite(Buffer.WEIGHT, ctx.get(up.line_write.addr), j,
                                            ctx.get(up.line_write.data[j])))
                if words or lanes:
                    first = cycle if first is None else first
                    last, busy = cycle, busy + 1
                await ctx.tick()
                ctx.set(dma.cmd.valid, 0)
                ctx.set(up.start, 0)
                if cycle > 0 and not ctx.get(up.busy) and not ctx.get(dma.busy):
                    break
            else:
                raise AssertionError("LOAD did not end")
            got.append(writes)
            gaps.append(last - first + 1 - busy)
            cycles.append(busy)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return loads, got, gaps, cycles


@pytest.mark.parametrize("kind, layer_name, pause", [
    ("8bit", "column-bands", 0.0), ("8bit", "channels", 0.3), ("16bit", "row-bands-stride2-pad1", 0.3),
    ("binary", "channels", 0.0), ("8bit", "strided-1x1", 0.0), ("16bit", "strided-1x1", 0.3),
])
def test_loads_write_the_reference_words(kind, layer_name, pause):
    bits = {"8bit": dict(bits=8), "16bit": dict(bits=16), "binary": dict(bits=1, pack=8)}[kind]
    config = AcceleratorConfig(**TILING, **bits)
    layer = STRIDED_1X1 if layer_name == "strided-1x1" else tiled_cases(config)[layer_name]
    x, w = random_operands(layer, config.bits, np.random.default_rng(11))
    image = build_image(config, layer, x, w)
    loads, got, gaps, cycles = _run_loads(config, image, pause, seed=4)
    assert any(f["skip"] for f in loads) or layer_name != "column-bands", "the case should start runs mid-beat"
    for f, writes in zip(loads, got, strict=True):
        assert writes == load_writes(config, image.data, f)
    if pause == 0.0:
        # no pauses: from its first word to its last the unpacker writes every cycle: up to 2 ifmap
        # words of a beat, or weight_load_lanes lanes of a line (2 of the 2x2 array's, from 8-word beats)
        assert gaps == [0] * len(loads)
        assert weight_load_lanes(config, word_bytes(config)) == ifmap_load_words(config, word_bytes(config)) == 2
        for f, n in zip(loads, cycles, strict=True):
            per_beat = collections.Counter(b // config.axi_beat_bytes for b in list(run_bytes(f, word_bytes(config)))[::word_bytes(config)])
            assert n == sum(-(-words // 2) for words in per_beat.values())


class _StorePath(wiring.Component):
    def __init__(self, config):
        self.pack = StorePacker(config)
        self.dma = WriteDma(config.axi_data_bits)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.pack, m.submodules.dma = self.pack, self.dma
        wiring.connect(m, self.pack.beats, self.dma.data)
        return m


def _run_stores(config, image, values, pause, seed, mem=None):
    """Every STORE of ``image`` (after RUN k, the host port answers from ``values[k]``) on ``mem``
    (default the image's bytes); the DRAM after."""
    dut = _StorePath(config)
    mem = np.frombuffer(image.data, np.uint8).copy() if mem is None else mem.copy()
    rng = np.random.default_rng(seed)
    slave = AxiSlaveMemory(mem, config.axi_beat_bytes, 5, {c: Pauses(rng, pause) for c in ("aw", "w", "b")})
    stores, k = [], -1
    for c in image.commands:
        k += c.opcode is Opcode.RUN
        if c.opcode is Opcode.STORE:
            stores.append((k, c.fields))
    mask = (1 << config.acc_bits) - 1

    async def bench(ctx):
        pk, dma = dut.pack, dut.dma
        cycle = 0
        for k, f in stores:
            for name, key in (("addr", "dram_addr"), ("run_bytes", "run_bytes"), ("count", "count"),
                              ("stride", "stride"), ("repeat", "repeat"), ("repeat_stride", "repeat_stride")):
                ctx.set(getattr(dma.cmd.payload, name), f[key])
            for name in ("format", "line", "chan", "per_run", "count", "repeat", "group_lines"):
                ctx.set(getattr(pk, name), f[name])
            ctx.set(pk.offset, f["dram_addr"] % config.axi_beat_bytes)
            ctx.set(dma.cmd.valid, 1)
            ctx.set(pk.start, 1)
            reads = [None] * READ_LATENCY
            for _ in range(20000):
                slave.cycle = cycle
                slave.drive_write(ctx, dma.bus)
                slave.sample_write(ctx, dma.bus)
                answer = reads.pop(0)
                ctx.set(pk.read_data.as_value(), 0 if answer is None else sum(
                    (int(values[k].get((answer, lane), 0)) & mask) << (lane * config.acc_bits)
                    for lane in range(config.cols)))   # lanes of no filter (past M) answer 0
                reads.append(ctx.get(pk.read_addr) if ctx.get(pk.read_en) else None)
                await ctx.tick()
                cycle += 1
                ctx.set(dma.cmd.valid, 0)
                ctx.set(pk.start, 0)
                if not ctx.get(pk.busy) and not ctx.get(dma.busy):
                    break
            else:
                raise AssertionError("STORE did not end")
        for _ in range(10):  # the last B response
            slave.cycle = cycle
            slave.drive_write(ctx, dma.bus)
            slave.sample_write(ctx, dma.bus)
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return slave.mem.tobytes()


@pytest.mark.parametrize("kind, layer_name, requant, pause", [
    ("8bit", "row-bands-stride2-pad1", False, 0.3), ("8bit", "filters", True, 0.0),
    ("16bit", "images", False, 0.0), ("16bit", "column-bands", False, 0.3), ("16bit", "channels", True, 0.3),
    ("8bit", "column-bands", True, 0.3),  # 1-byte outputs: column tiles start mid-beat
])
def test_stores_write_the_golden_output(kind, layer_name, requant, pause):
    bits = {"8bit": dict(bits=8), "16bit": dict(bits=16)}[kind]
    config = AcceleratorConfig(**TILING, **bits)
    layer = tiled_cases(config)[layer_name]
    x, w = random_operands(layer, config.bits, np.random.default_rng(12))
    if requant and kind == "16bit":
        x, w = x >> 8, w >> 8  # keep acc + bias in int32, as requantization requires
    rq = None
    golden = conv2d_layer(x, w, layer, config.bits)
    if requant:
        rng = np.random.default_rng(2)
        rq = RequantParams(bias=rng.integers(-99, 99, layer.M), multiplier=rng.integers(1 << 29, 1 << 30, layer.M),
                           shift=rng.integers(-6, -1, layer.M), zero_point=1, out_bits=12 if kind == "16bit" else 6)
        golden = rq.apply(golden)
    image = build_image(config, layer, x, w, rq)
    passes, double, _ = system_plan(config, layer)
    assert not double   # the stores of each pass follow it, before the next RUN (run k's values are pass k's)
    values = pass_values(build_program(config, layer, x, w, rq, passes), golden)
    mem = np.frombuffer(image.data, np.uint8).copy()
    out_end = image.out_addr + image.out_bytes
    mem[image.out_addr:out_end] = SENTINEL  # every byte no STORE run covers must keep it
    dump = _run_stores(config, image, values, pause, seed=9, mem=mem)
    np.testing.assert_array_equal(read_output(image, dump), golden)
    assert dump[:image.out_addr] == image.data[:image.out_addr] and dump[out_end:] == image.data[out_end:]
    assert_outside_runs_untouched(image, dump)



@pytest.mark.parametrize("bits", [dict(bits=8), dict(bits=16), dict(bits=1, pack=64)])
def test_requant_loader_writes_what_the_host_program_writes(bits):
    config = AcceleratorConfig(**TILING, **bits)
    rng = np.random.default_rng(6)
    rq = RequantParams(bias=rng.integers(-(1 << 31), 1 << 31, 3), multiplier=rng.integers(0, 1 << 31, 3),
                       shift=rng.integers(-31, 0, 3), zero_point=0, out_bits=8)
    blob = requant_entries(rq)
    bb = config.axi_beat_bytes
    beats = [int.from_bytes(blob[i:i + bb], "little") for i in range(0, len(blob), bb)]
    dut = RequantLoader(config)
    got = []

    async def bench(ctx):
        ctx.set(dut.start, 1), ctx.set(dut.buf_addr, 0), ctx.set(dut.words, 3)
        await ctx.tick()
        ctx.set(dut.start, 0)
        i = 0
        for _ in range(200):
            ctx.set(dut.beats.valid, i < len(beats))
            ctx.set(dut.beats.payload.data, beats[i] if i < len(beats) else 0)
            if ctx.get(dut.write_en):
                got.append(HostWrite(Buffer(ctx.get(dut.write_sel)), ctx.get(dut.write_addr), ctx.get(dut.write_lane),
                                     ctx.get(dut.write_data)))
            i += int(i < len(beats) and ctx.get(dut.beats.ready))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == requant_writes(config, rq)
