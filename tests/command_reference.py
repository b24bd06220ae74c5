"""A reference for the command list (written from model/contract.py's format, not from the RTL):
the host-port writes a LOAD record makes from the DRAM bytes."""

import dataclasses
from dataclasses import dataclass

import numpy as np

from model.commands import DramImage, build_image, word_bytes
from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands
from model.layer import ConvLayer
from model.contract import Buffer, Opcode
from model.program import HostWrite, RequantParams
from tests.tiled_layers import TILING, tiled_cases


def run_starts(f: dict):
    """Byte address of every run of a LOAD's or STORE's DMA command, in order (blocks, then runs)."""
    for b in range(1 + f["repeat"]):
        for r in range(f["count"]):
            yield f["dram_addr"] + b * f["repeat_stride"] + r * f["stride"]


def moved(f: dict) -> int:
    """Bytes a LOAD's or STORE's runs move."""
    return f["run_bytes"] * f["count"] * (1 + f["repeat"])


def run_bytes(f: dict, word: int = 1):
    """Byte addresses of a LOAD's or STORE's runs, in order, the leading ``skip`` bytes excluded; of a
    LOAD with ``step`` > 1, only those of every ``step``-th ``word``-byte word from the first."""
    skip, step = f.get("skip", 0), f.get("step", 1)
    for start in run_starts(f):
        for at in range(start + skip, start + f["run_bytes"], step * word):
            yield from range(at, at + word)


def load_writes(config, dram, f: dict) -> list:
    """The host writes of an ifmap or weight LOAD with fields ``f`` on DRAM bytes ``dram``."""
    wb = word_bytes(config)
    data = bytes(dram[b] for b in run_bytes(f, wb))
    assert len(data) == f["words"] * wb
    out = []
    for k in range(f["words"]):
        v = int.from_bytes(data[k * wb:(k + 1) * wb], "little")
        if f["buffer"] == Buffer.WEIGHT:
            out.append(HostWrite(Buffer.WEIGHT, f["buf_addr"] + k // config.cols, k % config.cols, v))
        else:
            out.append(HostWrite(Buffer(f["buffer"]), f["buf_addr"] + k, 0, v))
    return out


def pass_values(ops, golden) -> list:
    """Per RUN of a host program: the golden output each (psum line, lane) read after it holds."""
    from model.program import HostRead, HostRun

    per_pass = []
    for op in ops:
        if isinstance(op, HostRun):
            per_pass.append({})
        elif isinstance(op, HostRead):
            per_pass[-1][(op.addr, op.lane)] = golden[op.index]
    return per_pass


#: The byte the output region holds before the stores.
SENTINEL = 0xA5


def assert_outside_runs_untouched(image, dump):
    """Every byte of the output region outside the STORE runs still holds :data:`SENTINEL`."""
    out = np.frombuffer(dump, np.uint8)[image.out_addr:]
    covered = np.zeros(out.size, bool)
    for c in image.commands:
        if c.opcode is Opcode.STORE:
            f = c.fields
            for start in run_starts(f):
                covered[start - image.out_addr:start - image.out_addr + f["run_bytes"]] = True
    region = slice(0, image.out_bytes)
    assert (out[region][~covered[region]] == SENTINEL).all(), "a byte outside every STORE run was written"


@dataclass(frozen=True)
class MidBeatCase:
    """Requantized 1-byte outputs of column tiles, whose STORE runs start inside a beat, and the
    output region filled with :data:`SENTINEL` before the layer (``expected``: the golden outputs)."""

    config: AcceleratorConfig
    layer: ConvLayer
    image: DramImage
    expected: np.ndarray
    stores: list


def mid_beat_case() -> MidBeatCase:
    """The column-band case of :func:`tests.tiled_layers.tiled_cases` with requantized 8-bit outputs."""
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
    data[image.out_addr:image.out_addr + image.out_bytes] = SENTINEL
    return MidBeatCase(config, layer, dataclasses.replace(image, data=data.tobytes()),
                       rq.apply(conv2d_layer(x, w, layer, config.bits)), stores)
