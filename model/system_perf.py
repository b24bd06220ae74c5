"""The exact cycle model of the command-driven System (``hw/system.py``), its passes overlapped by transfers.

Given a layer's command list (:func:`model.commands.build_image`) and the DRAM timing
(:class:`model.dram.DramConfig`), :func:`predict_system` gives every counter of
:data:`model.contract.SYSTEM_COUNTERS` the RTL reports, exactly, by replaying the commands
burst by burst and beat by beat (no per-cycle loop). It imports nothing from ``hw/`` or ``sim/``.

The timing rule
---------------
Cycle numbers are clock edges. ``lat`` is the DRAM latency, ``I = beat_bytes // bandwidth`` its
cycles per beat (:mod:`model.dram`'s rule). The processor runs one command at a time, but a pass,
once started, runs beside the commands after it. Only the command stream uses the DRAM, and
every command starts with the DMAs idle and the DRAM's queues empty (the previous command waited
for its last R beat or B response), so a LOAD's or STORE's cycles depend on its own fields only.

* **Per command**: FETCH (the record's read), DECODE (:data:`~model.contract.COMMAND_DECODE_CYCLES`),
  the body, NEXT (:data:`~model.contract.COMMAND_NEXT_CYCLES`); the next FETCH follows.
  ``sys_cycles`` is the cycle the last NEXT ends (from START).
* **RUN and SYNC**: the body's first cycle ``b``; the last pass started at ``s`` and takes
  :func:`model.tiling.shape_cycles` ``S``: busy from ``s + 1`` to ``s + S - 1``, the last
  ``T`` = :data:`~model.contract.PIPELINE_TAIL` of them its pipeline tail, in which the accelerator
  already takes the next start (``ready``). A RUN ends at ``go = max(b, s + S - T)`` and pulses
  ``start`` then; a SYNC at ``go = max(b, s + S)``, when the pass has ended. ``go - b`` cycles count
  as ``dma_wait_cycles`` (the stream waits for the array).
* **Stalls**: ``stall_cycles`` is ``sys_cycles`` less the cycles the accelerator is busy, each
  counted once (a pass started in a tail shares ``s + S - 1 - go`` of them with the pass before):
  every cycle of the layer the accelerator is not busy (its ``done`` is high), the array waiting
  for data.
* **Read DMA** (FETCH and LOAD), its command taken at cycle 0: burst ``k`` (of
  :func:`model.bursts.split_transfer`) is loaded into the AR register at
  ``L_k = max(L_{k-1} + 1, P_{k-D} + 1)`` (``L_0 = DMA_ADDRESS_DELAY - 1``, ``D`` =
  :data:`~model.contract.DMA_OUTSTANDING`, ``P_j`` the last R handshake of burst ``j``), its AR
  handshake is at ``A_k = L_k + 1`` (the DRAM's queue of 16 never fills behind 8). Beat ``i`` is
  offered at ``O_i = max(H_{i-1} + I, A_k + lat)`` (the second term for a burst's first beat only)
  and taken at ``H_i``, which the consumer decides:

  - FETCH (RREADY always high): ``H = O``; FETCH ends the cycle after the DMA's ``done``, i.e.
    it lasts ``H_last + 2`` cycles.
  - LOAD of ifmap or weight words (:class:`hw.command.load.LoadUnpacker`): one write per cycle from
    the cycle a beat is offered (up to :func:`~model.contract.ifmap_load_words` of the beat's ifmap
    words, every ``step``-th slot; or :func:`~model.contract.weight_load_lanes` weight words), the
    beat taken with its last write of the run: ``H = O + n - 1`` (``n`` the beat's writes after the
    run's ``skip``, :func:`load_writes`). The body lasts
    ``H_last + 2`` cycles (the DMA's ``done``, then its ``busy`` falls).
  - LOAD of requantization entries (:class:`hw.command.requant_load.RequantLoader`): the beats of
    an entry are taken as offered, then its ``Q`` host writes go one per cycle (``Q`` the chunks of
    :data:`~model.contract.REQUANT_FIELDS` in ``word_bits``), the next entry's first beat no sooner
    than ``Q + 1`` cycles after the last one's: ``H = max(O, ready)``. The body lasts
    ``max(H_last + 2, H_last + Q + 1)`` cycles.
* **STORE** (:class:`hw.command.store.StorePacker` and the write DMA, both started at cycle 0; its
  filter groups' blocks of runs one after another, as one list of runs):
  the read of psum line ``v`` is issued at ``r_v = max(r_{v-1} + 1, p_{v-C} + 1)`` (``r_0 = 1``,
  ``C`` = :data:`~model.contract.STORE_READ_CREDIT`, ``p_v`` the line's last segment); the line is
  packed in segments (its ``cols`` containers up to the line's end or the beat's end, counting from
  the run's start offset ``o = dram_addr % beat`` inside its first beat), one per cycle, its first
  at ``max(r_v + READ_LATENCY + 1, previous segment + 1)``, a segment that completes beat ``j`` (a
  full beat or a run's end) no sooner than ``T_{j-1}`` (below); beat ``j`` is offered from the
  cycle after its segment. The bursts are those of the aligned runs of ``o + run_bytes`` bytes. Write burst ``b`` is loaded into the AW register at
  ``L_b = max(L_{b-1} + 1, B_{b-D} + 1)`` (``L_0 = DMA_ADDRESS_DELAY - 1``). Beat ``j`` (of burst
  ``b``) enters the W register at ``T_j = max(p + 1, W_{j-1}, L_b + 1)`` and its W handshake is at
  ``W_j = max(T_j + 1, W_{j-1} + I)``; burst ``b``'s B handshake is at
  ``B_b = max(W_last + lat, B_{b-1} + 1)``. The body lasts ``max(B_last + 2, T_last + 1)`` cycles.
* **The accelerator's counters** (:data:`~model.contract.COUNTERS`, :func:`accelerator_counters`):
  :func:`model.perf.predict`'s for the System's passes (:func:`model.commands.system_plan`), except
  the buffer writes (a weight LOAD writes whole filter groups, zeros for the filters past ``M``,
  several lanes per write, where the host program writes only the ``M`` filters, a lane at a time)
  and the psum reads of the outputs (a STORE reads a whole line per read, the host program an output).
* **Bytes and bursts**: the DMAs' run bytes and :func:`model.bursts.split_transfer`'s bursts of
  every FETCH (one :data:`~model.contract.COMMAND_BYTES` record each), LOAD and STORE.

The rule is proven against the RTL on Icarus and Verilator by ``tests/test_system_cosim.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

from model.bursts import split_transfer
from model.commands import Command, DramImage, overlapped_starts, system_plan, word_bytes
from model.config import AcceleratorConfig, Dataflow
from model.contract import (
    AXI_BOUNDARY_BYTES, COMMAND_BYTES, COMMAND_DECODE_CYCLES, COMMAND_NEXT_CYCLES, DMA_ADDRESS_DELAY, DMA_OUTSTANDING, PIPELINE_TAIL,
    READ_LATENCY,
    REQUANT_ENTRY_BYTES, REQUANT_FIELDS, STORE_READ_CREDIT, SYSTEM_COUNTERS, Buffer, Opcode, PassShape,
    ifmap_load_words, unpack_descriptor, weight_load_lanes,
)
from model.dram import DramConfig
from model.layer import ConvLayer
from model.perf import Prediction, predict
from model.tiling import shape_cycles

__all__ = ["SystemPrediction", "predict_system", "predict_accelerator", "accelerator_counters", "requant_writes_per_entry", "load_writes"]


@dataclass(frozen=True)
class SystemPrediction:
    """What :func:`predict_system` predicts.

    Attributes
    ----------
    counters : dict
        Every name of :data:`model.contract.SYSTEM_COUNTERS` -> its value at the end of the layer.
    phase_cycles : dict
        Cycles spent per phase: ``"fetch"`` (FETCH, DECODE and NEXT of every command),
        ``"load"``, ``"run"``, ``"store"`` (the bodies); they sum to ``sys_cycles``.
    """

    counters: dict
    phase_cycles: dict


def requant_writes_per_entry(word_bits: int) -> int:
    """Host-port writes of one requantization entry: each field of
    :data:`~model.contract.REQUANT_FIELDS` in ``word_bits``-bit chunks."""
    return sum(-(-width // word_bits) for _, width in REQUANT_FIELDS)


def _always_ready(offer: int, words: int) -> int:
    """FETCH: RREADY is always high."""
    return offer


def _unpacker(offer: int, writes: int) -> int:
    """LOAD of words: one buffer write per cycle from the offer, the beat taken with its last."""
    return offer + writes - 1


class _EntryLoader:
    """LOAD of requantization entries: ``per_entry`` beats taken as offered, then ``writes`` cycles."""

    def __init__(self, per_entry: int, writes: int) -> None:
        self._per_entry, self._writes = per_entry, writes
        self._ready, self._beats = 0, 0

    def __call__(self, offer: int, words: int) -> int:
        at = max(offer, self._ready)
        self._beats += 1
        self._ready = at + (self._writes + 1 if self._beats % self._per_entry == 0 else 1)
        return at


def _read(bursts, words, take, latency: int, interval: int) -> int:
    """The read DMA's last R handshake (cycle 0: the command taken); ``take(offer, words[i])`` gives
    beat ``i``'s handshake."""
    loads, pops = [], []
    last = -math.inf
    i = 0
    for k, burst in enumerate(bursts):
        load = DMA_ADDRESS_DELAY - 1 if k == 0 else loads[-1] + 1
        if k >= DMA_OUTSTANDING:
            load = max(load, pops[k - DMA_OUTSTANDING] + 1)
        loads.append(load)
        ar = load + 1
        for j in range(burst.beats):
            offer = max(last + interval, ar + latency) if j == 0 else last + interval
            last = take(offer, words[i])
            i += 1
        pops.append(last)
    return last


def _run_words(skip: int, run_bytes: int, word_bytes: int, beat_bytes: int, step: int = 1) -> list[int]:
    """Words the unpacker writes from each beat of one run (every ``step``-th slot from the one after
    ``skip``, through the run's end)."""
    per_beat = beat_bytes // word_bytes
    first, end = skip // word_bytes, run_bytes // word_bytes
    beats = -(-run_bytes // beat_bytes)
    words = [0] * beats
    for slot in range(first, end, step):
        words[slot // per_beat] += 1
    return words


def _fetch_cycles(beat_bytes: int, latency: int, interval: int) -> int:
    bursts = split_transfer(0, COMMAND_BYTES, 1, 0, beat_bytes)
    last = _read(bursts, [1] * sum(b.beats for b in bursts), _always_ready, latency, interval)
    return last + 2


def _load_cycles(config: AcceleratorConfig, f: dict, word_bytes: int, latency: int, interval: int) -> int:
    beat = config.axi_beat_bytes
    bursts = _transfer(f, beat)[0]
    if f["buffer"] == Buffer.REQUANT:
        writes = requant_writes_per_entry(config.word_bits)
        take = _EntryLoader(-(-REQUANT_ENTRY_BYTES // beat), writes)
        last = _read(bursts, [1] * sum(b.beats for b in bursts), take, latency, interval)
        return max(last + 2, last + writes + 1)
    return _read(bursts, load_writes(config, f, word_bytes), _unpacker, latency, interval) + 2


def load_writes(config: AcceleratorConfig, f: dict, word_bytes: int) -> list[int]:
    """The unpacker's buffer writes (cycles) per beat of an ifmap or weight LOAD with fields ``f``:
    :func:`~model.contract.weight_load_lanes` weight words per write, up to
    :func:`~model.contract.ifmap_load_words` ifmap words of the beat per write."""
    weights = f["buffer"] == Buffer.WEIGHT
    per_write = (weight_load_lanes if weights else ifmap_load_words)(config, word_bytes)
    per_beat = _run_words(f["skip"], f["run_bytes"], word_bytes, config.axi_beat_bytes, 1 if weights else f["step"])
    return [-(-words // per_write) for words in per_beat] * (f["count"] * (1 + f["repeat"]))


def _transfer(f: dict, beat: int):
    """The bursts of a LOAD's or STORE's runs, and the offset of each run's start inside its first beat.

    A STORE whose runs start inside a beat (a column tile's outputs) is walked as the aligned runs of
    ``offset + run_bytes`` bytes, its first beat strobed from ``offset`` (:mod:`hw.axi.write_dma`).
    """
    offset = f["dram_addr"] % beat
    return split_transfer(f["dram_addr"] - offset, offset + f["run_bytes"], f["count"], f["stride"], beat,
                          f["repeat"], f["repeat_stride"]), offset


def _store_cycles(config: AcceleratorConfig, f: dict, latency: int, interval: int) -> int:
    beat, size, per_run, count = config.axi_beat_bytes, int(f["format"]), f["per_run"], f["count"] * (1 + f["repeat"])
    cols = config.cols
    bursts, offset = _transfer(f, beat)
    owner = [b for b, burst in enumerate(bursts) for _ in range(burst.beats)]   # burst of each beat
    ends = {total - 1 for total in itertools.accumulate(burst.beats for burst in bursts)}   # last beats
    loads, bs = [], []

    def aw_load(b: int) -> int:
        while len(loads) <= b:
            k = len(loads)
            load = DMA_ADDRESS_DELAY - 1 if k == 0 else loads[-1] + 1
            if k >= DMA_OUTSTANDING:
                load = max(load, bs[k - DMA_OUTSTANDING] + 1)
            loads.append(load)
        return loads[b]

    reads, pops = [], []                # per line: its read, its last segment (it leaves the FIFO)
    step = -math.inf                    # the last segment's cycle
    enter, w_last = None, -math.inf     # W register entry of the last beat, its W handshake
    beat_index, byte = 0, offset
    for v in range(count * per_run):
        pos = v % per_run
        read = 1 if v == 0 else reads[-1] + 1
        if v >= STORE_READ_CREDIT:
            read = max(read, pops[v - STORE_READ_CREDIT] + 1)
        reads.append(read)
        step = max(step + 1, read + READ_LATENCY + 1)
        seg = 0
        while True:                     # the line's segments: to the line's end or the beat's end
            room, left = (beat - byte) // size, cols - seg
            line_end = left <= room
            emits = left >= room or (line_end and pos == per_run - 1)
            if emits and enter is not None:
                step = max(step, enter)
            if emits:
                b = owner[beat_index]
                enter = max(step + 1, w_last, aw_load(b) + 1)
                w_last = max(enter + 1, w_last + interval)
                if beat_index in ends:
                    bs.append(max(w_last + latency, bs[-1] + 1 if bs else -math.inf))
                beat_index += 1
                byte = offset if line_end and pos == per_run - 1 else 0
            else:
                byte += left * size
            if line_end:
                break
            seg += room
            step += 1
        pops.append(step)
    if beat_index != len(owner):
        raise AssertionError(f"the STORE packs {beat_index} beats, its bursts have {len(owner)}")
    return max(bs[-1] + 2, enter + 1)


def _run_cycles(config: AcceleratorConfig, desc: int) -> int:
    d = unpack_descriptor(config, desc)
    ws = config.dataflow is Dataflow.WS
    shape = PassShape(Cw=d["Cw"], Kw=d["Kw"], P=d["P"], span=config.rows * config.rf_sets, m_groups=d["m_groups"],
                      last_cols=d["last_cols"], k_folds=d["k_folds"], p_folds=d["p_folds"],
                      stream=d["P"] if ws else d["Kw"], folds=d["m_groups"] * (d["k_folds"] if ws else d["p_folds"]))
    return shape_cycles(config, shape)


def _timing_key(c: Command) -> tuple:
    """The fields a command's cycles depend on (4 KiB page offsets, not addresses)."""
    f = c.fields
    if c.opcode is Opcode.RUN:
        return (c.opcode, f["desc"])
    page = AXI_BOUNDARY_BYTES
    key = (c.opcode, f["dram_addr"] % page, f["run_bytes"], f["count"], f["stride"] % page, f["repeat"],
           f["repeat_stride"] % page)
    if c.opcode is Opcode.LOAD:
        return key + (f["buffer"], f["skip"], f["step"], f["words"])
    return key + (f["format"], f["per_run"])


def predict_system(config: AcceleratorConfig, image: DramImage | tuple[Command, ...],
                   dram: DramConfig) -> SystemPrediction:
    """Every System counter for running ``image``'s command list on ``config`` with ``dram``.

    Parameters
    ----------
    config : AcceleratorConfig
    image : DramImage or tuple of Command
        The layer's image (:func:`model.commands.build_image`) or just its command list.
    dram : DramConfig
        Latency and bandwidth of the DRAM (the co-simulation's ``qconv_dram``).

    Returns
    -------
    SystemPrediction

    Raises
    ------
    ValueError
        If ``dram.bandwidth`` exceeds the port's beat (:meth:`model.dram.DramConfig.interval`).
    """
    commands = image.commands if isinstance(image, DramImage) else tuple(image)
    wb = word_bytes(config)
    beat, latency = config.axi_beat_bytes, dram.latency
    interval = dram.interval(beat)
    fetch = _fetch_cycles(beat, latency, interval) + COMMAND_DECODE_CYCLES
    record_bursts = len(split_transfer(0, COMMAND_BYTES, 1, 0, beat))
    phases = dict.fromkeys(("fetch", "load", "run", "sync", "store"), 0)
    c = dict.fromkeys(SYSTEM_COUNTERS, 0)
    c["dram_bytes_read"] = COMMAND_BYTES * len(commands)
    c["axi_read_bursts"] = record_bursts * len(commands)
    memo: dict = {}
    tail = PIPELINE_TAIL[config.dataflow]
    now, ready_from, idle_from, computing = 0, 0, 0, 0  # next FETCH, first cycle a start is taken, first
    for cmd in commands:                                # idle cycle, the accelerator's busy cycles
        f = cmd.fields
        body = now + fetch                  # the command's first cycle after DECODE
        if cmd.opcode in (Opcode.RUN, Opcode.SYNC):
            go = max(body, ready_from if cmd.opcode is Opcode.RUN else idle_from)   # start pulsed, or wait over
            c["dma_wait_cycles"] += go - body
            cycles = go - body + 1
            if cmd.opcode is Opcode.RUN:
                key = _timing_key(cmd)
                if key not in memo:
                    memo[key] = _run_cycles(config, f["desc"])
                computing += memo[key] - 1 - max(0, idle_from - 1 - go)
                ready_from, idle_from = go + memo[key] - tail, go + memo[key]
        else:
            key = _timing_key(cmd)
            if key not in memo:
                memo[key] = (_load_cycles(config, f, wb, latency, interval) if cmd.opcode is Opcode.LOAD
                             else _store_cycles(config, f, latency, interval))
            cycles = memo[key]
            moved = f["run_bytes"] * f["count"] * (1 + f["repeat"])
            bursts = len(_transfer(f, beat)[0])
            if cmd.opcode is Opcode.LOAD:
                c["dram_bytes_read"] += moved
                c["axi_read_bursts"] += bursts
            else:
                c["dram_bytes_written"] += moved
                c["axi_write_bursts"] += bursts
        phases[cmd.opcode.name.lower()] += cycles
        phases["fetch"] += fetch + COMMAND_NEXT_CYCLES
        now = body + cycles + COMMAND_NEXT_CYCLES
    if now < idle_from:
        raise ValueError("the command list ends while a pass runs (it must end with a SYNC after its last RUN)")
    c["sys_cycles"] = now
    c["stall_cycles"] = now - computing
    return SystemPrediction(c, phases)


def predict_accelerator(config: AcceleratorConfig, layer: ConvLayer) -> Prediction:
    """:func:`model.perf.predict` of the passes the System runs (:func:`model.commands.system_plan`:
    double-buffered tiles, a depthwise layer's channel groups): the accelerator's cycles without stalls.

    ``cycles`` is the accelerator's counter (each pass's own cycles, summed). ``busy_cycles``, which
    ``utilization`` is over, are the cycles the accelerator is busy with the passes back to back,
    every RUN there when its predecessor takes a start: a pass's ``S - 1``, less the ``T - 1`` it
    shares with the pass before when it starts in that pass's tail (:func:`model.commands.overlapped_starts`,
    ``T`` = :data:`~model.contract.PIPELINE_TAIL`). The System's ``sys_cycles - stall_cycles`` counts
    them when no transfer stalls it.

    Raises
    ------
    ValueError
        What :func:`model.commands.system_plan` refuses.
    """
    plan = system_plan(config, layer)
    pred = predict(config, layer, plan.passes)
    busy = pred.cycles - pred.passes - (PIPELINE_TAIL[config.dataflow] - 1) * overlapped_starts(config, plan)
    return dataclasses.replace(pred, busy_cycles=busy, utilization=layer.macs / (busy * config.pes * config.channels_per_word))


def accelerator_counters(config: AcceleratorConfig, layer: ConvLayer, image: DramImage) -> dict:
    """The accelerator's :data:`~model.contract.COUNTERS` when the System runs ``image`` (of ``layer``):
    :func:`model.perf.predict`'s for the System's passes (:func:`model.commands.system_plan`), with
    the ifmap and weight buffer writes (and the DRAM reads the accelerator counts with them) those
    of the command list's LOADs (:func:`load_writes`: several words per write); and the psum reads of the STOREs, a line (every lane) per read where the
    host program reads an output at a time."""
    counters = dict(predict_accelerator(config, layer).counters)
    wb = word_bytes(config)
    for buffer, names in ((Buffer.IFMAP, ("dram_ifmap_reads", "glb_ifmap_writes")),
                          (Buffer.WEIGHT, ("dram_weight_reads", "glb_weight_writes"))):
        writes = sum(sum(load_writes(config, c.fields, wb)) for c in image.commands
                     if c.opcode is Opcode.LOAD and c.fields["buffer"] == buffer)
        counters |= dict.fromkeys(names, writes)
    lines = sum(c.fields["count"] * c.fields["per_run"] * (1 + c.fields["repeat"]) for c in image.commands
                if c.opcode is Opcode.STORE)
    counters["glb_psum_reads"] += lines - counters["dram_psum_writes"]
    counters["dram_psum_writes"] = lines
    return counters
