"""The contract between the hardware and the model: every number both sides must agree on, defined once.

The RTL generator (:mod:`hw`), the analytical model (:mod:`model.perf`), the host
program (:mod:`model.program`) and the testbenches (:mod:`sim`) all read these
definitions; none of them keeps a copy. As in Gemmini, the hardware side owns
its latencies and widths and the software reads them from here: ``hw`` imports
only :mod:`model.config` and this module from ``model`` (a test asserts it), so
the RTL never takes a number from the model that judges it.

What is here:

* selectors: :class:`Buffer` (the host port's ``host_sel``), :class:`Rounding`;
* the top level: :data:`TOP_NAME`, :func:`top_ports` (every port and its width);
* latencies: :data:`ISSUE_LATENCY`, the pipeline stages (:data:`OPERAND_STAGE`, :data:`PRODUCT_STAGE`,
  :data:`PSUM_WRITE_STAGE`), :data:`PIPELINE_TAIL`, :data:`READ_LATENCY`;
* counters: :data:`COUNTERS`, :data:`COUNTER_BITS`;
* the requantization parameter table (:data:`REQUANT_FIELDS`, its addressing and widths);
* the AXI4 master port and AXI4-Lite control port (:data:`AXI_ADDR_BITS`, ..., :class:`AxiResp`);
* the DMA engines and control registers (:data:`DMA_RUN_BYTES_BITS`, :class:`DmaError`,
  :class:`LiteRegister`, :class:`ControlBit`, :class:`StatusBit`);
* the command list of the System (:data:`SYSTEM_TOP_NAME`, :class:`Opcode`, :func:`command_fields`,
  :func:`pack_command`, :data:`SYSTEM_COUNTERS`);
* the pass descriptor (:func:`desc_fields`, :func:`pack_descriptor`) and the
  geometry of a pass (:class:`Tile`, :class:`PassShape`), which fixes the buffer layouts
  (every index local to the pass's tile):

  - ifmap word ``((n*Cw + cw)*H + h)*W + w``: one signed ``bits`` value, or in
    binary mode ``pack`` channel bits (channel ``c`` at bit ``c % pack`` of word ``c // pack``);
  - weight line ``(m // cols)*Kw + k``, lane ``m % cols``, reduction word ``k = (cw*R + r)*S + s``;
  - psum line ``(m // cols)*P + p``, lane ``m % cols``, pixel ``p = (n*E + e)*F + f``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass

from model.config import AcceleratorConfig, Dataflow
from model.layer import ConvLayer

__all__ = [
    "Buffer", "Rounding", "TOP_NAME", "COUNTERS", "COUNTER_BITS",
    "GLB_READ_LATENCY", "ISSUE_LATENCY", "PRODUCT_LATENCY", "ACCUMULATE_LATENCY", "OPERAND_STAGE", "PRODUCT_STAGE",
    "PSUM_WRITE_STAGE", "PIPELINE_TAIL", "REQUANT_STAGES", "READ_LATENCY",
    "REQUANT_CHANNELS", "REQUANT_FIELDS", "REQUANT_FIELD_STRIDE", "REQUANT_ZERO_POINT_BITS",
    "REQUANT_OUT_BITS_BITS", "REQUANT_OUT_BITS", "requant_address",
    "mask_bits", "product_bits", "ifmap_load_words", "dim_bits", "host_addr_depth", "host_lanes", "DIM_FIELDS", "FLAG_FIELDS", "desc_fields",
    "desc_bits", "pack_descriptor", "unpack_descriptor", "words_per_pixel", "reduction_words", "Tile", "whole_tile",
    "PassShape", "pass_shape",
    "top_ports",
    "AXI_ADDR_BITS", "AXI_ID_BITS", "AXI_MAX_BURST_BEATS", "AXI_BOUNDARY_BYTES", "AXI_BURST_INCR", "DMA_OUTSTANDING",
    "AXI_LITE_DATA_BITS", "AxiResp", "DMA_RUN_BYTES_BITS", "DMA_RUN_COUNT_BITS", "DmaError", "LiteRegister",
    "ControlBit", "StatusBit",
    "SYSTEM_TOP_NAME", "COMMAND_BYTES", "COMMAND_OPCODE_BITS", "REQUANT_ENTRY_BYTES", "REQUANT_ENTRY_FIELD_BITS",
    "SYSTEM_COUNTERS", "SYSTEM_COUNTER_LAG", "STORE_READ_CREDIT", "DMA_ADDRESS_DELAY", "COMMAND_DECODE_CYCLES", "COMMAND_NEXT_CYCLES",
    "word_bytes", "weight_load_lanes",
    "Opcode", "StoreFormat", "command_fields", "pack_command", "unpack_command",
]


class Buffer(enum.IntEnum):
    """What a host-port access addresses (the ``host_sel`` value)."""

    IFMAP = 0     #: input feature-map words
    WEIGHT = 1    #: weight lines (one lane per access)
    PSUM = 2      #: partial-sum / output lines (one lane per access)
    REQUANT = 3   #: requantization parameters (write only)


class Rounding(enum.StrEnum):
    """Named rounding modes of the requantization shift (defined in :mod:`model.quant.rounding`)."""

    HALF_EVEN = "half_even"
    HALF_AWAY = "half_away"
    HALF_UP = "half_up"
    FLOOR = "floor"


#: Verilog module name of the accelerator.
TOP_NAME = "qconv_top"

#: Hardware counter names, in report order (``count_<name>`` ports of the top).
COUNTERS: tuple[str, ...] = (
    "cycles", "macs",
    "dram_ifmap_reads", "dram_weight_reads", "dram_psum_writes",
    "glb_ifmap_reads", "glb_ifmap_writes", "glb_weight_reads", "glb_weight_writes",
    "glb_psum_reads", "glb_psum_writes",
    "rf_weight_reads", "rf_weight_writes", "rf_psum_reads", "rf_psum_writes",
)
#: Width of every counter.
COUNTER_BITS = 48

# -- latencies ---------------------------------------------------------------------------------
#: Global-buffer reads are synchronous: data the cycle after the address.
GLB_READ_LATENCY = 1
#: A PE registers its operands (a DSP block's input register) and its product.
PRODUCT_LATENCY = 2
#: WS: the column accumulator registers the sum of a pixel's register-file entries.
ACCUMULATE_LATENCY = 1
#: The controller registers every buffer read request it issues (its slot logic and the buffer's
#: address port are then a cycle apart: they were the longest paths of the 8x8 build).
ISSUE_LATENCY = 1
#: Pipeline stage (cycles after the controller's issue) at which the operands reach the PEs.
OPERAND_STAGE = ISSUE_LATENCY + GLB_READ_LATENCY
#: Stage at which the products are valid: WS column sums / accumulate, OS register-file accumulate.
PRODUCT_STAGE = OPERAND_STAGE + PRODUCT_LATENCY
#: WS: stage at which a finished pixel's psum line is written (read-modify-write).
PSUM_WRITE_STAGE = PRODUCT_STAGE + ACCUMULATE_LATENCY
#: Cycles from the controller's last issue slot to the last buffer write of a pass: WS the psum
#: write of the last pixel; OS the drain of the last fold, which reads a PE register file once its
#: last accumulate (at :data:`PRODUCT_STAGE`) is done.
PIPELINE_TAIL = {Dataflow.WS: PSUM_WRITE_STAGE, Dataflow.OS: PRODUCT_STAGE}
#: Register stages of the requantization lane on the host read path.
REQUANT_STAGES = 4
#: Clock edges from a host read (``host_re``) to its word on ``host_rdata``: the buffer's
#: synchronous read, then the requantization stages (every read goes through them).
READ_LATENCY = GLB_READ_LATENCY + REQUANT_STAGES

# -- requantization parameters -----------------------------------------------------------------
#: Output channels the requantization parameter memory holds (``host_chan`` of a read).
REQUANT_CHANNELS = 256
#: Per-channel fields, (name, width): int32 bias, Q31 multiplier, total shift ``31 + shift`` (unsigned).
REQUANT_FIELDS: tuple[tuple[str, int], ...] = (("bias", 32), ("multiplier", 31), ("total_shift", 6))
#: Host addresses per channel: field ``f`` of channel ``c`` is written at ``REQUANT_FIELD_STRIDE*c + f``.
REQUANT_FIELD_STRIDE = 4
#: Width of the per-layer output zero point (signed) and of the ``out_bits`` field.
REQUANT_ZERO_POINT_BITS = 16
REQUANT_OUT_BITS_BITS = 5
#: Widest requantized output (``out_bits`` is 2..16).
REQUANT_OUT_BITS = 16


def requant_address(channel: int, field: int) -> int:
    """Host address of requantization field ``field`` (index into :data:`REQUANT_FIELDS`) of ``channel``."""
    return REQUANT_FIELD_STRIDE * channel + field


# -- widths derived from a configuration -------------------------------------------------------

def mask_bits(config: AcceleratorConfig) -> int:
    """Width of an operand mask: one bit per channel of a binary word, else one bit."""
    return config.word_bits if config.binary else 1


def product_bits(config: AcceleratorConfig) -> int:
    """Signed width of one PE product: ``2*bits`` (multi-bit), or enough for ``[-pack, pack]`` (binary)."""
    return config.word_bits.bit_length() + 1 if config.binary else 2 * config.word_bits


def dim_bits(config: AcceleratorConfig) -> int:
    """Width of the descriptor's dimension fields and of the controller's counters and walkers.

    Within one pass the input, weights and partial sums all sit in the global
    buffer, so every dimension, address, fold count and walker position is at
    most the deepest buffer plus one fold's span (``rows*rf_depth``); a stride
    product ``stride*W`` (taken only when ``E > 1``) is below ``H*W + 2*pad*W``.
    Fields get four times that bound. A layer that needs more (an absurd
    padding) is refused when its descriptor is packed, naming the field.
    """
    deepest = max(config.ifmap_depth, config.weight_depth, config.psum_depth)
    return (4 * (deepest + config.rows * config.rf_depth)).bit_length()


def host_addr_depth(config: AcceleratorConfig) -> int:
    """Addresses the host port spans: the deepest buffer, or the requantization parameters."""
    return max(config.ifmap_depth, config.weight_depth, config.psum_depth, REQUANT_FIELD_STRIDE * REQUANT_CHANNELS)


def host_lanes(config: AcceleratorConfig) -> int:
    """Values of ``host_lane``: a lane of a weight/psum line, and at least 2 (the requantization staging bit)."""
    return max(config.cols, 2)


# -- the pass descriptor -----------------------------------------------------------------------

#: Descriptor fields that hold a layer dimension, an address or a count, in packing order (LSB first).
#: Their width is :func:`dim_bits`: what a pass that fits the built buffers can need.
#: A pass sees its tile as a layer of its own: ``H``, ``W`` are the input rows and columns loaded,
#: ``E``, ``F`` the output rows and columns computed, ``pad_top``/``pad_left`` how far the first
#: window starts above / left of the tile (its origin is ``(-pad_top, -pad_left)``; positions
#: outside ``0..H-1`` x ``0..W-1`` are padding, masked), ``pad_topW = pad_top*W``.
#: ``ibase``, ``wbase``, ``pbase``: where the tile sits in the ifmap, weight and psum buffers (its first
#: word, weight line and psum line; every index of the module notes' layouts is added to them), so
#: that the System can load the next tile into one region while a pass reads another. ``gstride``: how far
#: each filter group's input is from the previous group's (0: they share it; a depthwise pass's groups
#: read their own channels, ``H*W`` lines on, its images ``CwHW = groups*H*W`` lines apart).
DIM_FIELDS: tuple[str, ...] = (
    "Cw", "H", "W", "R", "S", "stride", "pad_top", "pad_left", "E", "F", "P", "Kw", "HW", "CwHW", "strideW",
    "pad_topW", "m_groups", "last_cols", "k_folds", "p_folds", "ibase", "wbase", "pbase", "gstride",
)
#: One-bit descriptor flags (after the dimension fields): ``accumulate`` -- the pass adds its sums to
#: the partial sums already in the psum buffer (a later channel tile of the same outputs) instead of
#: starting from zero; WS reads the psum line in every fold, OS drains by read-modify-write.
#: ``depthwise`` -- a depthwise pass (:attr:`Tile.depthwise`): every ifmap read is a whole line of
#: ``cols`` channels of one pixel (its address is a line, ``ibase`` too) and PE ``(i, j)`` takes lane
#: ``j`` of row ``i``'s line instead of the row's word; only a build with :func:`depthwise_reads` has it.
#: ``fold_groups`` -- output-stationary: the pass's filter groups are run as images of one filter group
#: (:attr:`Tile.fold_groups`), each image with its group's weight lines, so that a fold may hold pixels of
#: two groups; only a build with a second weight read port has it (the System's depthwise builds, OS).
FLAG_FIELDS: tuple[str, ...] = ("accumulate", "depthwise", "fold_groups")


def desc_fields(config: AcceleratorConfig) -> tuple[tuple[str, int], ...]:
    """Descriptor fields of the design built for ``config``: (name, width in bits), packed LSB first."""
    return (
        *((name, dim_bits(config)) for name in DIM_FIELDS),
        *((name, 1) for name in FLAG_FIELDS),
        # requantization of the host reads of this pass's outputs (0: raw accumulators)
        ("requant", 1), ("relu", 1), ("out_bits", REQUANT_OUT_BITS_BITS), ("zero_point", REQUANT_ZERO_POINT_BITS),
        ("last_mask", mask_bits(config)),
    )


def desc_bits(config: AcceleratorConfig) -> int:
    """Width of the packed descriptor (the ``desc`` port) of the design built for ``config``."""
    return sum(width for _, width in desc_fields(config))


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


def unpack_descriptor(config: AcceleratorConfig, value: int) -> dict:
    """The fields of a packed descriptor (the inverse of :func:`pack_descriptor`)."""
    fields, offset = {}, 0
    for name, width in desc_fields(config):
        fields[name] = (value >> offset) & ((1 << width) - 1)
        offset += width
    return fields


# -- the geometry of a pass --------------------------------------------------------------------

def words_per_pixel(config: AcceleratorConfig, layer) -> int:
    """``Cw``: words holding the channels of one input pixel, ``ceil(C / channels_per_word)``.

    ``layer`` is a :class:`~model.layer.ConvLayer` or a :class:`Tile` (anything with ``C``).
    """
    return -(-layer.C // config.channels_per_word)


def reduction_words(config: AcceleratorConfig, layer) -> int:
    """``Kw = Cw * R * S``: words of one output's dot product (one weight-buffer lane per filter)."""
    return words_per_pixel(config, layer) * layer.R * layer.S


@dataclass(frozen=True)
class Tile:
    """The part of a layer one pass computes, as the hardware sees it (a layer of its own).

    ``N`` images, ``M`` filters, ``C`` channels (real channels; whole words except the layer's
    last), input ``H x W`` (the rows and columns loaded into the ifmap buffer, halos included),
    outputs ``E x F``, kernel ``R x S``, ``stride``; the first window starts at
    ``(-pad_top, -pad_left)`` of the tile, and a window position outside the tile is padding.
    ``last_channels``: the real channels of the tile's last word (binary packing).
    ``depthwise``: a tile of a depthwise layer, which the hardware sees as a one-channel layer
    (``C`` = 1, ``Cw`` = 1) whose ifmap word is a line of ``cols`` channel words, column ``j`` reading
    lane ``j`` (:data:`FLAG_FIELDS`); its filter groups are the layer's channel groups
    (:mod:`model.depthwise`). ``fold_groups`` (OS, one image): the hardware runs the ``m_groups``
    filter groups as images of one filter group of ``cols`` columns, its folds over all their
    ``m_groups*E*F`` pixels (:func:`pass_shape` gives that view; lanes past ``M`` of the last group
    compute with zero weights).
    """

    N: int
    M: int
    C: int
    H: int
    W: int
    E: int
    F: int
    R: int
    S: int
    stride: int
    pad_top: int
    pad_left: int
    last_channels: int
    depthwise: bool = False
    fold_groups: bool = False


def whole_tile(config: AcceleratorConfig, layer: ConvLayer) -> Tile:
    """The :class:`Tile` of ``layer`` computed in one pass."""
    last = layer.C - (words_per_pixel(config, layer) - 1) * config.channels_per_word
    return Tile(N=layer.N, M=layer.M, C=layer.C, H=layer.H, W=layer.W, E=layer.E, F=layer.F, R=layer.R, S=layer.S,
                stride=layer.stride, pad_top=layer.pad, pad_left=layer.pad, last_channels=last)


@dataclass(frozen=True)
class PassShape:
    """How one pass (a :class:`Tile`) is cut into folds.

    A fold covers ``span = rows*G`` reduction words (WS) or pixels (OS) and
    ``cols`` filters; ``G = rf_sets``. WS folds go filter group, then word
    group; OS folds filter group, then pixel group. A fold streams ``stream``
    elements (``P`` pixels for WS, ``Kw`` words for OS), ``G`` slots each.
    """

    Cw: int
    Kw: int
    P: int
    span: int
    m_groups: int
    last_cols: int
    k_folds: int
    p_folds: int
    stream: int
    folds: int


def pass_shape(config: AcceleratorConfig, tile: Tile) -> PassShape:
    """The :class:`PassShape` of a pass computing ``tile``, as the hardware sees it (a ``fold_groups``
    tile: one filter group of ``cols`` columns over its groups' pixels, :attr:`Tile.fold_groups`)."""
    cw, kw = words_per_pixel(config, tile), reduction_words(config, tile)
    p = tile.N * tile.E * tile.F
    span = config.rows * config.rf_sets
    m_groups = -(-tile.M // config.cols)
    if tile.fold_groups:   # every lane of the one filter group (the last group's past M: zero weights)
        p, m_groups, tile = p * m_groups, 1, dataclasses.replace(tile, M=config.cols if m_groups > 1 else tile.M)
    k_folds, p_folds = -(-kw // span), -(-p // span)
    ws = config.dataflow is Dataflow.WS
    return PassShape(
        Cw=cw, Kw=kw, P=p, span=span, m_groups=m_groups, last_cols=tile.M - (m_groups - 1) * config.cols,
        k_folds=k_folds, p_folds=p_folds, stream=p if ws else kw, folds=m_groups * (k_folds if ws else p_folds),
    )


# -- the top level -----------------------------------------------------------------------------

def top_ports(config: AcceleratorConfig) -> dict[str, tuple[str, int]]:
    """Every port of :data:`TOP_NAME` built for ``config``: name -> (``"input"``/``"output"``, width).

    The names are the Verilog's (Amaranth flattens the ``host`` interface with
    ``__``); :mod:`sim.design_check` checks a Verilog file against this table and
    a test checks the RTL's signature against it (``clk`` and ``rst`` are Amaranth's).
    """
    ports = {
        "clk": ("input", 1),
        "rst": ("input", 1),
        "start": ("input", 1),
        "desc": ("input", desc_bits(config)),
        "done": ("output", 1),
        "host__sel": ("input", max(len(Buffer) - 1, 1).bit_length()),
        "host__addr": ("input", (host_addr_depth(config) - 1).bit_length()),
        "host__lane": ("input", (host_lanes(config) - 1).bit_length()),
        "host__wdata": ("input", config.word_bits),
        "host__we": ("input", 1),
        "host__re": ("input", 1),
        "host__rdata": ("output", config.acc_bits),
        "host__chan": ("input", (REQUANT_CHANNELS - 1).bit_length()),
    }
    ports.update({f"count_{name}": ("output", COUNTER_BITS) for name in COUNTERS})
    return ports


# -- the AXI4 master port to DRAM and the AXI4-Lite control port --------------------------------
# Read by the DMA engines (hw/axi), the DRAM models (sim/dram) and the analytical model of the
# memory system; the data width is the configuration's ``axi_data_bits``.

#: Byte-address width of the AXI4 master port (4 GiB of DRAM) and of the AXI4-Lite control port.
AXI_ADDR_BITS = 32
#: Width of the AXI ID fields (ARID/AWID/RID/BID); every transaction uses ID 0.
AXI_ID_BITS = 1
#: Longest INCR burst, in beats (AXI4: ARLEN/AWLEN + 1 <= 256).
AXI_MAX_BURST_BEATS = 256
#: No burst crosses an address boundary of this many bytes (AXI4 rule).
AXI_BOUNDARY_BYTES = 4096
#: AXI4 burst type INCR (the only one the DMA issues).
AXI_BURST_INCR = 1
#: Read (and write) bursts a DMA engine keeps in flight at most.
DMA_OUTSTANDING = 8
#: Data width of the AXI4-Lite control port.
AXI_LITE_DATA_BITS = 32


class AxiResp(enum.IntEnum):
    """AXI response codes (RRESP/BRESP)."""

    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


# -- the DMA engines and the AXI4-Lite control registers (hw/axi) -------------------------------
# A DMA command moves ``count`` runs of ``run_bytes`` bytes, run k starting at ``addr + k * stride``
# (model/bursts.py splits it into bursts; hw/axi/burst_walker.py does the same in hardware).

#: Width of a DMA command's ``run_bytes`` (bytes of one run: 1 .. 2**24 - 1).
DMA_RUN_BYTES_BITS = 24
#: Width of a DMA command's ``count`` (runs of one command: 1 .. 2**16 - 1).
DMA_RUN_COUNT_BITS = 16


class DmaError(enum.IntEnum):
    """Why a DMA command ended early (the engines' ``error`` output and the ``ERROR`` register).

    An engine that sees an error response stops issuing bursts, lets the bursts already issued
    finish (read beats are dropped, write beats go out with no byte strobed) and ends the command
    with the code of the first error.
    """

    NONE = 0        #: the command moved every byte
    SLVERR = 1      #: a read or write response was SLVERR
    DECERR = 2      #: a read or write response was DECERR (no slave at that address)
    CANCELLED = 3   #: the ``cancel`` input stopped the command
    BAD_COMMAND = 4  #: the System fetched a command record with an unknown opcode


class LiteRegister(enum.IntEnum):
    """Byte offsets of the AXI4-Lite control registers (32 bits each, ``hw/axi/lite_regs.py``)."""

    CONTROL = 0x00     #: write 1 to bit :attr:`ControlBit.START` to start the layer; reads 0
    STATUS = 0x04      #: read-only, bits :class:`StatusBit`
    CMD_ADDR = 0x08    #: read-write, DRAM byte address of the layer's command list
    CMD_COUNT = 0x0C   #: read-write, commands in the list
    ERROR = 0x10       #: read-only, the :class:`DmaError` code of the last run


class ControlBit(enum.IntEnum):
    """Bit positions of the ``CONTROL`` register."""

    START = 0   #: write 1: start (a one-cycle pulse; the bit reads 0)


class StatusBit(enum.IntEnum):
    """Bit positions of the ``STATUS`` register."""

    BUSY = 0    #: a run is under way
    DONE = 1    #: the last run ended (set at its end, cleared by the next start)
    ERROR = 2   #: the last run ended with an error (its code is in ``ERROR``)


# -- the command list of the command-driven top (hw/system.py, model/commands.py) ---------------
# The System fetches ``CMD_COUNT`` records of :data:`COMMAND_BYTES` bytes from ``CMD_ADDR`` and runs
# them in order. A record is one little-endian integer; field ``name`` of :func:`command_fields`
# occupies its bits LSB first after the :data:`COMMAND_OPCODE_BITS`-bit opcode; unused bits are 0.

#: Verilog top name of the command-driven System.
SYSTEM_TOP_NAME = "qconv_system"
#: Bytes of one command record: a whole number of beats for every AXI data width (32..256 bits).
COMMAND_BYTES = 64
#: Width of the opcode, bits 0 .. COMMAND_OPCODE_BITS-1 of every record.
COMMAND_OPCODE_BITS = 8
#: Bytes of one requantization entry in DRAM (one per output channel): field ``f`` of
#: :data:`REQUANT_FIELDS` at bit :data:`REQUANT_ENTRY_FIELD_BITS` * f, little-endian.
REQUANT_ENTRY_BYTES = 16
#: Bit distance between the fields of a requantization entry.
REQUANT_ENTRY_FIELD_BITS = 32
#: System counter names (``count_<name>`` ports of :data:`SYSTEM_TOP_NAME`, beside the
#: accelerator's :data:`COUNTERS`): cycles from START to done, DRAM bytes read/written, AXI read/write
#: bursts, stall cycles (cycles of the layer in which the array is not running a pass: it waits for
#: data) and DMA-wait cycles (the command stream waits for the array: a RUN or SYNC blocked on the
#: running pass).
SYSTEM_COUNTERS: tuple[str, ...] = (
    "sys_cycles", "dram_bytes_read", "dram_bytes_written", "axi_read_bursts", "axi_write_bursts",
    "stall_cycles", "dma_wait_cycles",
)
#: Clock edges from a System event to its count: each increment is registered before its counter
#: (``hw/counters.py``), so a count is complete this many cycles after the last event (after irq).
SYSTEM_COUNTER_LAG = 2
# The System's fixed latencies (hw/command, hw/axi), which model/system_perf.py replays:
#: Psum reads the STORE packer (``hw/command/store.py``) keeps outstanding at most: the host port's
#: read latency plus one beat of slack.
STORE_READ_CREDIT = READ_LATENCY + 2
#: Cycles from a DMA command taken (``hw/axi/read_dma.py``, ``write_dma.py``) to its first AR / AW
#: offered: the burst walker's register, then the registered address channel.
DMA_ADDRESS_DELAY = 2


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


def weight_load_lanes(config: AcceleratorConfig, word_bytes: int) -> int:
    """Weight lanes a LOAD writes per cycle (``hw/command/load.py``): ``gcd(beat words, cols)``.

    A beat holds ``axi_beat_bytes // word_bytes`` words, consecutive lanes of consecutive lines;
    the largest group that divides both the beat and the line never straddles either, so each
    cycle writes that many lanes of one line (a whole line per beat on the default 8x8 8-bit build).
    """
    return math.gcd(config.axi_beat_bytes // word_bytes, config.cols)


def ifmap_load_words(config: AcceleratorConfig, word_bytes: int) -> int:
    """Ifmap words a LOAD writes per cycle, at consecutive buffer addresses (``hw/command/load.py``): the
    System's ifmap buffer is that many banks (:class:`hw.global_buffer.GlobalBuffer`).

    :func:`weight_load_lanes` words, a power of two: a whole beat of 8-bit words on the default 8x8
    build (a 1x1 layer's inputs load at the DRAM's rate, not a word per cycle), two banks on the 2x2
    array, so that a small build's block RAMs are not split finer than they hold.
    """
    return weight_load_lanes(config, word_bytes)


def depthwise_reads(config: AcceleratorConfig, word_bytes: int) -> bool:
    """Whether the System built for ``config`` runs depthwise passes (:data:`FLAG_FIELDS`): its ifmap
    buffer has one bank per column (:func:`ifmap_load_words` = ``cols``), so that one read of every
    bank at the same row is a line of ``cols`` consecutive words -- the channels of one pixel (a
    binary depthwise word holds one channel, in bit 0: a depthwise product must keep channels apart).
    """
    return ifmap_load_words(config, word_bytes) == config.cols


def fold_groups_reads(config: AcceleratorConfig, word_bytes: int) -> bool:
    """Whether the System built for ``config`` runs ``fold_groups`` passes (:data:`FLAG_FIELDS`): an
    output-stationary build with :func:`depthwise_reads`, whose weight buffer has a second read port
    for the second filter group's line of a fold that holds pixels of two."""
    return config.dataflow is Dataflow.OS and depthwise_reads(config, word_bytes)


def ifmap_tile_words(config: AcceleratorConfig, tile: Tile) -> int:
    """Ifmap-buffer words of ``tile``'s input: ``N*Cw*H*W``, or a depthwise tile's line of ``cols`` words
    per pixel for each of its filter groups (:mod:`model.depthwise`)."""
    per_pixel = config.cols * -(-tile.M // config.cols) if tile.depthwise else words_per_pixel(config, tile)
    return tile.N * per_pixel * tile.H * tile.W


#: Cycles of the command processor's DECODE state (one per command; it starts the command's engines).
COMMAND_DECODE_CYCLES = 1
#: Cycles of its NEXT state (one per command; it ends the layer or goes to FETCH).
COMMAND_NEXT_CYCLES = 1


class Opcode(enum.IntEnum):
    """What a command record does (its low :data:`COMMAND_OPCODE_BITS` bits)."""

    LOAD = 1    #: DRAM strided runs -> words of a global buffer (through the host port)
    RUN = 2     #: one pass: wait until the accelerator is idle, pulse start with the record's descriptor, go on
    STORE = 3   #: psum lines (every lane) of one image's filter groups -> strided output rows in DRAM
    SYNC = 4    #: wait until the accelerator is idle (the running pass has ended)


class StoreFormat(enum.IntEnum):
    """Container of an output in DRAM (the ``format`` field of a STORE): its byte count."""

    BYTE = 1    #: requantized, ``out_bits`` <= 8
    HALF = 2    #: requantized, ``out_bits`` <= 16
    RAW = 4     #: raw accumulator, sign-extended to 32 bits (``acc_bits`` <= 32)
    RAW_WIDE = 8  #: raw accumulator, sign-extended to 64 bits (``acc_bits`` > 32, e.g. 16-bit builds)


#: The strided-run fields shared by LOAD and STORE: a DMA command (:mod:`hw.axi`).
_RUN_FIELDS = (("dram_addr", AXI_ADDR_BITS), ("run_bytes", DMA_RUN_BYTES_BITS),
               ("count", DMA_RUN_COUNT_BITS), ("stride", AXI_ADDR_BITS),
               ("repeat", DMA_RUN_COUNT_BITS), ("repeat_stride", AXI_ADDR_BITS))


def command_fields(config: AcceleratorConfig, opcode: Opcode) -> tuple[tuple[str, int], ...]:
    """The fields of a record of ``opcode``, (name, width), LSB first after the opcode.

    * LOAD: ``buffer`` (a :class:`Buffer`), ``buf_addr`` (first word), ``words`` (words to write),
      ``skip`` (bytes dropped at the start of every run: a run starts on a beat), ``step`` (ifmap:
      every ``step``-th word of a run from its first is written, the others dropped -- the input
      columns a strided 1x1 layer reads; 1 <= step <= the words of a beat; weights: ignored), the
      run fields.
      Word ``i`` goes to host address ``buf_addr + i`` (weights: ``buf_addr`` is a line and word ``i``
      goes to line ``buf_addr + i // cols``, lane ``i % cols``; requantization: ``words`` entries,
      channel ``buf_addr + i``).
    * RUN: ``desc`` (:func:`pack_descriptor`). The pass runs while the following commands do (LOADs
      into buffer regions it does not read, STOREs of psum lines it does not write); a RUN waits for
      the previous pass to end, and SYNC (no fields) waits for the running one.
    * STORE: ``format`` (a :class:`StoreFormat`), ``line`` (first psum line), ``chan`` (the
      requantization channel of lane 0), ``per_run`` (psum lines per run), ``group_lines``, the run
      fields; run ``r`` of a block holds lines ``line + r*per_run ..``, every lane of each (``cols``
      containers of ``format`` bytes per line, lane 0 first); each repeated block is the next filter
      group: ``group_lines`` lines on, channels ``chan + cols ..``.

    The run fields (``dram_addr``, ``run_bytes``, ``count``, ``stride``, ``repeat``, ``repeat_stride``)
    are a DMA command (:mod:`model.bursts`): ``count`` runs, walked ``1 + repeat`` times.
    """
    lines = (host_addr_depth(config) - 1).bit_length()
    if opcode is Opcode.LOAD:
        return (("buffer", 2), ("buf_addr", lines), ("words", DMA_RUN_BYTES_BITS), ("skip", 8), ("step", 8)) + _RUN_FIELDS
    if opcode is Opcode.RUN:
        return (("desc", desc_bits(config)),)
    if opcode is Opcode.SYNC:
        return ()
    return (("format", 4), ("line", lines),
            ("chan", (REQUANT_CHANNELS - 1).bit_length()), ("per_run", DMA_RUN_COUNT_BITS),
            ("group_lines", lines)) + _RUN_FIELDS


def pack_command(config: AcceleratorConfig, opcode: Opcode, fields: dict) -> int:
    """One record of ``opcode`` as an integer (:data:`COMMAND_BYTES` bytes, little-endian in DRAM).

    Raises
    ------
    ValueError
        If a field is missing, unknown or out of its range, or the record does not fit
        :data:`COMMAND_BYTES`.
    """
    layout = command_fields(config, opcode)
    total = COMMAND_OPCODE_BITS + sum(width for _, width in layout)
    if total > 8 * COMMAND_BYTES:
        raise ValueError(f"a {opcode.name} record needs {total} bits, a record holds {8 * COMMAND_BYTES}")
    names = {name for name, _ in layout}
    if set(fields) != names:
        raise ValueError(f"{opcode.name} fields must be {sorted(names)}, not {sorted(fields)}")
    word, shift = int(opcode), COMMAND_OPCODE_BITS
    for name, width in layout:
        value = int(fields[name])
        if not 0 <= value < 1 << width:
            raise ValueError(f"{opcode.name} field {name}={value} out of range 0..{(1 << width) - 1}")
        word |= value << shift
        shift += width
    return word


def unpack_command(config: AcceleratorConfig, word: int) -> tuple[Opcode, dict]:
    """The opcode and fields of a record (the inverse of :func:`pack_command`).

    Raises
    ------
    ValueError
        If the opcode is not an :class:`Opcode`.
    """
    code = word & ((1 << COMMAND_OPCODE_BITS) - 1)
    if code not in {int(op) for op in Opcode}:
        raise ValueError(f"command opcode {code} is not one of {[int(op) for op in Opcode]}")
    opcode, fields, shift = Opcode(code), {}, COMMAND_OPCODE_BITS
    for name, width in command_fields(config, opcode):
        fields[name] = (word >> shift) & ((1 << width) - 1)
        shift += width
    return opcode, fields
