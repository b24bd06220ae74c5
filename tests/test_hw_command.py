"""The LOAD path of the command processor (read DMA -> hw/command/load.py) in amaranth.sim.

Every ifmap and weight LOAD of small tiled layers (model/commands.py) runs against the AXI4
slave of tests/axi_models.py holding the layer's DRAM image, with seeded pauses on AR and R:
the host-port writes must be the reference's (tests/command_reference.py), in order. Without
pauses the unpacker writes one word per cycle once the first beat is in.
"""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.axi.read_dma import ReadDma
from hw.command.load import LoadUnpacker
from model.commands import build_image, word_bytes
from model.config import AcceleratorConfig
from model.contract import Buffer, Opcode
from model.data import random_operands
from model.program import HostWrite
from tests.axi_models import AxiSlaveMemory, Pauses
from tests.command_reference import load_writes
from tests.tiled_layers import TILING, tiled_cases


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
    got, gaps = [], []

    async def bench(ctx):
        dma, up = dut.dma, dut.unpack
        for cycle_budget, f in ((20000, f) for f in loads):
            for name, key in (("addr", "dram_addr"), ("run_bytes", "run_bytes"), ("count", "count"),
                              ("stride", "stride")):
                ctx.set(getattr(dma.cmd.payload, name), f[key])
            for name in ("buffer", "buf_addr", "words", "skip", "run_bytes"):
                ctx.set(getattr(up, name), f[name])
            ctx.set(dma.cmd.valid, 1)
            ctx.set(up.start, 1)
            writes, first, last = [], None, None
            for cycle in range(cycle_budget):
                slave.cycle = cycle
                slave.drive_read(ctx, dma.bus)
                slave.sample_read(ctx, dma.bus)
                if ctx.get(up.write_en):
                    writes.append(HostWrite(Buffer(ctx.get(up.write_sel)), ctx.get(up.write_addr),
                                            ctx.get(up.write_lane), ctx.get(up.write_data)))
                    first = cycle if first is None else first
                    last = cycle
                await ctx.tick()
                ctx.set(dma.cmd.valid, 0)
                ctx.set(up.start, 0)
                if cycle > 0 and not ctx.get(up.busy) and not ctx.get(dma.busy):
                    break
            else:
                raise AssertionError("LOAD did not end")
            got.append(writes)
            gaps.append(last - first + 1 - len(writes))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return loads, got, gaps


@pytest.mark.parametrize("kind, layer_name, pause", [
    ("8bit", "column-bands", 0.0), ("8bit", "channels", 0.3), ("16bit", "row-bands-stride2-pad1", 0.3),
    ("binary", "channels", 0.0),
])
def test_loads_write_the_reference_words(kind, layer_name, pause):
    bits = {"8bit": dict(bits=8), "16bit": dict(bits=16), "binary": dict(bits=1, pack=8)}[kind]
    config = AcceleratorConfig(**TILING, **bits)
    layer = tiled_cases(config)[layer_name]
    x, w = random_operands(layer, config.bits, np.random.default_rng(11))
    image = build_image(config, layer, x, w)
    loads, got, gaps = _run_loads(config, image, pause, seed=4)
    assert any(f["skip"] for f in loads) or layer_name != "column-bands", "the case should start runs mid-beat"
    for f, writes in zip(loads, got, strict=True):
        assert writes == load_writes(config, image.data, f)
    if pause == 0.0:
        # no pauses: from its first word to its last the unpacker writes a word every cycle
        assert gaps == [0] * len(loads)
