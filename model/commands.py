"""The DRAM image and command list the System (``hw/system.py``) runs for a whole layer.

The passes, their descriptors, the operand words and every bad-input check are
:mod:`model.program`'s (:func:`model.program.build_program`); this module only
places the tensors in DRAM and turns each pass into records of the contract's
command format (:func:`model.contract.pack_command`).

DRAM layout (byte addresses; every region starts on a multiple of :data:`ALIGN`):

* the command list at 0, :data:`model.contract.COMMAND_BYTES` per record;
* requantization parameters (if any): one :data:`model.contract.REQUANT_ENTRY_BYTES` entry per
  output channel, field ``f`` of :data:`model.contract.REQUANT_FIELDS` at bit
  ``REQUANT_ENTRY_FIELD_BITS * f`` (``total_shift`` = ``shift + 31``, as the host writes it);
* the input ``(n, cw, h, w)``: one word in a container of :func:`word_bytes` bytes, each row of
  ``W`` words padded to a whole number of beats;
* the weights per filter group ``g`` (``cols`` filters, zeros past ``M``): group ``g``, reduction
  word ``k = (cw*R + s_r)*S + s`` (over the whole ``Cw``), lane ``j`` at word ``(g*Kw + k)*cols + j``,
  so a tile's channel range is one run per group;
* the output ``(n, m, e, f)``: one output in a :class:`model.contract.StoreFormat` container,
  each row of ``F`` outputs padded to a whole number of beats.

Per pass: a LOAD per (image, channel word) of the input tile (``H`` runs of ``W`` words; a run
starts on the beat holding column ``w0``, ``skip`` drops the bytes before it), a LOAD per
filter group of the weight tile, the RUN, then (last channel tile) a STORE per (image, filter)
of the tile: ``E`` runs of ``F`` outputs (a column tile's runs may start inside a beat: the write
DMA strobes only the run's bytes of its first and last beats).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import AcceleratorConfig
from model.contract import (
    COMMAND_BYTES, REQUANT_ENTRY_BYTES, REQUANT_ENTRY_FIELD_BITS, REQUANT_FIELDS, Buffer, Opcode, StoreFormat,
    pack_command, reduction_words, words_per_pixel,
)
from model.layer import ConvLayer
from model.program import HostRun, RequantParams, _words, build_program
from model.tiling import plan

__all__ = ["ALIGN", "Command", "DramImage", "word_bytes", "store_format", "requant_entries", "build_image", "read_output"]

#: Alignment in bytes of every DRAM region (a 4 KiB page: no region shares a page).
ALIGN = 4096


@dataclass(frozen=True)
class Command:
    """One record: its opcode and fields (:func:`model.contract.command_fields`)."""

    opcode: Opcode
    fields: dict


@dataclass(frozen=True)
class DramImage:
    """A layer's DRAM contents and where everything is (byte addresses)."""

    data: bytes
    commands: tuple[Command, ...]
    cmd_addr: int
    ifmap_addr: int
    weight_addr: int
    requant_addr: int | None
    out_addr: int
    out_shape: tuple[int, int, int, int]
    out_format: StoreFormat
    out_pitch: int


def word_bytes(config: AcceleratorConfig) -> int:
    """Bytes of the DRAM container of one input or weight word: a power of two >= ``word_bits / 8``.

    Raises
    ------
    ValueError
        If the container is wider than one AXI beat.
    """
    size = 1
    while 8 * size < config.word_bits:
        size *= 2
    if size > config.axi_beat_bytes:
        raise ValueError(f"word_bits={config.word_bits} needs {size}-byte words, wider than the "
                         f"{config.axi_beat_bytes}-byte AXI beat (axi_data_bits={config.axi_data_bits})")
    return size


def store_format(config: AcceleratorConfig, requant: RequantParams | None) -> StoreFormat:
    """The output container: 1 byte for ``out_bits`` <= 8, 2 for <= 16, raw accumulators 4 bytes
    (8 when ``acc_bits`` > 32)."""
    if requant is None:
        return StoreFormat.RAW if config.acc_bits <= 32 else StoreFormat.RAW_WIDE
    return StoreFormat.BYTE if requant.out_bits <= 8 else StoreFormat.HALF


def _pad(nbytes: int, to: int) -> int:
    return -(-nbytes // to) * to


def requant_entries(rq: RequantParams) -> bytes:
    """The DRAM bytes of the requantization parameters: one entry per channel (module notes)."""
    values = {"bias": rq.bias, "multiplier": rq.multiplier, "total_shift": np.asarray(rq.shift) + 31}
    out = bytearray()
    for m in range(len(rq.bias)):
        entry = 0
        for f, (name, width) in enumerate(REQUANT_FIELDS):
            entry |= (int(values[name][m]) & ((1 << width) - 1)) << (REQUANT_ENTRY_FIELD_BITS * f)
        out += entry.to_bytes(REQUANT_ENTRY_BYTES, "little")
    return bytes(out)


def _rows(words: np.ndarray, wb: int, pitch: int) -> bytes:
    """Little-endian ``wb``-byte containers of the last axis of ``words``, each row padded to ``pitch``."""
    rows = words.reshape(-1, words.shape[-1]).astype(np.uint64)
    out = np.zeros((rows.shape[0], pitch), np.uint8)
    for b in range(wb):
        out[:, b:rows.shape[1] * wb:wb] = (rows >> np.uint64(8 * b)) & np.uint64(0xFF)
    return out.tobytes()


def _weight_words(config: AcceleratorConfig, layer: ConvLayer, ww: np.ndarray) -> np.ndarray:
    """``(groups, Kw, cols)``: word ``(g*Kw + k)*cols + j`` is filter ``g*cols + j``, reduction word ``k``."""
    cols = config.cols
    groups = -(-layer.M // cols)
    flat = np.zeros((groups * cols, ww[0].size), np.int64)
    flat[:layer.M] = ww.reshape(layer.M, -1)
    return flat.reshape(groups, cols, -1).transpose(0, 2, 1)


def build_image(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
                requant: RequantParams | None = None) -> DramImage:
    """The DRAM image and command list of ``layer`` (see the module notes).

    Parameters
    ----------
    x, w, requant
        As :func:`model.program.build_program` (which checks them and gives the descriptors).

    Raises
    ------
    ValueError
        Everything :func:`model.program.build_program` refuses; a word wider than a beat
        (:func:`word_bytes`).
    """
    runs = [op for op in build_program(config, layer, x, w, requant) if isinstance(op, HostRun)]
    passes = plan(config, layer).passes
    beat, wb, fmt = config.axi_beat_bytes, word_bytes(config), store_format(config, requant)
    xw, ww = _words(config, x), _words(config, w)
    cw_all = words_per_pixel(config, layer)
    in_pitch, out_pitch = _pad(layer.W * wb, beat), _pad(layer.F * int(fmt), beat)
    wgt = _weight_words(config, layer, ww)
    kw_all = wgt.shape[1]

    args = (config, layer, passes, runs, requant, fmt, in_pitch, out_pitch, kw_all, cw_all, wb)
    n_records = len(list(_records(*args, 0, 0, 0, 0)))  # the list's length fixes every later address
    cmd_addr = 0
    requant_addr = _pad(n_records * COMMAND_BYTES, ALIGN) if requant is not None else None
    ifmap_addr = _pad(n_records * COMMAND_BYTES if requant is None
                      else requant_addr + layer.M * REQUANT_ENTRY_BYTES, ALIGN)
    weight_addr = _pad(ifmap_addr + layer.N * cw_all * layer.H * in_pitch, ALIGN)
    out_addr = _pad(weight_addr + wgt.size * wb, ALIGN)
    end = _pad(out_addr + layer.N * layer.M * layer.E * out_pitch, ALIGN)
    commands = tuple(_records(*args, requant_addr, ifmap_addr, weight_addr, out_addr))

    data = bytearray(end)
    for i, c in enumerate(commands):
        data[i * COMMAND_BYTES:(i + 1) * COMMAND_BYTES] = pack_command(config, c.opcode, c.fields).to_bytes(
            COMMAND_BYTES, "little")
    if requant is not None:
        blob = requant_entries(requant)
        data[requant_addr:requant_addr + len(blob)] = blob
    blob = _rows(xw, wb, in_pitch)
    data[ifmap_addr:ifmap_addr + len(blob)] = blob
    blob = _rows(wgt.reshape(1, -1), wb, wgt.size * wb)
    data[weight_addr:weight_addr + len(blob)] = blob
    return DramImage(bytes(data), commands, cmd_addr, ifmap_addr, weight_addr, requant_addr, out_addr,
                     (layer.N, layer.M, layer.E, layer.F), fmt, out_pitch)


def _records(config, layer, passes, runs, requant, fmt, in_pitch, out_pitch, kw_all, cw_all, wb,
             requant_addr, ifmap_addr, weight_addr, out_addr):
    """Every command, in order (addresses from the bases given)."""
    beat, cols = config.axi_beat_bytes, config.cols
    if requant is not None:
        n = len(requant.bias)
        yield Command(Opcode.LOAD, dict(buffer=Buffer.REQUANT, buf_addr=0, words=n, skip=0, dram_addr=requant_addr,
                                        run_bytes=n * REQUANT_ENTRY_BYTES, count=1, stride=0))
    for ps, run in zip(passes, runs, strict=True):
        t = ps.tile
        if ps.load_ifmap:
            lead = ps.w0 * wb
            skip = lead % beat
            for nl in range(t.N):
                for cl in range(ps.cw_count):
                    row0 = ((ps.n0 + nl) * cw_all + ps.cw0 + cl) * layer.H + ps.h0
                    yield Command(Opcode.LOAD, dict(
                        buffer=Buffer.IFMAP, buf_addr=(nl * ps.cw_count + cl) * t.H * t.W, words=t.H * t.W,
                        skip=skip, dram_addr=ifmap_addr + row0 * in_pitch + lead - skip,
                        run_bytes=skip + t.W * wb, count=t.H, stride=in_pitch))
        if ps.load_weights:
            kw = reduction_words(config, t)
            k0 = ps.cw0 * t.R * t.S
            for gl in range(-(-t.M // cols)):
                g = ps.m0 // cols + gl
                lead = weight_addr + (g * kw_all + k0) * cols * wb
                skip = lead % beat
                yield Command(Opcode.LOAD, dict(
                    buffer=Buffer.WEIGHT, buf_addr=gl * kw, words=kw * cols, skip=skip,
                    dram_addr=lead - skip, run_bytes=skip + kw * cols * wb, count=1, stride=0))
        yield Command(Opcode.RUN, dict(desc=run.desc))
        if ps.read_out:
            p = run.fields["P"]
            for nl in range(t.N):
                for ml in range(t.M):
                    n, m = ps.n0 + nl, ps.m0 + ml
                    row0 = (n * layer.M + m) * layer.E + ps.e0
                    yield Command(Opcode.STORE, dict(
                        format=fmt, line=(ml // cols) * p + nl * t.E * t.F, lane=ml % cols,
                        chan=m if requant is not None else 0, per_run=t.F,
                        dram_addr=out_addr + row0 * out_pitch + ps.f0 * int(fmt), run_bytes=t.F * int(fmt),
                        count=t.E, stride=out_pitch))


def read_output(image: DramImage, dump: bytes) -> np.ndarray:
    """The ``(n, m, e, f)`` output tensor (int64, sign-extended from its container) in a dumped DRAM image."""
    n, m, e, f = image.out_shape
    size = int(image.out_format)
    raw = np.frombuffer(dump, np.uint8, count=n * m * e * image.out_pitch, offset=image.out_addr)
    rows = raw.reshape(n * m * e, image.out_pitch)[:, :f * size]
    values = rows.copy().view({1: "<i1", 2: "<i2", 4: "<i4", 8: "<i8"}[size]).astype(np.int64)
    return values.reshape(n, m, e, f)
