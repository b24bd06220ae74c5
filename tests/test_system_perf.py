"""model/system_perf.py on hand-built command lists, against cycle counts worked out by hand from
the RTL's documented behaviour (hw/command/processor.py, hw/axi/read_dma.py, the DRAM rule of
model/dram.py). The exact agreement with the RTL itself is tests/test_system_cosim.py's."""

import numpy as np
import pytest

from model.commands import Command, build_image, system_plan
from model.config import AcceleratorConfig
from model.contract import COMMAND_BYTES, COMMAND_DECODE_CYCLES, COMMAND_NEXT_CYCLES, PIPELINE_TAIL, Buffer, Opcode
from model.data import random_operands
from model.layer import ConvLayer
from model.dram import DramConfig
from model.program import pass_run
from model.system_perf import _fetch_cycles, predict_accelerator, predict_system
from model.tiling import pass_cycles, plan
from tests.command_reference import moved
from tests.tiled_layers import TILING, tiled_cases

CONFIG = AcceleratorConfig(**TILING)   # 8-bit words, 8-byte beats


def _fetch(latency, interval):
    """A record read: AR offered 2 cycles after the command, 8 beats from latency on, done the cycle
    after the last, DECODE the next: 4 + latency + 7 * interval; then DECODE and NEXT."""
    return 4 + latency + 7 * interval + 2


def _load(words, **run):
    return Command(Opcode.LOAD, dict(buffer=Buffer.IFMAP, buf_addr=0, words=words, skip=0, step=1, repeat=0, repeat_stride=0,
                                     **run))


@pytest.mark.parametrize("latency, bandwidth", [(40, 8), (7, 2), (2, 1)])
def test_a_load_of_one_burst(latency, bandwidth):
    interval = 8 // bandwidth
    beats = 5
    cmd = _load(8 * beats, dram_addr=4096, run_bytes=8 * beats, count=1, stride=0)
    got = predict_system(CONFIG, (cmd,), DramConfig(latency=latency, bandwidth=bandwidth))
    # the unpacker writes two words per cycle (2x2 array: ifmap_load_words 2): a beat is held 4
    # cycles, the next offered `interval` later
    last = 2 + latency + 3 + (beats - 1) * (interval + 3)
    assert got.phase_cycles["load"] == last + 2
    assert got.counters["sys_cycles"] == _fetch(latency, interval) + last + 2
    assert got.counters["stall_cycles"] == got.counters["sys_cycles"]
    assert got.counters["dram_bytes_read"] == COMMAND_BYTES + 8 * beats
    assert got.counters["axi_read_bursts"] == 1 + 1


def test_a_load_that_skips_bytes_and_crosses_a_page():
    # 3 runs of 1 + 20 words from 4088: the first run's bursts are cut at the 4 KiB boundary
    cmd = Command(Opcode.LOAD, dict(buffer=Buffer.IFMAP, buf_addr=0, words=60, skip=4, step=1, dram_addr=4088,
                                    run_bytes=24, count=3, stride=32, repeat=0, repeat_stride=0))
    got = predict_system(CONFIG, (cmd,), DramConfig(latency=10, bandwidth=8))
    # words per beat: run of 24 bytes from a beat start, 4 skipped: 4, 8, 8 words, so 3 beats per run
    # beats: 4, 8, 8 | 4, 8, 8 | 4, 8, 8, written two words per cycle: held 2, 4, 4 cycles;
    # bursts: [4088: 1 beat], [4096: 2], then one of 3 per run
    t = 2 + 10 + 1                    # burst 0 (AR at 2): its only beat, 4 words
    t = max(t + 1, 3 + 10) + 3        # burst 1 (AR at 3): first beat, 8 words
    t = t + 1 + 3                     # its second beat
    for _ in range(2):                # bursts 2 and 3, their ARs long in
        t = t + 1 + 1
        t = t + 1 + 3
        t = t + 1 + 3
    assert got.phase_cycles["load"] == t + 2
    assert got.counters["axi_read_bursts"] == 1 + 4
    assert got.counters["dram_bytes_read"] == COMMAND_BYTES + 3 * 24


def test_a_load_overlaps_a_running_pass():
    # RUN (a pass of S cycles), a LOAD of one 5-beat burst, SYNC: the LOAD runs while the pass does
    config = AcceleratorConfig()                          # 8-bit words, 8-byte beats, an 8x8 array
    ps = plan(config, ConvLayer(C=8, H=16, W=16, M=8, R=3, S=3, pad=1)).passes[0]
    desc = pass_run(config, ps).desc
    S = pass_cycles(config, ps.tile)
    lat, interval = 40, 1
    load = _load(40, dram_addr=4096, run_bytes=40, count=1, stride=0)
    L = 2 + lat + 4 * interval + 2      # the LOAD's body: a beat's 8 words in one write each cycle (8x8)
    fc = _fetch(lat, interval)                           # FETCH, DECODE and NEXT of one command
    cmds = (Command(Opcode.RUN, dict(desc=desc)), load, Command(Opcode.SYNC, {}))
    got = predict_system(config, cmds, DramConfig(latency=lat, bandwidth=8))
    start = fc - 1                                       # the RUN's only cycle: start pulsed
    sync = start + 1 + fc + L + 1 + fc - 1               # the SYNC's first cycle
    assert S > sync - start, "the pass must outlast the LOAD for this case"
    assert got.counters["sys_cycles"] == start + S + 2   # the SYNC sees the accelerator idle S cycles on
    assert got.counters["dma_wait_cycles"] == start + S - sync
    assert got.counters["stall_cycles"] == start + S + 2 - (S - 1)
    assert got.phase_cycles["load"] == L and got.phase_cycles["run"] == 1


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_a_run_starts_in_the_pipeline_tail_of_the_pass_before(dataflow):
    # RUN, RUN, SYNC of one pass of S cycles: busy from start + 1 to start + S - 1, the last T
    # (the tail: WS the psum write 5 stages after the last issue, OS the drain 4 after) without issue,
    # so the second RUN, fetched long before, pulses start at start + S - T
    config = AcceleratorConfig(dataflow=dataflow)
    T = {"ws": 5, "os": 4}[dataflow]
    ps = plan(config, ConvLayer(C=8, H=16, W=16, M=8, R=3, S=3, pad=1)).passes[0]
    run = Command(Opcode.RUN, dict(desc=pass_run(config, ps).desc))
    S = pass_cycles(config, ps.tile)
    fc = _fetch(40, 1)
    got = predict_system(config, (run, run, Command(Opcode.SYNC, {})), DramConfig(latency=40, bandwidth=8))
    start = fc - 1
    second = start + 1 + fc                              # the second RUN's first cycle
    go = start + S - T
    assert second < go
    sync = go + 1 + fc                                   # the SYNC's first cycle, which waits for go + S
    assert got.counters["sys_cycles"] == go + S + 2
    assert got.counters["dma_wait_cycles"] == (go - second) + (go + S - sync)
    # busy cycles, each once: the two passes share the tail's T - 1 cycles after the second start
    assert got.counters["stall_cycles"] == go + S + 2 - (2 * (S - 1) - (T - 1))
    assert got.phase_cycles["run"] == 1 + go - second + 1


@pytest.mark.parametrize("dataflow, layer", [("ws", ConvLayer(C=64, H=12, W=12, M=16, R=3, S=3, pad=1)),
                                            ("os", ConvLayer(C=64, H=16, W=16, M=16, R=3, S=3, pad=1))])
def test_busy_cycles_are_what_the_system_counts_busy_without_stalls(dataflow, layer):
    # channel tiles (16 and 32 passes) with short loads: at a fast DRAM every RUN waits for the pass
    # before, so the command-list replay's busy cycles are the closed form's, every start in a tail
    config = AcceleratorConfig(dataflow=dataflow)
    x, w = random_operands(layer, 8, np.random.default_rng(0))
    c = predict_system(config, build_image(config, layer, x, w), DramConfig(latency=2, bandwidth=8)).counters
    got = predict_accelerator(config, layer)
    passes = system_plan(config, layer).passes
    T = {"ws": 5, "os": 4}[dataflow]
    assert got.busy_cycles == sum(pass_cycles(config, p.tile) - 1 for p in passes) - (T - 1) * (len(passes) - 1)
    assert c["sys_cycles"] - c["stall_cycles"] == got.busy_cycles < got.cycles
    assert got.utilization == layer.macs / (got.busy_cycles * 64)


def test_a_store_after_a_run_reads_after_the_tail_before_it():
    # hw/command/processor.py: a STORE after a RUN taken in a tail reads the psums only after that tail,
    # because NEXT and the STORE's FETCH and DECODE come first: at the shortest DRAM (latency 2) and the
    # widest beat (16 bytes, 4 beats a record: 4 + latency + 3 beats, as _fetch), 1 + 9 + 1 cycles, more
    # than any tail
    assert _fetch_cycles(16, 2, 1) == 4 + 2 + 3
    assert max(PIPELINE_TAIL.values()) < COMMAND_NEXT_CYCLES + _fetch_cycles(16, 2, 1) + COMMAND_DECODE_CYCLES


def test_counters_add_up_on_a_tiled_layer():
    layer = tiled_cases(CONFIG)["filters"]
    x, w = random_operands(layer, 8, np.random.default_rng(0))
    image = build_image(CONFIG, layer, x, w)
    dram = DramConfig(latency=40, bandwidth=8)
    got = predict_system(CONFIG, image, dram)
    c, ph = got.counters, got.phase_cycles
    computing = sum(pass_cycles(CONFIG, p.tile) - 1 for p in system_plan(CONFIG, layer).passes)
    assert c["sys_cycles"] == c["stall_cycles"] + computing == sum(ph.values())
    assert ph["fetch"] == len(image.commands) * _fetch(40, 1)
    stores = [cmd.fields for cmd in image.commands if cmd.opcode is Opcode.STORE]
    assert c["dram_bytes_written"] == sum(moved(f) for f in stores)
    slower = predict_system(CONFIG, image, DramConfig(latency=40, bandwidth=1)).counters
    assert slower["sys_cycles"] > c["sys_cycles"] and slower["stall_cycles"] > c["stall_cycles"]


def test_a_bandwidth_wider_than_the_beat_is_refused():
    with pytest.raises(ValueError, match="bandwidth must be in 1..4"):
        predict_system(AcceleratorConfig(**TILING, axi_data_bits=32), (), DramConfig(bandwidth=8))
