"""The DRAM image and command list the System (``hw/system.py``) runs for a whole layer.

The passes are :func:`system_plan`'s (double-buffered: tiles that fit half of every buffer), their
descriptors and every bad-input check :mod:`model.program`'s (:func:`model.program.pass_run`,
:func:`model.program.check_program`); this module places the tensors in DRAM, the tiles in the
buffers' halves, and turns each pass into records of the contract's command format
(:func:`model.contract.pack_command`).

DRAM layout (byte addresses; every region starts on a multiple of :data:`ALIGN`):

* the command list at 0, :data:`model.contract.COMMAND_BYTES` per record;
* requantization parameters (if any): one :data:`model.contract.REQUANT_ENTRY_BYTES` entry per
  output channel, field ``f`` of :data:`model.contract.REQUANT_FIELDS` at bit
  ``REQUANT_ENTRY_FIELD_BITS * f`` (``total_shift`` = ``shift + 31``, as the host writes it);
* the input ``(n, cw, h, w)``: one word in a container of :func:`word_bytes` bytes, each row of
  ``W`` words padded to a whole number of beats; a depthwise layer's input is channel-blocked like
  an output, ``(n, ceil(C / cols), h, w, cols)`` (one channel per word, zeros past ``C``; each row of
  ``W`` lines padded to beats), so that a pixel's channels of a group are a line
  (:mod:`model.depthwise`) -- the layout a previous layer's outputs already have;
* the weights per filter group ``g`` (``cols`` filters, zeros past ``M``): group ``g``, reduction
  word ``k = (cw*R + s_r)*S + s`` (over the whole ``Cw``), lane ``j`` at word ``(g*Kw + k)*cols + j``,
  so a tile's channel range is one run per group;
* the output channel-blocked, ``(n, ceil(M / cols), e, f, cols)`` (oneDNN's ``nChw8c`` on the 8x8
  array): one output in a :class:`model.contract.StoreFormat` container, the ``cols`` channels of a
  filter group at each pixel side by side (a psum line: the STORE engine moves a line per read),
  each row of ``F`` pixels padded to a whole number of beats; the channels past ``M`` of the last
  group hold what the array computed for them (zero weights) and are not read back.

Per pass: a LOAD per image of the input tile (a block of ``H`` runs of ``W`` words per channel
word; a run starts on the beat holding column ``w0``, ``skip`` drops the bytes before it), a LOAD
of the weight tile (a run per filter group; a LOAD per group when the groups' runs start at
different bytes of a beat), the RUN, then (last channel tile) a STORE per image of the tile: a
block of ``E`` runs of ``F`` pixels per filter group (a column tile's runs may start inside a beat:
the write DMA strobes only the run's bytes of its first and last beats).

Order (the overlap): pass ``i``'s LOADs go into the halves pass ``i-1`` (still running) does not
read, then RUN ``i`` (which waits for pass ``i-1`` to end), then the STOREs of pass ``i-1``'s outputs
from the psum half pass ``i`` does not write; a SYNC ends the list before the last outputs' STOREs.
So loads of the next tile and stores of the previous one run while a tile computes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from model.config import AcceleratorConfig
from model.contract import (  # word_bytes (the DRAM container of a word) is re-exported
    COMMAND_BYTES, REQUANT_CHANNELS, REQUANT_ENTRY_BYTES, REQUANT_ENTRY_FIELD_BITS, REQUANT_FIELDS, Buffer, Opcode, StoreFormat,
    fold_groups_reads, ifmap_tile_words, pack_command, reduction_words, word_bytes,
)
from model.depthwise import depthwise_passes, native
from model.grouped import blocks, grouped_passes
from model.layer import ConvLayer
from model.program import RequantParams, _words, check_program, pass_run
from model.tiling import Objective, Pass, plan

__all__ = ["ALIGN", "Command", "DramImage", "word_bytes", "store_format", "requant_entries", "SystemPlan", "system_plan", "overlapped_starts", "build_image",
           "read_output", "output_rows", "pad_value"]

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
    out_block: int

    @property
    def out_bytes(self) -> int:
        """Bytes of the output region (channel-blocked: ``ceil(m / out_block)`` groups of ``e`` rows per image)."""
        n, m, e, _ = self.out_shape
        return n * -(-m // self.out_block) * e * self.out_pitch


def store_format(config: AcceleratorConfig, requant: RequantParams | None) -> StoreFormat:
    """The output container: 1 byte for ``out_bits`` <= 8, 2 for <= 16, raw accumulators 4 bytes
    (8 when ``acc_bits`` > 32)."""
    if requant is None:
        return StoreFormat.RAW if config.acc_bits <= 32 else StoreFormat.RAW_WIDE
    return StoreFormat.BYTE if requant.out_bits <= 8 else StoreFormat.HALF


def _padded(config: AcceleratorConfig, rq: RequantParams | None) -> RequantParams | None:
    """``rq`` with zero entries (bias 0, multiplier 0, total shift 0) for the channels past ``M`` of the
    last filter group, so that those lanes of a psum line store :func:`pad_value` (not a stale entry's)."""
    if rq is None:
        return None
    extra = min(-(-len(rq.bias) // config.cols) * config.cols, REQUANT_CHANNELS) - len(rq.bias)
    if extra <= 0:
        return rq
    return dataclasses.replace(rq, bias=np.concatenate([rq.bias, np.zeros(extra, np.int64)]),
                               multiplier=np.concatenate([rq.multiplier, np.zeros(extra, np.int64)]),
                               shift=np.concatenate([rq.shift, np.full(extra, -31, np.int64)]))


def pad_value(rq: RequantParams | None) -> int:
    """What the lanes past ``M`` of the last filter group store: 0 raw (their filters' weights are zero),
    the zero point clamped to the output range requantized."""
    if rq is None:
        return 0
    lo, hi = -(1 << (rq.out_bits - 1)), (1 << (rq.out_bits - 1)) - 1
    return int(np.clip(rq.zero_point, max(lo, rq.zero_point) if rq.relu else lo, hi))


def output_rows(image: DramImage, out: np.ndarray, fill: int) -> tuple[np.ndarray, np.ndarray]:
    """The start address and bytes of every output row the STOREs write for the ``(n, m, e, f)`` tensor
    ``out`` (the inverse of :func:`read_output`; the lanes past ``m`` hold ``fill``, :func:`pad_value`)."""
    n, m, e, f = image.out_shape
    size, block = int(image.out_format), image.out_block
    groups = -(-m // block)
    full = np.full((n, groups * block, e, f), fill, np.int64)
    full[:, :m] = out
    blocked = full.reshape(n, groups, block, e, f).transpose(0, 1, 3, 4, 2)      # (n, group, e, f, lane)
    rows = np.ascontiguousarray(blocked.astype(f"<i{size}")).view(np.uint8).reshape(n * groups * e, f * block * size)
    return image.out_addr + np.arange(n * groups * e) * image.out_pitch, rows


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


def _input_words(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray) -> np.ndarray:
    """The input's words as DRAM holds them, ``(n, blocks, h, row words)`` (module notes): ``(n, cw, h, w)``,
    or for a depthwise layer run natively ``(n, ceil(C / cols), h, w * cols)`` of one channel per word
    (a binary channel's bit is the word's bit 0)."""
    if not native(config, layer):
        return _words(config, x)
    cols = config.cols
    groups = -(-layer.C // cols)
    words = np.zeros((layer.N, groups * cols, layer.H, layer.W), np.int64)
    words[:, :layer.C] = np.asarray(x, np.int64) & ((1 << config.bits) - 1)
    return words.reshape(layer.N, groups, cols, layer.H, layer.W).transpose(0, 1, 3, 4, 2).reshape(
        layer.N, groups, layer.H, layer.W * cols)


def _dense(layer: ConvLayer, w: np.ndarray) -> np.ndarray:
    """The ``(M, C, R, S)`` weights of the grouped ``layer``: filter ``m``'s over its group's channels, 0 elsewhere."""
    dense = np.zeros((layer.M, layer.C, layer.R, layer.S), np.int64)
    cg, mg = layer.C // layer.groups, layer.M // layer.groups
    for m in range(layer.M):
        dense[m, m // mg * cg:(m // mg + 1) * cg] = w[m]
    return dense


def _weight_words(config: AcceleratorConfig, layer: ConvLayer, ww: np.ndarray) -> np.ndarray:
    """``(groups, Kw, cols)``: word ``(g*Kw + k)*cols + j`` is filter ``g*cols + j``, reduction word ``k``."""
    cols = config.cols
    groups = -(-layer.M // cols)
    flat = np.zeros((groups * cols, ww[0].size), np.int64)
    flat[:layer.M] = ww.reshape(layer.M, -1)
    return flat.reshape(groups, cols, -1).transpose(0, 2, 1)


class SystemPlan(NamedTuple):
    """The System's passes of a layer (:func:`system_plan`).

    ``passes``: of ``layer``, or of its subsampled equivalent when ``step`` > 1; ``double``: tiles fit
    half of every buffer (double-buffered); ``step``: a 1x1 layer of stride ``step`` without padding
    runs as the 1x1 stride-1 layer over every ``step``-th input row and column (``E x F`` inputs),
    which its LOADs pick out of the input in DRAM (rows by their stride, columns by ``step``).
    """

    passes: tuple[Pass, ...]
    double: bool
    step: int


def _across_groups(config: AcceleratorConfig, passes: tuple[Pass, ...]) -> tuple[Pass, ...]:
    """``passes`` with ``fold_groups`` set (:attr:`model.contract.Tile.fold_groups`) where the build has it
    (the System's OS builds with line reads: a second weight read port) and it saves folds: a one-image
    tile of several filter groups whose pixels do not fill whole folds, with a fold of pixels or more
    (so that a fold holds two groups at most) -- a 7x7 layer's 49 pixels a group, say."""
    if not fold_groups_reads(config, word_bytes(config)):
        return passes
    span, out = config.rows * config.rf_sets, []
    for ps in passes:
        t = ps.tile
        groups, pixels = -(-t.M // config.cols), t.E * t.F
        if not t.fold_groups and t.N == 1 and groups > 1 and pixels >= span and pixels % span:
            ps = dataclasses.replace(ps, tile=dataclasses.replace(t, fold_groups=True))
        out.append(ps)
    return tuple(out)


def _planned(config: AcceleratorConfig, layer: ConvLayer, objective: Objective, step: int) -> tuple[Pass, ...]:
    """The passes of ``layer`` on buffers of ``config``'s sizes: :mod:`model.depthwise`'s for a depthwise
    layer the build runs natively, :mod:`model.grouped`'s for another grouped one, else
    :func:`model.tiling.plan`'s by ``objective``."""
    if native(config, layer):
        return depthwise_passes(config, layer)
    if layer.groups > 1:
        return _across_groups(config, grouped_passes(config, layer, objective))
    return _across_groups(config, plan(config, layer, objective, step=step).passes)


def _subsampled(config: AcceleratorConfig, layer: ConvLayer) -> int:
    """The ``step`` of :class:`SystemPlan`: the stride of a 1x1 layer without padding whose skipped
    inputs a LOAD can drop (at most a beat's words apart), else 1."""
    per_beat = config.axi_beat_bytes // word_bytes(config)
    if layer.R == layer.S == 1 and layer.pad == 0 and 1 < layer.stride <= per_beat:
        return layer.stride
    return 1


def system_plan(config: AcceleratorConfig, layer: ConvLayer, objective: Objective = Objective.OVERLAP) -> SystemPlan:
    """The System's passes of ``layer`` (:class:`SystemPlan`), tiles chosen by ``objective``.

    The plan (:func:`model.tiling.plan`, by :attr:`~model.tiling.Objective.OVERLAP` at the default
    :class:`~model.dram.DramConfig`) of tiles that fit half of every buffer, so that a pass's
    successor loads into the other half while it runs, and its outputs are stored from one half of
    the psum buffer while the next output tile accumulates in the other; a layer that cannot be
    tiled into halves gets the whole buffers (its transfers wait for the passes, :data:`Opcode.SYNC`).
    A strided 1x1 layer is planned as its subsampled stride-1 equivalent (same outputs, ``1/step**2``
    of the input words); a depthwise layer as :mod:`model.depthwise` says, another grouped one as
    :mod:`model.grouped` says.

    Raises
    ------
    ValueError
        What :func:`model.tiling.plan` (:func:`model.depthwise.depthwise_passes`) refuses on the whole buffers.
    """
    step = 1 if layer.groups > 1 else _subsampled(config, layer)
    if layer.groups > 1 and not native(config, layer):
        blocks(config, layer)   # its reason, not a buffer's
    planned = layer if step == 1 else dataclasses.replace(layer, H=layer.E, W=layer.F, stride=1)
    try:
        half = config.replace(ifmap_depth=config.ifmap_depth // 2, weight_depth=config.weight_depth // 2,
                              psum_depth=config.psum_depth // 2)
        return SystemPlan(_planned(half, planned, objective, step), True, step)
    except ValueError:
        return SystemPlan(_planned(config, planned, objective, step), False, step)


def _bases(config: AcceleratorConfig, passes: tuple[Pass, ...], double: bool) -> list[tuple[int, int, int]]:
    """Each pass's (ibase, wbase, pbase): the half of a buffer flips with every new tile it holds."""
    sizes = (config.ifmap_depth // 2, config.weight_depth // 2, config.psum_depth // 2)
    halves, out = [0, 0, 0], []
    for i, ps in enumerate(passes):
        if double and i:
            halves = [h ^ flip for h, flip in zip(halves, (ps.load_ifmap, ps.load_weights, not ps.accumulate))]
        out.append(tuple(h * size for h, size in zip(halves, sizes)))
    return out


def _regions(config: AcceleratorConfig, ps: Pass, bases: tuple[int, int, int]) -> tuple[range, range, range]:
    """The ifmap words, weight lines and psum lines pass ``ps`` uses (at ``bases``)."""
    t = ps.tile
    groups = -(-t.M // config.cols)
    return (range(bases[0], bases[0] + ifmap_tile_words(config, t)),
            range(bases[1], bases[1] + groups * reduction_words(config, t)),
            range(bases[2], bases[2] + groups * t.N * t.E * t.F))


def _overlap(a: range, b: range) -> bool:
    return a.start < b.stop and b.start < a.stop


def _syncs(passes: tuple[Pass, ...], regions: list, j: int) -> tuple[bool, bool]:
    """Whether pass ``j``'s commands wait for pass ``j-1`` to end (module notes): (a SYNC before its
    LOADs, which write a region pass ``j-1`` reads; a SYNC before its RUN, whose psum lines hold pass
    ``j-1``'s outputs, stored first)."""
    if j == 0:
        return False, False
    ps, now, before = passes[j], regions[j], regions[j - 1]
    loads = (ps.load_ifmap and _overlap(now[0], before[0])) or (ps.load_weights and _overlap(now[1], before[1]))
    return bool(loads), bool(passes[j - 1].read_out and _overlap(before[2], now[2]))


def overlapped_starts(config: AcceleratorConfig, plan: SystemPlan) -> int:
    """How many of ``plan``'s passes the System may start in the pipeline tail of the pass before
    (no SYNC between their RUNs; :class:`hw.controller.sequencer.Sequencer` takes such a start)."""
    bases = _bases(config, plan.passes, plan.double)
    regions = [_regions(config, ps, at) for ps, at in zip(plan.passes, bases, strict=True)]
    return sum(not any(_syncs(plan.passes, regions, j)) for j in range(1, len(plan.passes)))


def build_image(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
                requant: RequantParams | None = None, objective: Objective = Objective.OVERLAP) -> DramImage:
    """The DRAM image and command list of ``layer`` (see the module notes).

    Parameters
    ----------
    x, w, requant
        As :func:`model.program.build_program` (:func:`model.program.check_program` checks them).
    objective : Objective
        What chooses the tiles (:func:`system_plan`); every run uses the default, other objectives
        are for comparisons (``bench/planner_bench.py --system``).

    Raises
    ------
    ValueError
        Everything :func:`model.program.build_program` refuses; a word wider than a beat
        (:func:`word_bytes`).
    """
    passes, double, step = system_plan(config, layer, objective)
    check_program(config, layer, x, w, requant)
    requant = _padded(config, requant)
    bases = _bases(config, passes, double)
    runs = [pass_run(config, ps, requant, at) for ps, at in zip(passes, bases)]
    beat, wb, fmt = config.axi_beat_bytes, word_bytes(config), store_format(config, requant)
    xw = _input_words(config, layer, x)
    if layer.groups > 1 and not native(config, layer):   # ungrouped blocks (model.grouped): dense weights
        w, layer = _dense(layer, w), dataclasses.replace(layer, groups=1)
    ww = _words(config, w)
    cw_all = xw.shape[1]
    in_pitch, out_pitch = _pad(xw.shape[-1] * wb, beat), _pad(layer.F * config.cols * int(fmt), beat)
    wgt = _weight_words(config, layer, ww)
    kw_all = wgt.shape[1]

    args = (config, layer, step, passes, runs, bases, requant, fmt, in_pitch, out_pitch, kw_all, cw_all, wb)
    n_records = len(list(_records(*args, 0, 0, 0, 0)))  # the list's length fixes every later address
    cmd_addr = 0
    requant_addr = _pad(n_records * COMMAND_BYTES, ALIGN) if requant is not None else None
    ifmap_addr = _pad(n_records * COMMAND_BYTES if requant is None
                      else requant_addr + layer.M * REQUANT_ENTRY_BYTES, ALIGN)
    weight_addr = _pad(ifmap_addr + layer.N * cw_all * layer.H * in_pitch, ALIGN)
    out_addr = _pad(weight_addr + wgt.size * wb, ALIGN)
    end = _pad(out_addr + layer.N * -(-layer.M // config.cols) * layer.E * out_pitch, ALIGN)
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
                     (layer.N, layer.M, layer.E, layer.F), fmt, out_pitch, config.cols)


def _loads(config, layer, step, ps, at, in_pitch, kw_all, cw_all, wb, ifmap_addr, weight_addr):
    """The LOADs of pass ``ps`` (its tile placed at ``at``; ``step``: :class:`SystemPlan`'s)."""
    beat, cols, t = config.axi_beat_bytes, config.cols, ps.tile
    if ps.load_ifmap and t.depthwise:
        lead = ps.w0 * cols * wb
        skip = lead % beat
        groups = -(-ps.m_count // cols)
        for nl in range(ps.n_count):   # an image's rows of the groups' lines: H runs of W lines, one block per group
            row0 = ((ps.n0 + nl) * cw_all + ps.m0 // cols) * layer.H + ps.h0
            yield Command(Opcode.LOAD, dict(
                buffer=Buffer.IFMAP, buf_addr=at[0] + nl * groups * t.H * t.W * cols, words=groups * t.H * t.W * cols,
                skip=skip, step=1, dram_addr=ifmap_addr + row0 * in_pitch + lead - skip,
                run_bytes=skip + t.W * cols * wb, count=t.H, stride=in_pitch, repeat=groups - 1,
                repeat_stride=layer.H * in_pitch))
    elif ps.load_ifmap:
        lead = ps.w0 * step * wb
        skip = lead % beat
        for nl in range(t.N):   # the tile's channel words of an image: H runs each, one block per word
            row0 = ((ps.n0 + nl) * cw_all + ps.cw0) * layer.H + ps.h0 * step
            yield Command(Opcode.LOAD, dict(
                buffer=Buffer.IFMAP, buf_addr=at[0] + nl * ps.cw_count * t.H * t.W, words=ps.cw_count * t.H * t.W,
                skip=skip, step=step, dram_addr=ifmap_addr + row0 * in_pitch + lead - skip,
                run_bytes=skip + ((t.W - 1) * step + 1) * wb, count=t.H, stride=step * in_pitch,
                repeat=ps.cw_count - 1, repeat_stride=layer.H * in_pitch))
    if ps.load_weights:
        kw = reduction_words(config, t)
        k0 = ps.cw0 * t.R * t.S
        groups, pitch = -(-ps.m_count // cols), kw_all * cols * wb
        # one run per filter group, all in one LOAD when the groups' runs start at the same byte of a beat
        together = groups if pitch % beat == 0 else 1
        for gl in range(0, groups, together):
            g = ps.m0 // cols + gl
            lead = weight_addr + (g * kw_all + k0) * cols * wb
            skip = lead % beat
            yield Command(Opcode.LOAD, dict(
                buffer=Buffer.WEIGHT, buf_addr=at[1] + gl * kw, words=together * kw * cols, skip=skip, step=1,
                dram_addr=lead - skip, run_bytes=skip + kw * cols * wb, count=together,
                stride=pitch if together > 1 else 0, repeat=0, repeat_stride=0))


def _stores(config, layer, ps, at, requant, fmt, out_pitch, out_addr):
    """The STOREs of pass ``ps``'s outputs (its psum lines from ``at``'s pbase): one per image, a block
    of ``E`` runs per filter group (``ps.m0`` is a group's first filter; a group's psum lines are those
    of the pass's images, also in an OS depthwise pass, whose tile's images are its channel groups)."""
    t, cols = ps.tile, config.cols
    groups = -(-layer.M // cols)
    for nl in range(ps.n_count):
        row0 = ((ps.n0 + nl) * groups + ps.m0 // cols) * layer.E + ps.e0
        yield Command(Opcode.STORE, dict(
            format=fmt, line=at[2] + nl * t.E * t.F,
            chan=ps.m0 if requant is not None else 0, per_run=t.F, group_lines=ps.n_count * t.E * t.F,
            dram_addr=out_addr + row0 * out_pitch + ps.f0 * cols * int(fmt), run_bytes=t.F * cols * int(fmt),
            count=t.E, stride=out_pitch, repeat=-(-ps.m_count // cols) - 1, repeat_stride=layer.E * out_pitch))


def _split(config, load: Command, parts: int) -> list[Command]:
    """``load`` as up to ``parts`` LOADs of consecutive pieces of it: ifmap blocks (channel words), or weight
    runs (filter groups) of a LOAD of several; a LOAD of one block and one run is one piece."""
    f = load.fields
    weights = f["buffer"] == Buffer.WEIGHT
    units = f["count"] if weights else 1 + f["repeat"]
    per_unit = f["words"] // units
    pieces = []
    for chunk in np.array_split(np.arange(units), min(parts, units)):
        u0, n = int(chunk[0]), len(chunk)
        g = dict(f, words=n * per_unit)
        if weights:
            g |= dict(buf_addr=f["buf_addr"] + u0 * per_unit // config.cols, dram_addr=f["dram_addr"] + u0 * f["stride"],
                      count=n, stride=f["stride"] if n > 1 else 0)
        else:
            g |= dict(buf_addr=f["buf_addr"] + u0 * per_unit, dram_addr=f["dram_addr"] + u0 * f["repeat_stride"],
                      repeat=n - 1, repeat_stride=f["repeat_stride"] if n > 1 else 0)
        pieces.append(Command(Opcode.LOAD, g))
    return pieces


def _target(config, load: Command) -> range:
    """The buffer words (ifmap) or lines (weights) a LOAD writes."""
    f = load.fields
    return range(f["buf_addr"], f["buf_addr"] + (f["words"] // config.cols if f["buffer"] == Buffer.WEIGHT else f["words"]))


def _early(config, loads, regions) -> dict[int, list[Command]]:
    """Pieces of the passes' LOADs moved ahead of the slot before their RUN: a LOAD of
    pass ``j`` into a region no pass ``e-1 .. j-1`` reads may run from the slot after RUN ``e`` (pass
    ``e-1`` has ended there) on, so it is split evenly over the slots ``e .. j-1``; what stays for slot
    ``j-1`` is in ``loads[j]`` after the call. Spreads a tile's loads over the passes that still use
    the previous tile of the other half, instead of piling them up before the next RUN."""
    early: dict[int, list[Command]] = {}
    for j in range(1, len(loads)):
        kept = []
        for load in loads[j]:
            buffer = 1 if load.fields["buffer"] == Buffer.WEIGHT else 0
            target = _target(config, load)
            last_reader = next((k for k in range(j - 1, -1, -1) if _overlap(regions[k][buffer], target)), -1)
            e = last_reader + 1
            if e >= j - 1:
                kept.append(load)
                continue
            pieces = _split(config, load, j - e)
            for s, piece in zip(range(j - len(pieces), j - 1), pieces[:-1]):
                early.setdefault(s, []).append(piece)
            kept.append(pieces[-1])
        loads[j] = kept
    return early


def _records(config, layer, step, passes, runs, bases, requant, fmt, in_pitch, out_pitch, kw_all, cw_all, wb,
             requant_addr, ifmap_addr, weight_addr, out_addr):
    """Every command, in order (addresses from the bases given; module notes).

    A pass's LOADs come before its RUN, and the STOREs of its outputs after the next pass's RUN,
    so that both overlap a running pass; a LOAD into a region that the passes before it stopped
    reading several passes earlier is spread over the slots after those passes' RUNs
    (:func:`_early`). When the layer is not double-buffered (:func:`system_plan`),
    a LOAD into a region the running pass reads waits for it (a SYNC first), and so do the STOREs of
    outputs in the psum lines the next pass writes (SYNC, STOREs, then that pass's RUN).
    """
    if requant is not None:
        n = len(requant.bias)
        yield Command(Opcode.LOAD, dict(buffer=Buffer.REQUANT, buf_addr=0, words=n, skip=0, step=1, dram_addr=requant_addr,
                                        run_bytes=n * REQUANT_ENTRY_BYTES, count=1, stride=0, repeat=0, repeat_stride=0))
    all_regions = [_regions(config, ps, at) for ps, at in zip(passes, bases, strict=True)]
    all_loads = [list(_loads(config, layer, step, ps, at, in_pitch, kw_all, cw_all, wb, ifmap_addr, weight_addr))
                 for ps, at in zip(passes, bases)]
    early = _early(config, all_loads, all_regions)
    stores = None       # the commands of the outputs waiting for the next RUN
    for j, (ps, run, at) in enumerate(zip(passes, runs, bases, strict=True)):
        sync_loads, sync_stores = _syncs(passes, all_regions, j)
        if sync_loads:
            yield Command(Opcode.SYNC, {})
        yield from all_loads[j]
        if sync_stores:
            yield Command(Opcode.SYNC, {})
            yield from stores
            stores = None
        yield Command(Opcode.RUN, dict(desc=run.desc))
        if stores is not None:
            yield from stores
        yield from early.get(j, [])
        stores = list(_stores(config, layer, ps, at, requant, fmt, out_pitch, out_addr)) if ps.read_out else None
    yield Command(Opcode.SYNC, {})
    if stores is not None:
        yield from stores


def read_output(image: DramImage, dump: bytes) -> np.ndarray:
    """The ``(n, m, e, f)`` output tensor (int64, sign-extended from its container) in a dumped DRAM
    image (its channel-blocked layout undone)."""
    n, m, e, f = image.out_shape
    size, block = int(image.out_format), image.out_block
    groups = -(-m // block)
    raw = np.frombuffer(dump, np.uint8, count=image.out_bytes, offset=image.out_addr)
    rows = raw.reshape(n * groups * e, image.out_pitch)[:, :f * block * size]
    values = rows.copy().view({1: "<i1", 2: "<i2", 4: "<i4", 8: "<i8"}[size]).astype(np.int64)
    blocked = values.reshape(n, groups, e, f, block).transpose(0, 1, 4, 2, 3)
    return blocked.reshape(n, groups * block, e, f)[:, :m]
