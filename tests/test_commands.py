"""The System's DRAM image and command list (model/commands.py) against the host program and the golden conv.

A reference interpreter written here from the command format of model/contract.py reads the
records out of the DRAM bytes, executes each LOAD as host-port writes (word by word from the
strided runs) and each STORE by writing the golden output of each psum line into DRAM; the
writes must be the host program's (model/program.py, itself checked against the RTL), the runs
its descriptors, and the output tensor read back from DRAM must be the golden conv.
"""

import dataclasses

import numpy as np
import pytest

from model.commands import build_image, read_output, store_format, system_plan
from model.config import AcceleratorConfig
from model.contract import (
    COMMAND_BYTES, REQUANT_ENTRY_BYTES, REQUANT_ENTRY_FIELD_BITS, REQUANT_FIELD_STRIDE, REQUANT_FIELDS, Buffer, Opcode, pack_command,
    requant_address, unpack_command, unpack_descriptor,
)
from model.conv import conv2d_layer
from model.data import random_operands
from model.program import HostRead, HostRun, HostWrite, RequantParams, build_program
from model.tiling import plan
from tests.command_reference import load_writes, pass_values, run_bytes
from tests.tiled_layers import STRIDED_1X1, SYSTEM_TILING, TILING, tiled_cases


def _extent(d: dict) -> tuple[range, range, range]:
    """The ifmap words, weight lines and psum lines a pass with descriptor fields ``d`` uses."""
    images = d["P"] // (d["E"] * d["F"])
    return (range(d["ibase"], d["ibase"] + images * d["CwHW"]), range(d["wbase"], d["wbase"] + d["m_groups"] * d["Kw"]),
            range(d["pbase"], d["pbase"] + d["m_groups"] * d["P"]))


def _meets(a: range, b: range) -> bool:
    return a.start < b.stop and b.start < a.stop


def _interpret(config, image, golden_at):
    """Execute the image's commands with the System's overlap (a RUN waits for the running pass, a
    SYNC too; LOADs and STOREs run beside it), asserting that no LOAD writes what the running pass
    reads and no STORE reads what it writes: (host writes, each relative to the bases of the RUN it
    precedes, each RUN's descriptor fields, DRAM after the stores)."""
    dram = bytearray(image.data)
    writes, descs, values, segment = [], [], {}, []
    running = None                      # (descriptor fields, pass index) of the running pass
    count = len(image.commands)

    def finish():                       # the running pass ends: its outputs are in the psum buffer
        if running is not None:
            d, k = running
            values.update({(d["pbase"] + line, lane): v for (line, lane), v in golden_at(k).items()})

    for i in range(count):
        word = int.from_bytes(dram[image.cmd_addr + i * COMMAND_BYTES:image.cmd_addr + (i + 1) * COMMAND_BYTES], "little")
        op, f = unpack_command(config, word)
        if op is Opcode.LOAD:
            if f["buffer"] == Buffer.REQUANT:
                data = bytes(dram[b] for b in run_bytes(f))
                for c in range(f["words"]):
                    entry = int.from_bytes(data[c * REQUANT_ENTRY_BYTES:(c + 1) * REQUANT_ENTRY_BYTES], "little")
                    for fi, (_, width) in enumerate(REQUANT_FIELDS):
                        value = (entry >> (REQUANT_ENTRY_FIELD_BITS * fi)) & ((1 << width) - 1)
                        chunks = -(-width // config.word_bits)
                        for k in range(chunks):
                            chunk = (value >> (config.word_bits * (chunks - 1 - k))) & ((1 << config.word_bits) - 1)
                            segment.append(HostWrite(Buffer.REQUANT, requant_address(f["buf_addr"] + c, fi),
                                                     int(k == chunks - 1), chunk))
                continue
            if running is not None:
                weights = f["buffer"] == Buffer.WEIGHT
                lines = range(f["buf_addr"], f["buf_addr"] + (f["words"] // config.cols if weights else f["words"]))
                assert not _meets(lines, _extent(running[0])[1 if weights else 0]), "a LOAD overwrites a running pass's operands"
            segment += load_writes(config, dram, f)
        elif op is Opcode.RUN:
            finish()
            d = unpack_descriptor(config, f["desc"])
            bases = {Buffer.IFMAP: d["ibase"], Buffer.WEIGHT: d["wbase"], Buffer.REQUANT: 0}
            writes += [HostWrite(w.sel, w.addr - bases[w.sel], w.lane, w.data) for w in segment] + [op]
            segment = []
            descs.append(d)
            running = (d, len(descs) - 1)
        elif op is Opcode.SYNC:
            finish()
            running = None
        else:
            size = f["format"]
            out = bytearray()
            for b in range(1 + f["repeat"]):       # block b: the b-th filter group, every lane of each line
                first = f["line"] + b * f["group_lines"]
                for r in range(f["count"]):
                    for j in range(f["per_run"]):
                        line = first + r * f["per_run"] + j
                        assert running is None or line not in _extent(running[0])[2], "a STORE reads a running pass's sums"
                        for lane in range(config.cols):     # a lane of no filter (past M): 0 here
                            out += int(values.get((line, lane), 0)).to_bytes(size, "little", signed=True)
            for b, v in zip(run_bytes(f), out, strict=True):
                dram[b] = v
    assert running is None, "the list ends while a pass runs"
    return writes, descs, bytes(dram)


def _segments(ops):
    """The writes between runs: requantization writes in order, the others as a set."""
    out, cur = [], []
    for op in ops + [Opcode.RUN]:
        if op is Opcode.RUN:
            rq = [w for w in cur if w.sel == Buffer.REQUANT]
            rest = {(w.sel, w.addr, w.lane, w.data) for w in cur if w.sel != Buffer.REQUANT}
            out.append((rq, rest))
            cur = []
        else:
            cur.append(op)
    return out


def _check(config, layer, x, w, rq, golden):
    """The image against the host program of the same passes (on the buffers' halves when the System
    double-buffers the layer), writes and descriptors taken relative to each pass's bases."""
    passes, double, step = system_plan(config, layer)
    half = config.replace(ifmap_depth=config.ifmap_depth // 2, weight_depth=config.weight_depth // 2,
                          psum_depth=config.psum_depth // 2) if double else config
    # a strided 1x1 layer runs as the stride-1 layer over the inputs it reads
    planned = layer if step == 1 else dataclasses.replace(layer, H=layer.E, W=layer.F, stride=1)
    ops = build_program(half, planned, x[:, :, ::step, ::step], w, rq, passes)
    assert [op for op in ops if isinstance(op, HostRun)] and len(passes) == sum(isinstance(op, HostRun) for op in ops)
    image = build_image(config, layer, x, w, rq)
    per_pass = pass_values(ops, golden)
    writes, descs, dram = _interpret(config, image, lambda k: per_pass[k])
    zero = dict.fromkeys(("ibase", "wbase", "pbase"), 0)
    host = [unpack_descriptor(half, op.desc) for op in ops if isinstance(op, HostRun)]
    assert [d | zero for d in descs] == host
    # between two runs the same buffer words are written (any order but the requantization
    # parameters', which stage chunks); the weight LOADs also write the zero lanes of the
    # filters past M in the last group, the requantization LOAD zero entries for their channels
    got = _segments(writes)
    want = _segments([Opcode.RUN if isinstance(op, HostRun) else op for op in ops if isinstance(op, HostWrite | HostRun)])
    assert len(got) == len(want)
    for (g_rq, g_rest), (w_rq, w_rest) in zip(got, want):
        assert g_rq[:len(w_rq)] == w_rq and w_rest <= g_rest
        pad = g_rq[len(w_rq):]
        assert all(op.data == 0 and op.addr // REQUANT_FIELD_STRIDE in range(layer.M, -(-layer.M // config.cols) * config.cols)
                   for op in pad)
        assert not w_rq or len(pad) == len(w_rq) // layer.M * (-layer.M % config.cols)
        assert all(sel == Buffer.WEIGHT and data == 0 for sel, _, _, data in g_rest - w_rest)
    np.testing.assert_array_equal(read_output(image, dram), golden)
    assert len(image.data) % 4096 == 0


CONFIGS = {"8bit": dict(bits=8), "16bit": dict(bits=16), "binary": dict(bits=1, pack=8)}


@pytest.mark.parametrize("kind", sorted(CONFIGS))
@pytest.mark.parametrize("tiling", ["single", "double"])
def test_tiled_layers_match_program_and_conv(kind, tiling):
    config = AcceleratorConfig(**(TILING if tiling == "single" else SYSTEM_TILING), **CONFIGS[kind])
    for name, layer in tiled_cases(AcceleratorConfig(**TILING, **CONFIGS[kind])).items():
        assert system_plan(config, layer).double == (tiling == "double")
        x, w = random_operands(layer, config.bits, np.random.default_rng(7))
        _check(config, layer, x, w, None, conv2d_layer(x, w, layer, config.bits))


def test_requantized_layer_matches_program_and_conv():
    config = AcceleratorConfig(**TILING)
    layer = tiled_cases(config)["channels"]
    x, w = random_operands(layer, config.bits, np.random.default_rng(3))
    rng = np.random.default_rng(5)
    rq = RequantParams(bias=rng.integers(-500, 500, layer.M), multiplier=rng.integers(1 << 29, 1 << 30, layer.M),
                       shift=rng.integers(-8, -2, layer.M), zero_point=-3, out_bits=8, relu=True)
    golden = rq.apply(conv2d_layer(x, w, layer, config.bits))
    _check(config, layer, x, w, rq, golden)
    assert store_format(config, rq) == 1


def test_record_hand_worked():
    config = AcceleratorConfig()
    word = pack_command(config, Opcode.RUN, {"desc": 5})
    assert word == 2 | 5 << 8
    assert unpack_command(config, word) == (Opcode.RUN, {"desc": 5})


@pytest.mark.parametrize("bad, match", [({"desc": -1}, "desc=-1"), ({"x": 1}, "fields must be")])
def test_bad_record_fields(bad, match):
    with pytest.raises(ValueError, match=match):
        pack_command(AcceleratorConfig(), Opcode.RUN, bad)


def test_bad_opcode():
    with pytest.raises(ValueError, match="opcode 0"):
        unpack_command(AcceleratorConfig(), 0)


def test_unaligned_column_tile_stores_start_mid_beat():
    """Requantized 1-byte outputs of column tiles: a tile's runs start inside a beat (the write DMA
    strobes only the run's bytes of its first beat), at the byte of their first output."""
    config = AcceleratorConfig(**TILING)
    layer = tiled_cases(config)["column-bands"]
    x, w = random_operands(layer, config.bits, np.random.default_rng(1))
    rq = RequantParams(bias=np.zeros(layer.M, int), multiplier=np.full(layer.M, 1 << 30), shift=np.full(layer.M, -4),
                       zero_point=0, out_bits=8)
    image = build_image(config, layer, x, w, rq)
    stores = [c.fields for c in image.commands if c.opcode is Opcode.STORE]
    assert any(f["dram_addr"] % config.axi_beat_bytes for f in stores)
    assert layer.N == 1
    passes = [p for p in plan(config, layer).passes if p.read_out]
    cols = config.cols
    for f, ps in zip(stores, passes, strict=True):   # one STORE per image: a block of rows per filter group
        row0 = ps.m0 // cols * layer.E + ps.e0     # channel-blocked: (n, group, e, f, lane), one byte each
        assert f["dram_addr"] == image.out_addr + row0 * image.out_pitch + ps.f0 * cols
        assert f["run_bytes"] == ps.tile.F * cols and f["repeat"] == -(-ps.tile.M // cols) - 1
        assert f["repeat_stride"] == layer.E * image.out_pitch


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_strided_1x1_layer_loads_only_the_inputs_it_reads(kind):
    config = AcceleratorConfig(**SYSTEM_TILING, **CONFIGS[kind])
    layer = STRIDED_1X1
    sp = system_plan(config, layer)
    assert sp.step == 2 and sp.double and len(sp.passes) > 1
    x, w = random_operands(layer, config.bits, np.random.default_rng(9))
    _check(config, layer, x, w, None, conv2d_layer(x, w, layer, config.bits))
    image = build_image(config, layer, x, w)
    words = sum(c.fields["words"] for c in image.commands if c.opcode is Opcode.LOAD and c.fields["buffer"] == Buffer.IFMAP)
    cw = -(-layer.C // config.channels_per_word)
    assert words == layer.N * cw * layer.E * layer.F   # each input the layer reads, once
