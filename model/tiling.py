"""Pass planner: split any layer into passes whose tiles fit the global buffers.

A *pass* is one run of the accelerator on a tile of the layer: images
``n0 .. n0+n_count``, filters ``m0 .. m0+m_count`` (whole column groups but the
last), channel words ``cw0 .. cw0+cw_count`` (``Cw = ceil(C / channels_per_word)``),
output rows ``e0 .. e0+e_count`` and output columns ``f0 .. f0+f_count``. The host
(the testbench playing DRAM) writes the pass's input tile -- the input rows and
columns its windows touch, the *halo* included, clipped to the input -- and its
weight tile into the global buffer, runs the pass and, after the last channel
tile of those outputs, reads them back. The descriptor tells the hardware the
tile's own sizes and where its first window starts (``pad_top``, ``pad_left``:
the padding still above / left of the tile), so padding works by masking as for
a whole layer. A tile already in the buffer from the previous pass is not
written again.

Channel tiles of the same outputs run back to back (the channel loop is the
innermost): the first computes its partial sums from zero, every later one adds
to the partial sums the psum buffer holds (descriptor flag ``accumulate``), and
only the last one's outputs are read. The accumulator is wide enough for the
whole reduction because :func:`plan` refuses ``C*R*S > config.max_reduction``.

Buffer needs of a pass (``rows``/``cols_in`` the input rows/columns of its
tile, ``groups = ceil(m_count / cols)``):

* ifmap buffer: ``n_count * cw_count * rows * cols_in`` words;
* weight buffer: ``groups * cw_count * R * S`` lines;
* psum buffer: ``groups * n_count * e_count * f_count`` lines.

The search: every tile size ``ceil(X / k)`` of each dimension ``X`` (one per
number of tiles ``k``: the smallest size with that many tiles, which fits
whenever a larger one does; for the time objective on OS also the row tiles
whose pixels fill whole folds, see :func:`_row_candidates`), and two loop orders above the channel loop --
``images-outer`` (filters innermost: the input tile stays while the filter
tiles change) and ``filters-outer`` (the weight tile stays while the images
and bands change); an order with the filter loop between the others never
moves fewer words than one of these. DRAM words: every input and weight word
written (halos again for every band), every output read once; DRAM bytes: those
words packed, inputs and weights at ``word_bits`` bits and outputs at ``bits``
bits (the requantized activation the next layer reads), the widths
:mod:`model.roofline` counts its compulsory bytes at, so a plan that moves each
value once has the roofline's memory time.

The objective (:class:`Objective`)
----------------------------------
``BYTES``: the fewest DRAM bytes, then the fewest compute cycles (:func:`pass_cycles`
summed), then the fewest passes. It can cost a factor of eight in time: a 1x1
stride-2 layer (ResNet-18's downsample layers) moves the fewest bytes with one-pixel
tiles, as a larger output tile's input tile holds the skipped pixels too, and a
one-pixel pass streams one slot per fold where loading the next fold takes
``rows`` (806,736 cycles for 100,352 of work on the default 8x8 WS build).

``TIME`` (the default): the fewest estimated cycles ``compute + ceil(bytes /
bandwidth)`` at a :class:`~model.dram.DramConfig`, then the fewest bytes, then the
fewest passes. The sum, not ``max(compute, bytes / bandwidth)`` (a perfectly
overlapped System), because (1) it is the shape of the runs that exist: the
System runs LOAD, RUN, STORE in order, and the host-port path writes every word
between passes, both serially (each at its own price per byte); (2) it bounds the
overlapped time from above (``max <= sum <= 2 max``); and (3) it prices every
byte: under ``max`` a compute-bound layer takes any extra traffic for the last
cycle of compute (ResNet-18 ``layer2_0_conv2`` on WS: 96 cycles fewer for 18 %
more bytes), traffic an overlapped System pays in bus contention, latency and the
first load and last store no tile hides. On ResNet-18 both reach the same
utilisation (``bench/planner_bench.py``); the sum moves fewer bytes.

Ties are broken by the cycles, the passes, even row bands before the fold-filling ones
(:func:`_row_candidates`), and then the order (``images-outer`` first).
Used by the driver (:mod:`model.program`) and the analytical model
(:mod:`model.perf`), so both see the same passes.
"""

from __future__ import annotations

import enum
import functools
import itertools
import math
from dataclasses import dataclass

from model.config import AcceleratorConfig, Dataflow
from model.contract import (
    DMA_OUTSTANDING, PIPELINE_TAIL, PassShape, StoreFormat, Tile, ifmap_load_words, pass_shape, weight_load_lanes, word_bytes, words_per_pixel,
)
from model.dram import DramConfig
from model.layer import ConvLayer

__all__ = ["Objective", "Order", "TileSizes", "Pass", "Plan", "plan", "band", "pass_cycles", "shape_cycles",
           "plan_words", "overlap_estimate", "overlap_timeline", "OVERLAP_SHORTLIST", "chunks", "tile_sizes",
           "axis_spans", "tile_at", "fold_cycles"]


class Objective(enum.StrEnum):
    """What :func:`plan` minimises first (module notes, "The objective")."""

    BYTES = "bytes"  #: fewest DRAM bytes, then fewest compute cycles, then fewest passes
    TIME = "time"    #: fewest cycles ``compute + DRAM bytes / bandwidth``, then fewest bytes, then passes
    #: fewest cycles of the double-buffered System (:func:`overlap_estimate`), then fewest bytes, then passes
    OVERLAP = "overlap"


class Order(enum.StrEnum):
    """Loop order of the passes above the (innermost) channel loop."""

    IMAGES_OUTER = "images-outer"    #: images, rows, columns, then filters: the input tile stays
    FILTERS_OUTER = "filters-outer"  #: filters, then images, rows, columns: the weight tile stays


@dataclass(frozen=True)
class TileSizes:
    """Tile sizes of a plan: images, filters, channel words, output rows, output columns."""

    n: int
    m: int
    cw: int
    e: int
    f: int


@dataclass(frozen=True)
class Pass:
    """One run of the accelerator (module notes); ``tile`` is what the hardware sees.

    ``h0``/``w0``: first input row/column of the input tile. ``load_ifmap`` /
    ``load_weights`` are False when the tile is already in the buffer from the
    previous pass; ``accumulate``: a later channel tile (adds to the psum buffer);
    ``read_out``: the last channel tile (its outputs are read back).
    """

    n0: int
    n_count: int
    m0: int
    m_count: int
    cw0: int
    cw_count: int
    e0: int
    f0: int
    h0: int
    w0: int
    tile: Tile
    load_ifmap: bool
    load_weights: bool
    accumulate: bool
    read_out: bool


@dataclass(frozen=True)
class Plan:
    """The passes of a layer, in execution order, with the DRAM traffic and cycles they take.

    ``dram_words``: the words moved (:func:`plan_words`); ``dram_bytes``: the same at their packed
    widths (module notes); ``cycles``: the compute cycles of every pass (:func:`pass_cycles`), what
    :func:`model.perf.predict` counts; ``memory_cycles``: ``ceil(dram_bytes / bandwidth)`` at the DRAM
    the plan was chosen for; ``objective``: what chose it.
    """

    passes: tuple[Pass, ...]
    order: Order
    sizes: TileSizes
    dram_words: int
    dram_bytes: int
    cycles: int
    objective: Objective
    memory_cycles: int

    @property
    def estimated_cycles(self) -> int:
        """``cycles + memory_cycles``: the run with no DRAM transfer overlapping compute, which
        :attr:`Objective.TIME` minimises (module notes, "The objective")."""
        return self.cycles + self.memory_cycles

    @property
    def whole_images(self) -> bool:
        """True when no pass cuts an image into bands or channel tiles (only images and filters are tiled)."""
        return all(p.e0 == 0 and p.f0 == 0 and not p.accumulate for p in self.passes)


def band(out0: int, count: int, size: int, kernel: int, stride: int, pad: int) -> tuple[int, int, int]:
    """Input span of outputs ``out0 .. out0+count-1`` along one axis: (first index, length, padding before).

    The windows touch ``out0*stride - pad .. (out0+count-1)*stride - pad + kernel - 1``;
    the span is that clipped to ``0 .. size-1`` (it may be empty when every tap is padding),
    and the padding before is how far the first window starts before the span.
    """
    start = out0 * stride - pad
    end = (out0 + count - 1) * stride - pad + kernel
    lo = start if start >= size else max(0, start)
    return lo, max(0, min(size, end) - lo), lo - start


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    """``(start, length)`` of the tiles of ``size`` that cut ``0 .. total-1`` (the last may be shorter)."""
    return [(start, min(size, total - start)) for start in range(0, total, size)]


def tile_sizes(total: int) -> list[int]:
    """Tile sizes ``ceil(total / k)``, one per number of tiles ``k``, largest first."""
    return sorted({-(-total // k) for k in range(1, total + 1)}, reverse=True)


@functools.lru_cache(maxsize=4096)
def _row_candidates(config: AcceleratorConfig, out: int, f: int, objective: Objective) -> tuple[int, ...]:
    """Row tile sizes to try with column tiles of ``f``: :func:`tile_sizes`, and for the time objective
    on OS also every multiple of ``span / gcd(span, f)`` rows, whose bands' pixels fill whole folds of
    ``span = rows*G`` pixels (a band of 4 and one of 2 rows can take fewer folds than two of 3)."""
    sizes = set(tile_sizes(out))
    if objective is not Objective.BYTES and config.dataflow is Dataflow.OS:
        span = config.rows * config.rf_sets
        unit = span // math.gcd(span, f)
        sizes.update(range(unit, out + 1, unit))
    return tuple(sorted(sizes, reverse=True))


@functools.lru_cache(maxsize=4096)
def axis_spans(size: int, out: int, kernel: int, stride: int, pad: int, t: int) -> tuple[int, int]:
    """(sum, max) of the input span lengths of the bands of ``t`` outputs along one axis."""
    lengths = [band(o0, c, size, kernel, stride, pad)[1] for o0, c in chunks(out, t)]
    return sum(lengths), max(lengths)


def tile_at(config: AcceleratorConfig, layer: ConvLayer, n_count, m_count, cw0, cw_count, e0, e_count, f0, f_count):
    """(:class:`Tile`, first input row, first input column) of the pass computing ``n_count`` images,
    ``m_count`` filters, channel words ``cw0 ..``, output rows ``e0 ..`` and columns ``f0 ..``."""
    h0, h, top = band(e0, e_count, layer.H, layer.R, layer.stride, layer.pad)
    w0, w, left = band(f0, f_count, layer.W, layer.S, layer.stride, layer.pad)
    cpw = config.channels_per_word
    channels = min(layer.C, (cw0 + cw_count) * cpw) - cw0 * cpw
    tile = Tile(N=n_count, M=m_count, C=channels, H=h, W=w, E=e_count, F=f_count, R=layer.R, S=layer.S,
                stride=layer.stride, pad_top=top, pad_left=left, last_channels=channels - (cw_count - 1) * cpw)
    return tile, h0, w0


def fold_cycles(config: AcceleratorConfig, folds: int, stream: int) -> int:
    """Cycles of the controller's periods in one pass of ``folds`` folds streaming ``stream`` slots each
    (see :mod:`model.perf`): the first load (WS) or walk (OS) of ``span`` cycles; one period per fold,
    ``G*stream`` or, while a load of the next fold or (OS) a drain of the previous one shares it,
    ``G*max(stream, rows)``; OS: the last drain of ``span`` cycles."""
    g, span = config.rf_sets, config.rows * config.rf_sets
    shared = g * max(stream, config.rows)
    if config.dataflow is Dataflow.WS:  # every fold but the last loads the next one
        return span + (folds - 1) * shared + g * stream
    # OS: every fold loads the next one or drains the previous one, unless it is the only one
    return span + (folds * shared if folds > 1 else g * stream) + span


def pass_cycles(config: AcceleratorConfig, tile: Tile) -> int:
    """Cycles of one pass computing ``tile``, from the cycle after ``start`` to the cycle ``done`` rises."""
    return shape_cycles(config, pass_shape(config, tile))


def shape_cycles(config: AcceleratorConfig, shape: PassShape) -> int:
    """:func:`pass_cycles` of a pass of ``shape`` (only its ``folds`` and ``stream`` count), e.g. one
    rebuilt from a packed descriptor."""
    return fold_cycles(config, shape.folds, shape.stream) + PIPELINE_TAIL[config.dataflow] + 1


def _passes(config: AcceleratorConfig, layer: ConvLayer, order: Order, sizes: TileSizes) -> tuple[Pass, ...]:
    cw = words_per_pixel(config, layer)
    dims = {"n": chunks(layer.N, sizes.n), "m": chunks(layer.M, sizes.m), "e": chunks(layer.E, sizes.e),
            "f": chunks(layer.F, sizes.f)}
    loops = ("n", "e", "f", "m") if order is Order.IMAGES_OUTER else ("m", "n", "e", "f")
    c_chunks = chunks(cw, sizes.cw)
    passes, prev_in, prev_w = [], None, None
    for outer in itertools.product(*(dims[d] for d in loops)):
        at = dict(zip(loops, outer))
        (n0, nc), (m0, mc), (e0, ec), (f0, fc) = at["n"], at["m"], at["e"], at["f"]
        for ci, (c0, cc) in enumerate(c_chunks):
            tile, h0, w0 = tile_at(config, layer, nc, mc, c0, cc, e0, ec, f0, fc)
            key_in, key_w = (n0, c0, e0, f0), (m0, c0)
            passes.append(Pass(n0, nc, m0, mc, c0, cc, e0, f0, h0, w0, tile, load_ifmap=key_in != prev_in,
                               load_weights=key_w != prev_w, accumulate=ci > 0, read_out=ci == len(c_chunks) - 1))
            prev_in, prev_w = key_in, key_w
    return tuple(passes)


def plan_words(config: AcceleratorConfig, layer: ConvLayer, passes: tuple[Pass, ...]) -> int:
    """DRAM words ``passes`` move: the input and weight words written, the outputs read."""
    words = 0
    for p in passes:
        t = p.tile
        words += p.load_ifmap * t.N * p.cw_count * t.H * t.W + p.load_weights * t.M * p.cw_count * t.R * t.S
        words += p.read_out * t.N * t.M * t.E * t.F
    return words


def _words(layer: ConvLayer, cw: int, sizes: TileSizes) -> dict[Order, int]:
    """:func:`plan_words` of the plans of ``sizes`` in each order, in closed form."""
    big_e, big_f = layer.E, layer.F
    tn, tm, tc = -(-layer.N // sizes.n), -(-layer.M // sizes.m), -(-cw // sizes.cw)
    rows = axis_spans(layer.H, big_e, layer.R, layer.stride, layer.pad, sizes.e)[0]
    cols = axis_spans(layer.W, big_f, layer.S, layer.stride, layer.pad, sizes.f)[0]
    inputs, weights = layer.N * cw * rows * cols, layer.M * cw * layer.R * layer.S
    outer = tn * -(-big_e // sizes.e) * -(-big_f // sizes.f)
    outputs = layer.N * layer.M * big_e * big_f
    if tc > 1:  # every pass changes its channel tile: both tiles are written every pass
        both = tm * inputs + outer * weights + outputs
        return {Order.IMAGES_OUTER: both, Order.FILTERS_OUTER: both}
    return {Order.IMAGES_OUTER: inputs + weights * (1 if tm == 1 else outer) + outputs,
            Order.FILTERS_OUTER: inputs * (1 if outer == 1 else tm) + weights + outputs}


def _cycles(layer: ConvLayer, cw: int, sizes: TileSizes, cost) -> int:
    """Cycles of every pass of a plan with ``sizes`` (order does not matter), by tile variant;
    ``cost(m, c, p)`` is the cycles of a pass of ``m`` filters, ``c`` channel words and ``p`` pixels."""
    pixels = [(n * e * f, a * d * g) for n, a in _variants(layer.N, sizes.n) for e, d in _variants(layer.E, sizes.e)
              for f, g in _variants(layer.F, sizes.f)]
    return sum(b * k * count * cost(m, c, p) for m, b in _variants(layer.M, sizes.m)
               for c, k in _variants(cw, sizes.cw) for p, count in pixels)


@functools.lru_cache(maxsize=4096)
def _variants(total: int, size: int) -> tuple[tuple[int, int], ...]:
    """(tile size, number of tiles) of the tiles of ``size`` along an axis of ``total``: full ones, then the rest."""
    full, rest = divmod(total, size)
    return ((size, full),) + (((rest, 1),) if rest else ())


def _pass_cost(config: AcceleratorConfig, layer: ConvLayer):
    """``cost(m, c, p)`` for :func:`_cycles`: :func:`pass_cycles` of a tile of ``m`` filters, ``c`` channel
    words and ``p`` pixels, memoised (only the fold counts matter: ``Kw = c*R*S`` whatever the last
    word holds, ``P`` whatever its split into images, rows and columns)."""
    cpw = config.channels_per_word

    @functools.cache
    def cost(m: int, c: int, p: int) -> int:
        return pass_cycles(config, Tile(N=1, M=m, C=c * cpw, H=1, W=1, E=1, F=p, R=layer.R, S=layer.S, stride=1,
                                        pad_top=0, pad_left=0, last_channels=cpw))
    return cost


class _Prices:
    """Cycles of the System's transfers, as its engines move them, for the estimates below: a buffer
    write per :func:`~model.contract.ifmap_load_words` input words or
    :func:`~model.contract.weight_load_lanes` weight words, a cycle per beat of a psum line of raw
    outputs (the planner does not know the format; requantized ones are faster); no faster than the
    DRAM's bandwidth, and a run no faster than one burst per ``latency / DMA_OUTSTANDING`` cycles (a
    short run is a burst of its own); ``2 * latency`` cycles per command (its fetch and first beat).
    ``step``: DRAM words an input word's LOAD reads (a subsampled strided 1x1 layer's,
    :func:`model.commands.system_plan`)."""

    def __init__(self, config: AcceleratorConfig, dram: DramConfig, step: int):
        wb = word_bytes(config)
        self.beat, self.beat_words, self.step = config.axi_beat_bytes, config.axi_beat_bytes // wb, step
        self.interval = dram.interval(config.axi_beat_bytes)
        self.lanes, self.words_in = weight_load_lanes(config, wb), ifmap_load_words(config, wb)
        self.burst = -(-dram.latency // DMA_OUTSTANDING)
        self.command = 2 * dram.latency
        self.line_bytes = config.cols * int(StoreFormat.RAW if config.acc_bits <= 32 else StoreFormat.RAW_WIDE)

    def _runs(self, runs: int, beats: int, writes: int) -> int:
        return runs * max(writes, beats * self.interval, self.burst)

    def inputs(self, runs: int, words: int) -> int:
        """``runs`` input rows of ``words`` words each."""
        beats = -(-((words - 1) * self.step + 1) // self.beat_words)
        return self._runs(runs, beats, max(beats, -(-words // self.words_in)))

    def weights(self, words: int) -> int:
        """Whole filter groups' weights (long runs)."""
        return max(-(-words // self.lanes), -(-words // self.beat_words) * self.interval)

    def stores(self, runs: int, lines: int) -> int:
        """``runs`` output rows holding ``lines`` psum lines in all."""
        beats = -(-(-(-lines // runs) * self.line_bytes) // self.beat)
        return self._runs(runs, beats, beats)


def overlap_estimate(config: AcceleratorConfig, layer: ConvLayer, sizes: TileSizes, order: Order, cycles: int,
                     dram: DramConfig, step: int = 1) -> int:
    """Estimated cycles of a plan on the System, whose transfers overlap the passes (:mod:`model.commands`):
    ``max(compute, transfers) + first loads + last stores``, the transfers priced one after another
    as :class:`_Prices` says. The first tile's loads and the last tile's stores overlap nothing. An
    estimate to choose tiles by (:func:`model.system_perf.predict_system` gives the exact cycles).
    """
    cw = words_per_pixel(config, layer)
    prices = _Prices(config, dram, step)
    tn, tm, tc = -(-layer.N // sizes.n), -(-layer.M // sizes.m), -(-cw // sizes.cw)
    te, tf = -(-layer.E // sizes.e), -(-layer.F // sizes.f)
    rows = axis_spans(layer.H, layer.E, layer.R, layer.stride, layer.pad, sizes.e)
    cols = axis_spans(layer.W, layer.F, layer.S, layer.stride, layer.pad, sizes.f)
    inputs, weights = layer.N * cw * rows[0] * cols[0], layer.M * cw * layer.R * layer.S
    outer = tn * te * tf
    if tc > 1:
        inputs, weights = tm * inputs, outer * weights
    elif order is Order.IMAGES_OUTER:
        weights *= 1 if tm == 1 else outer
    else:
        inputs *= 1 if outer == 1 else tm
    groups, tile_groups = -(-layer.M // config.cols), -(-sizes.m // config.cols)
    passes = outer * tm * tc
    transfers = (prices.inputs(inputs // max(cols[1], 1), cols[1]) + prices.weights(weights)
                 + prices.stores(layer.N * groups * layer.E * tf, layer.N * groups * layer.E * layer.F)
                 + passes * (2 * sizes.n + 2) * prices.command)
    first = prices.inputs(sizes.n * sizes.cw * rows[1], cols[1]) + prices.weights(sizes.m * sizes.cw * layer.R * layer.S)
    last = prices.stores(sizes.n * tile_groups * sizes.e, sizes.n * tile_groups * sizes.e * sizes.f)
    return max(cycles, transfers) + first + last + 3 * prices.command


#: Plans of the best closed-form :func:`overlap_estimate` that :attr:`Objective.OVERLAP` ranks by
#: :func:`overlap_timeline`.
OVERLAP_SHORTLIST = 48


def overlap_timeline(config: AcceleratorConfig, passes: tuple[Pass, ...], dram: DramConfig, step: int = 1) -> int:
    """Estimated cycles of ``passes`` on the System, pass by pass, in the command list's order
    (:mod:`model.commands`): pass ``i``'s loads, RUN ``i`` (when pass ``i-1`` has ended), the stores of
    pass ``i-1``'s outputs; each transfer priced as :class:`_Prices` says. Unlike the closed form it
    sees a pass too short to hide the next tile's loads."""
    prices = _Prices(config, dram, step)
    stream = free = stores = 0
    for p in passes:
        t = p.tile
        if p.load_ifmap:
            stream += prices.inputs(t.N * p.cw_count * t.H, t.W) + t.N * prices.command
        if p.load_weights:
            stream += prices.weights(t.M * p.cw_count * t.R * t.S) + prices.command
        go = max(stream, free)
        free = go + pass_cycles(config, t)
        stream = go + stores
        groups = -(-t.M // config.cols)
        stores = (prices.stores(t.N * groups * t.E, t.N * groups * t.E * t.F) + t.N * prices.command
                  if p.read_out else 0)
    return max(stream, free) + stores


def _refuse(config: AcceleratorConfig, layer: ConvLayer) -> None:
    if layer.groups != 1:
        raise ValueError(f"layer {layer} has groups={layer.groups}; the accelerator's host-port path runs "
                         f"groups=1 only: run it from DRAM on the System (--memory dram, MEMORY=dram), which runs "
                         f"grouped and depthwise layers, or as {layer.groups} ungrouped layers, one per group")
    if layer.reduction > config.max_reduction:
        raise ValueError(
            f"layer C*R*S={layer.reduction} exceeds max_reduction={config.max_reduction} of this build "
            f"(the accumulator's {config.acc_bits} bits hold no longer reduction)"
        )
    smallest = {
        "ifmap buffer": (axis_spans(layer.H, layer.E, layer.R, layer.stride, layer.pad, 1)[1]
                         * axis_spans(layer.W, layer.F, layer.S, layer.stride, layer.pad, 1)[1], config.ifmap_depth,
                         "words", "the window of one output pixel in one channel word"),
        "weight buffer": (layer.R * layer.S, config.weight_depth, "lines", "one channel word of the R*S taps"),
    }
    for name, (needed, available, unit, what) in smallest.items():
        if needed > available:
            raise ValueError(f"layer {layer} cannot be tiled: {what} needs {needed} {unit} of the {name}, "
                             f"which has {available}")


def _bytes(config: AcceleratorConfig, layer: ConvLayer, words: int) -> int:
    """DRAM bytes of a plan moving ``words`` words: input and weight words at ``word_bits`` bits, the
    outputs at ``bits`` bits (the requantized activation the next layer reads), packed, as
    :func:`model.roofline.roofline` counts its compulsory bytes."""
    outputs = layer.N * layer.M * layer.E * layer.F
    return -(-((words - outputs) * config.word_bits + outputs * config.bits) // 8)


@functools.lru_cache(maxsize=256)
def plan(config: AcceleratorConfig, layer: ConvLayer, objective: Objective = Objective.TIME,
         dram: DramConfig | None = None, step: int = 1) -> Plan:
    """The pass plan of ``layer`` on ``config`` that is best by ``objective`` (module notes).

    Parameters
    ----------
    objective : Objective
        :attr:`Objective.TIME` (default): fewest estimated cycles
        ``compute + ceil(DRAM bytes / dram.bandwidth)``, then fewest bytes, then fewest passes;
        :attr:`Objective.BYTES`: fewest DRAM bytes, then fewest compute cycles, then fewest passes.
    dram : DramConfig, optional
        The DRAM whose bandwidth the time estimate uses; default :class:`model.dram.DramConfig`.
    step : int
        :attr:`Objective.OVERLAP`: DRAM words the System's LOAD reads per input word (a strided 1x1
        layer planned as its subsampled equivalent reads ``step`` columns per word it keeps).

    Raises
    ------
    ValueError
        If the layer is grouped (``groups > 1``: the hardware runs ungrouped
        layers only; lower it to one layer per group), ``C*R*S`` exceeds
        ``config.max_reduction``, or even the smallest tile (one output pixel,
        one channel word, one filter) does not fit a buffer; the message names
        the buffer, the size needed and the size available.
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be an Objective ({', '.join(o.name for o in Objective)}), not {objective!r}")
    dram = DramConfig() if dram is None else dram
    if not isinstance(dram, DramConfig):
        raise TypeError(f"dram must be a DramConfig, not {type(dram).__name__}")
    _refuse(config, layer)
    cw, cols = words_per_pixel(config, layer), config.cols
    m_groups = -(-layer.M // cols)
    taps = layer.R * layer.S
    candidates = []  # (order, sizes, words)
    for c in tile_sizes(cw):
        for g in tile_sizes(m_groups):
            if g * c * taps > config.weight_depth:
                continue
            m = min(layer.M, g * cols)
            for f in tile_sizes(layer.F):
                cols_in = axis_spans(layer.W, layer.F, layer.S, layer.stride, layer.pad, f)[1]
                for e in _row_candidates(config, layer.E, f, objective):
                    rows_in = axis_spans(layer.H, layer.E, layer.R, layer.stride, layer.pad, e)[1]
                    per_image = (c * rows_in * cols_in, g * e * f)
                    if per_image[0] > config.ifmap_depth or per_image[1] > config.psum_depth:
                        continue
                    n_max = min(layer.N, config.ifmap_depth // max(per_image[0], 1), config.psum_depth // per_image[1])
                    for n in tile_sizes(layer.N):
                        if n <= n_max:
                            sizes = TileSizes(n=n, m=m, cw=c, e=e, f=f)
                            candidates += [(order, sizes, words) for order, words in _words(layer, cw, sizes).items()]

    if objective is Objective.BYTES:
        fewest = min(words for _, _, words in candidates)
        candidates = [cand for cand in candidates if cand[2] == fewest]
    rank = {order: i for i, order in enumerate(Order)}
    even_rows = set(tile_sizes(layer.E))  # on a tie, even bands before the fold-filling ones of _row_candidates
    cycles, cost = {}, _pass_cost(config, layer)
    # no plan computes in fewer cycles than its MACs on every lane: candidates are taken by fewest words,
    # and once that bound plus a candidate's DRAM time cannot beat the best, no later one can
    floor = layer.macs // (config.pes * config.channels_per_word) if objective is Objective.TIME else 0
    ranked = []
    for order, sizes, words in sorted(candidates, key=lambda cand: cand[2]):
        bytes_ = _bytes(config, layer, words)
        memory = -(-bytes_ // dram.bandwidth) if objective is Objective.TIME else bytes_
        if ranked and objective is not Objective.OVERLAP and floor + memory > min(r[0] for r in ranked)[0]:
            break
        if sizes not in cycles:
            cycles[sizes] = _cycles(layer, cw, sizes, cost)
        passes = math.prod(-(-total // size) for total, size in (
            (layer.N, sizes.n), (layer.M, sizes.m), (cw, sizes.cw), (layer.E, sizes.e), (layer.F, sizes.f)))
        first = {Objective.TIME: cycles[sizes] + memory, Objective.BYTES: bytes_,
                 Objective.OVERLAP: overlap_estimate(config, layer, sizes, order, cycles[sizes], dram, step)}[objective]
        ranked.append(((first, bytes_, cycles[sizes], passes, sizes.e not in even_rows, rank[order]), order, sizes))
    if objective is Objective.OVERLAP:
        # the closed form screens; the pass-by-pass timeline of the best few decides
        ranked = [((overlap_timeline(config, _passes(config, layer, order, sizes), dram, step),) + key[1:], order, sizes)
                  for key, order, sizes in sorted(ranked, key=lambda r: r[0])[:OVERLAP_SHORTLIST]]
    _, order, sizes = min(ranked, key=lambda r: r[0])   # the first of equals, as the candidates came
    passes = _passes(config, layer, order, sizes)
    words = plan_words(config, layer, passes)
    dram_bytes = _bytes(config, layer, words)
    return Plan(passes, order, sizes, words, dram_bytes, cycles[sizes], objective, -(-dram_bytes // dram.bandwidth))
