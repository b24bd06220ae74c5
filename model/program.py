"""The host program that runs a layer on the accelerator: buffer writes, runs, output reads.

The testbench (cocotb) and the Amaranth-simulator tests execute these ops in
order on the ``qconv_top`` host port; the program is what a real driver would
do. A layer is split into passes by :func:`model.tiling.plan`; each pass is

1. :class:`HostWrite` of its input words and weight words (skipped for a tile
   already in the buffer from the previous pass),
2. one :class:`HostRun` with the packed layer descriptor of the pass,
3. :class:`HostRead` of every output of the pass.

Buffer layouts (``n``, ``m`` local to the pass; ``Cw`` words per pixel,
``Kw = Cw*R*S`` reduction words, reduction word ``k = (cw*R + r)*S + s``):

* ifmap word address ``((n*Cw + cw)*H + h)*W + w``; a word holds one signed
  ``bits`` value, or in binary mode ``pack`` channel bits (channel ``c`` at bit
  ``c % pack`` of word ``c // pack``);
* weight line ``(m // cols)*Kw + k``, lane ``m % cols``;
* psum line ``(m // cols)*P + p``, lane ``m % cols``, ``p = (n*E + e)*F + f``.

The descriptor carries the layer fields and values a driver precomputes so
the hardware needs no divider or multiplier (``E``, ``F``, ``P``, ``Kw``,
``H*W``, ``Cw*H*W``, ``stride*W``, ``pad*W``, the fold counts, the channel mask
of the last word of a pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import AcceleratorConfig
from model.conv import check_layer_operands, pack_bits
from model.layer import ConvLayer
from model.tiling import Pass, plan, reduction_words, words_per_pixel

__all__ = [
    "IFMAP", "WEIGHT", "PSUM", "REQUANT", "READ_LATENCY", "REQUANT_CHANNELS", "RequantParams",
    "requant_writes", "HostWrite", "HostRun", "HostRead", "DIM_FIELDS", "dim_bits", "desc_fields",
    "desc_bits", "pack_descriptor", "descriptor_fields", "build_program",
]

IFMAP, WEIGHT, PSUM, REQUANT = 0, 1, 2, 3  #: ``host_sel`` values

#: Clock edges from a host read (``host_re``) to its word on ``host_rdata``: the buffer's
#: synchronous read, then the requantization stage's three pipeline registers (every read goes
#: through them). The RTL, the cocotb driver and the Amaranth-sim executor all take it from here.
READ_LATENCY = 4
#: Output channels the requantization parameter memory holds (``host_chan`` of a read).
REQUANT_CHANNELS = 256
#: Requantization parameter fields per channel, written at ``host_addr = 4*channel + field``:
#: (name, width); the total shift ``31 + shift`` is stored unsigned.
REQUANT_FIELDS: tuple[tuple[str, int], ...] = (("bias", 32), ("multiplier", 31), ("total_shift", 6))

#: Descriptor fields that hold a layer dimension, an address or a count, in packing order (LSB first).
#: Their width is :func:`dim_bits`: what a pass that fits the built buffers can need.
DIM_FIELDS: tuple[str, ...] = (
    "Cw", "H", "W", "R", "S", "stride", "pad", "E", "F", "P", "Kw", "HW", "CwHW", "strideW", "padW",
    "m_groups", "last_cols", "k_folds", "p_folds",
)


def dim_bits(config: AcceleratorConfig) -> int:
    """Width of the descriptor's dimension fields and of the controller's counters and walkers.

    Within one pass the input, weights and partial sums all sit in the global
    buffer, so every dimension, address, fold count and walker position is at
    most the deepest buffer plus one fold's span (``rows*rf_depth``); a stride
    product ``stride*W`` (taken only when ``E > 1``) is below ``H*W + 2*pad*W``.
    Fields get four times that bound. A layer that needs more (an absurd
    padding) is refused when its descriptor is packed, naming the field.
    Sizing from the buffers rather than a fixed 32 bits halves the controller
    (its descriptor register, walkers and fold contexts) on small designs.
    """
    deepest = max(config.ifmap_depth, config.weight_depth, config.psum_depth)
    return (4 * (deepest + config.rows * config.rf_depth)).bit_length()


def desc_fields(config: AcceleratorConfig) -> tuple[tuple[str, int], ...]:
    """Descriptor fields of the design built for ``config``: (name, width in bits), packed LSB first."""
    return (
        *((name, dim_bits(config)) for name in DIM_FIELDS),
        # requantization of the host reads of this pass's outputs (0: raw accumulators)
        ("requant", 1), ("relu", 1), ("out_bits", 5), ("zero_point", 16),
        ("last_mask", config.word_bits if config.binary else 1),
    )


def desc_bits(config: AcceleratorConfig) -> int:
    """Width of the packed descriptor (the ``desc`` port) of the design built for ``config``."""
    return sum(width for _, width in desc_fields(config))


@dataclass(frozen=True)
class HostWrite:
    """Write ``data`` (unsigned bit pattern) to buffer ``sel`` at ``addr``, lane ``lane``."""

    sel: int
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

    sel: int
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
                ops.append(HostWrite(REQUANT, 4 * m + f, int(i == chunks - 1), word))
    return ops


def _requant_fields(rq: RequantParams | None) -> dict:
    if rq is None:
        return {"requant": 0, "relu": 0, "out_bits": 0, "zero_point": 0}
    return {"requant": 1, "relu": int(bool(rq.relu)), "out_bits": int(rq.out_bits),
            "zero_point": int(rq.zero_point) & 0xFFFF}


def pack_descriptor(config: AcceleratorConfig, fields: dict) -> int:
    """Pack ``fields`` (every name of :func:`desc_fields` of ``config``) into one integer, LSB first.

    Raises
    ------
    ValueError
        On a missing or unknown field, or a value that does not fit its width.
    """
    layout = desc_fields(config)
    names = [name for name, _ in layout]
    missing = [n for n in names if n not in fields]
    unknown = sorted(set(fields) - set(names))
    if missing or unknown:
        raise ValueError(f"descriptor fields missing {missing}, unknown {unknown}")
    value, offset = 0, 0
    for name, width in layout:
        v = fields[name]
        if not 0 <= v < 2**width:
            raise ValueError(f"descriptor field {name}={v} does not fit the built design's {width} bits "
                             f"(0..{2**width - 1})")
        value |= int(v) << offset
        offset += width
    return value


def descriptor_fields(config: AcceleratorConfig, layer: ConvLayer, n_count: int, m_count: int) -> dict:
    """Descriptor of a pass of ``n_count`` images and ``m_count`` filters of ``layer``.

    The hardware steps a window by ``stride`` only between output columns (when ``F > 1``)
    and by ``stride*W`` only between output rows (when ``E > 1``); a stride it never takes
    is sent as 0, so a single-output layer with a huge stride still fits the descriptor.
    """
    cw, kw = words_per_pixel(config, layer), reduction_words(config, layer)
    p = n_count * layer.E * layer.F
    span = config.rows * config.rf_sets  # outer-loop elements one fold covers
    m_groups = -(-m_count // config.cols)
    last_channels = layer.C - (cw - 1) * config.channels_per_word
    return {
        "Cw": cw, "H": layer.H, "W": layer.W,
        "R": layer.R, "S": layer.S, "stride": layer.stride if layer.E > 1 or layer.F > 1 else 0, "pad": layer.pad,
        "E": layer.E, "F": layer.F, "P": p, "Kw": kw, "HW": layer.H * layer.W,
        "CwHW": cw * layer.H * layer.W, "strideW": layer.stride * layer.W if layer.E > 1 else 0, "padW": layer.pad * layer.W,
        "m_groups": m_groups, "last_cols": m_count - (m_groups - 1) * config.cols,
        "k_folds": -(-kw // span), "p_folds": -(-p // span),
        "last_mask": (1 << last_channels) - 1,
        **_requant_fields(None),
    }


def _words(config: AcceleratorConfig, a: np.ndarray) -> np.ndarray:
    """Stored words of an NCHW / MCRS operand: packed channel bits, or two's-complement patterns."""
    if config.binary:
        return pack_bits(a, axis=1, word=config.pack)
    return np.asarray(a, dtype=np.int64) & ((1 << config.bits) - 1)


def _pass_ops(config: AcceleratorConfig, layer: ConvLayer, xw: np.ndarray, ww: np.ndarray, ps: Pass,
              rq: RequantParams | None = None) -> list:
    cols = config.cols
    ops: list = []
    if ps.load_ifmap:
        tile = xw[ps.n0:ps.n0 + ps.n_count].reshape(-1)  # ((n*Cw + cw)*H + h)*W + w order
        ops += [HostWrite(IFMAP, addr, 0, int(v)) for addr, v in enumerate(tile)]
    if ps.load_weights:
        kw = reduction_words(config, layer)
        for ml in range(ps.m_count):
            line0 = (ml // cols) * kw
            ops += [HostWrite(WEIGHT, line0 + k, ml % cols, int(v)) for k, v in enumerate(ww[ps.m0 + ml].reshape(-1))]
    fields = descriptor_fields(config, layer, ps.n_count, ps.m_count) | _requant_fields(rq)
    ops.append(HostRun(pack_descriptor(config, fields), fields))
    E, F, P = layer.E, layer.F, fields["P"]
    for nl in range(ps.n_count):
        for ml in range(ps.m_count):
            for e in range(E):
                for f in range(F):
                    line = (ml // cols) * P + (nl * E + e) * F + f
                    ops.append(HostRead(PSUM, line, ml % cols, (ps.n0 + nl, ps.m0 + ml, e, f), ps.m0 + ml))
    return ops


def build_program(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
                  requant: RequantParams | None = None) -> list:
    """Every pass of the tiling plan: its writes, one :class:`HostRun`, then its :class:`HostRead` ops.

    Parameters
    ----------
    x, w : ndarray
        Input (NCHW) and weights (MCRS): signed ``bits`` integers, or 0/1 bits when binary.
    requant : RequantParams, optional
        Requantize the outputs in hardware: the parameter writes come first, every pass's
        descriptor enables the stage, and the reads return ``requant.apply(accumulators)``.

    Raises
    ------
    ValueError
        If the layer does not fit the build or is grouped (see :func:`model.tiling.plan`),
        or an operand or requantization parameter is out of range.
    """
    passes = plan(config, layer).passes  # refuses grouped layers and layers that do not fit, first
    check_layer_operands(x, w, layer, config.bits)  # out-of-range values are an error, never silently masked
    xw, ww = _words(config, x), _words(config, w)
    ops: list = []
    if requant is not None:
        if layer.M > REQUANT_CHANNELS:
            raise ValueError(f"requantization holds {REQUANT_CHANNELS} channels, the layer has M={layer.M}")
        if not 2 <= requant.out_bits <= min(16, config.acc_bits):
            raise ValueError(f"out_bits must be in 2..{min(16, config.acc_bits)} on this build, not {requant.out_bits}")
        for name in ("bias", "multiplier", "shift"):
            if np.shape(getattr(requant, name)) != (layer.M,):
                raise ValueError(f"requant {name} needs one entry per output channel (M={layer.M})")
        ops += requant_writes(config, requant)
    for ps in passes:
        ops += _pass_ops(config, layer, xw, ww, ps, requant)
    return ops
