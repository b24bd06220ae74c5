"""The host program that runs a layer on the accelerator: buffer writes, runs, output reads.

The testbench (cocotb) and the Amaranth-simulator tests execute these ops in
order on the ``qconv_top`` host port; the program is what a real driver would
do. A layer is split into passes by :func:`model.tiling.plan`; each pass is

1. :class:`HostWrite` of its input tile (halo included) and weight tile (skipped for
   a tile already in the buffer from the previous pass),
2. one :class:`HostRun` with the packed descriptor of the pass's tile,
3. :class:`HostRead` of every output of the pass, after the last channel tile of
   those outputs (earlier channel tiles leave partial sums in the psum buffer).

The buffer layouts (every index local to the pass's tile) and the descriptor's
fields are the contract's (:mod:`model.contract`). The descriptor carries the layer fields and values a driver precomputes so
the hardware needs no divider or multiplier (``E``, ``F``, ``P``, ``Kw``,
``H*W``, ``Cw*H*W``, ``stride*W``, ``pad_top*W``, the fold counts, the channel mask
of the last word of a pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import AcceleratorConfig
from model.contract import (
    REQUANT_CHANNELS, REQUANT_FIELDS, REQUANT_ZERO_POINT_BITS, Buffer, Tile, pack_descriptor, pass_shape,
    reduction_words, requant_address,
)
from model.conv import check_layer_operands, pack_bits
from model.layer import ConvLayer
from model.tiling import Pass, plan

__all__ = ["RequantParams", "requant_writes", "HostWrite", "HostRun", "HostRead", "descriptor_fields",
           "pass_run", "check_program", "build_program"]


@dataclass(frozen=True)
class HostWrite:
    """Write ``data`` (unsigned bit pattern) to buffer ``sel`` at ``addr``, lane ``lane``."""

    sel: Buffer
    addr: int
    lane: int
    data: int


@dataclass(frozen=True)
class HostRun:
    """Pulse ``start`` with descriptor ``desc`` (``fields`` is its readable form) and wait for ``done``."""

    desc: int
    fields: dict


@dataclass(frozen=True)
class HostRead:
    """Read buffer ``sel`` at ``addr``, lane ``lane``: the output at ``index`` = (n, m, e, f).

    ``chan`` (``host_chan``) is the output channel whose requantization parameters apply.
    """

    sel: Buffer
    addr: int
    lane: int
    index: tuple
    chan: int = 0


@dataclass(frozen=True)
class RequantParams:
    """Requantization of a layer's outputs in hardware (:func:`model.quant.requantize.requantize`).

    ``bias``, ``multiplier``, ``shift``: int per output channel; ``zero_point``, ``out_bits``
    (2..16), ``relu``: per layer. The rounding is the RTL's (the default mode).
    """

    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    out_bits: int
    relu: bool = False

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """The reference: :func:`model.quant.requantize.requantize` of NMEF accumulators."""
        from model.quant.requantize import requantize

        return requantize(acc, np.asarray(self.multiplier, np.int64), np.asarray(self.shift, np.int64),
                          int(self.zero_point), int(self.out_bits), bool(self.relu),
                          bias=np.asarray(self.bias, np.int64))


def requant_writes(config: AcceleratorConfig, rq: RequantParams) -> list:
    """Host writes of the per-channel parameters: each field in ``word_bits`` chunks, MSB first;
    lane 0 shifts a chunk into the staging register, lane 1 writes the last chunk and commits."""
    wb = config.word_bits
    ops = []
    values = {"bias": rq.bias, "multiplier": rq.multiplier, "total_shift": np.asarray(rq.shift) + 31}
    for m in range(len(rq.bias)):
        for f, (name, width) in enumerate(REQUANT_FIELDS):
            value = int(values[name][m]) & ((1 << width) - 1)
            chunks = -(-width // wb)
            for i in range(chunks):
                word = (value >> (wb * (chunks - 1 - i))) & ((1 << wb) - 1)
                ops.append(HostWrite(Buffer.REQUANT, requant_address(m, f), int(i == chunks - 1), word))
    return ops


def _requant_fields(rq: RequantParams | None) -> dict:
    if rq is None:
        return {"requant": 0, "relu": 0, "out_bits": 0, "zero_point": 0}
    return {"requant": 1, "relu": int(bool(rq.relu)), "out_bits": int(rq.out_bits),
            "zero_point": int(rq.zero_point) & ((1 << REQUANT_ZERO_POINT_BITS) - 1)}


def descriptor_fields(config: AcceleratorConfig, tile: Tile, accumulate: bool = False,
                      bases: tuple[int, int, int] = (0, 0, 0)) -> dict:
    """Descriptor of a pass computing ``tile`` (:class:`model.contract.Tile`; a whole layer is
    :func:`model.contract.whole_tile`); ``accumulate``: add to the partial sums in the psum buffer;
    ``bases``: the tile's first ifmap word, weight line and psum line (``ibase``, ``wbase``, ``pbase``;
    the host program puts every tile at 0, the System's command list alternates halves).

    The hardware steps a window by ``stride`` only between output columns (when ``F > 1``)
    and by ``stride*W`` only between output rows (when ``E > 1``); a stride it never takes
    is sent as 0, so a single-output layer with a huge stride still fits the descriptor.
    A depthwise tile's reads are lines of ``cols`` words: its ``ibase`` is sent as a line
    (``bases[0]`` is a word, a multiple of ``cols``); each of its filter groups has its own
    ``H*W`` lines of input (``gstride``), an image all its groups' (``CwHW``).
    """
    shape = pass_shape(config, tile)
    # from one image's input to the next: a fold_groups tile's images are its filter groups, which read
    # their own H*W lines (depthwise) or the same input; a depthwise tile's image is its groups' lines
    if tile.fold_groups:
        image_stride = tile.H * tile.W if tile.depthwise else 0
    else:
        image_stride = (shape.m_groups if tile.depthwise else shape.Cw) * tile.H * tile.W
    return {
        "Cw": shape.Cw, "H": tile.H, "W": tile.W,
        "R": tile.R, "S": tile.S, "stride": tile.stride if tile.E > 1 or tile.F > 1 else 0,
        "pad_top": tile.pad_top, "pad_left": tile.pad_left,
        "E": tile.E, "F": tile.F, "P": shape.P, "Kw": shape.Kw, "HW": tile.H * tile.W,
        "CwHW": image_stride, "gstride": tile.H * tile.W if tile.depthwise else 0, "strideW": tile.stride * tile.W if tile.E > 1 else 0,
        "pad_topW": tile.pad_top * tile.W, "m_groups": shape.m_groups, "last_cols": shape.last_cols,
        "k_folds": shape.k_folds, "p_folds": shape.p_folds, "accumulate": int(accumulate),
        "depthwise": int(tile.depthwise), "fold_groups": int(tile.fold_groups),
        "last_mask": (1 << tile.last_channels) - 1,
        "ibase": bases[0] // config.cols if tile.depthwise else bases[0], "wbase": bases[1], "pbase": bases[2],
        **_requant_fields(None),
    }


def _words(config: AcceleratorConfig, a: np.ndarray) -> np.ndarray:
    """Stored words of an NCHW / MCRS operand: packed channel bits, or two's-complement patterns."""
    if config.binary:
        return pack_bits(a, axis=1, word=config.pack)
    return np.asarray(a, dtype=np.int64) & ((1 << config.bits) - 1)


def pass_run(config: AcceleratorConfig, ps: Pass, rq: RequantParams | None = None,
             bases: tuple[int, int, int] = (0, 0, 0)) -> HostRun:
    """The :class:`HostRun` of pass ``ps``: its descriptor (:func:`descriptor_fields`) with the
    requantization fields of ``rq``."""
    fields = descriptor_fields(config, ps.tile, ps.accumulate, bases) | _requant_fields(rq)
    return HostRun(pack_descriptor(config, fields), fields)


def _pass_ops(config: AcceleratorConfig, xw: np.ndarray, ww: np.ndarray, ps: Pass,
              rq: RequantParams | None = None) -> list:
    cols, t = config.cols, ps.tile
    ops: list = []
    if ps.load_ifmap:
        # ((n*Cw + cw)*H + h)*W + w order, every index local to the tile
        tile = xw[ps.n0:ps.n0 + t.N, ps.cw0:ps.cw0 + ps.cw_count, ps.h0:ps.h0 + t.H, ps.w0:ps.w0 + t.W].reshape(-1)
        ops += [HostWrite(Buffer.IFMAP, addr, 0, int(v)) for addr, v in enumerate(tile)]
    kw = reduction_words(config, t)
    if ps.load_weights:
        for ml in range(t.M):
            line0 = (ml // cols) * kw
            ops += [HostWrite(Buffer.WEIGHT, line0 + k, ml % cols, int(v))
                    for k, v in enumerate(ww[ps.m0 + ml, ps.cw0:ps.cw0 + ps.cw_count].reshape(-1))]
    run = pass_run(config, ps, rq)
    fields = run.fields

    def chan(m):  # raw reads ignore host_chan; a layer may have more filters than the parameter memory
        return m if rq is not None else 0

    ops.append(run)
    if ps.read_out:
        E, F, P = t.E, t.F, fields["P"]
        for nl in range(t.N):
            for ml in range(t.M):
                for e in range(E):
                    for f in range(F):
                        line = (ml // cols) * P + (nl * E + e) * F + f
                        ops.append(HostRead(Buffer.PSUM, line, ml % cols,
                                            (ps.n0 + nl, ps.m0 + ml, ps.e0 + e, ps.f0 + f), chan(ps.m0 + ml)))
    return ops


def check_program(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
                  requant: RequantParams | None = None) -> None:
    """Refuse operands and requantization parameters a layer program cannot run (:func:`build_program`).

    Raises
    ------
    ValueError
        An operand out of range, more filters than the requantization memory holds, ``out_bits``
        outside ``2..min(16, acc_bits)``, or a parameter array not of one entry per filter.
    """
    check_layer_operands(x, w, layer, config.bits)  # out-of-range values are an error, never silently masked
    if requant is None:
        return
    if layer.M > REQUANT_CHANNELS:
        raise ValueError(f"requantization holds {REQUANT_CHANNELS} channels, the layer has M={layer.M}")
    if not 2 <= requant.out_bits <= min(16, config.acc_bits):
        raise ValueError(f"out_bits must be in 2..{min(16, config.acc_bits)} on this build, not {requant.out_bits}")
    for name in ("bias", "multiplier", "shift"):
        if np.shape(getattr(requant, name)) != (layer.M,):
            raise ValueError(f"requant {name} needs one entry per output channel (M={layer.M})")


def build_program(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
                  requant: RequantParams | None = None, passes: tuple[Pass, ...] | None = None) -> list:
    """Every pass of the tiling plan: its writes, one :class:`HostRun`, then its :class:`HostRead` ops.

    Parameters
    ----------
    x, w : ndarray
        Input (NCHW) and weights (MCRS): signed ``bits`` integers, or 0/1 bits when binary.
    requant : RequantParams, optional
        Requantize the outputs in hardware: the parameter writes come first, every pass's
        descriptor enables the stage, and the reads return ``requant.apply(accumulators)``.
    passes : tuple of Pass, optional
        The passes to run (default: :func:`model.tiling.plan`'s); their tiles must fit ``config``.

    Raises
    ------
    ValueError
        If the layer does not fit the build or is grouped (see :func:`model.tiling.plan`),
        or an operand or requantization parameter is out of range.
    """
    planned = plan(config, layer).passes  # refuses grouped layers and layers that do not fit, first
    passes = planned if passes is None else passes
    check_program(config, layer, x, w, requant)
    xw, ww = _words(config, x), _words(config, w)
    ops: list = []
    if requant is not None:
        ops += requant_writes(config, requant)
    for ps in passes:
        ops += _pass_ops(config, xw, ww, ps, requant)
    return ops
