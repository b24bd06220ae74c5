"""The DRAM: its configuration, its timing model, and the Verilog model under cocotbext-axi's AxiMaster.

The timing rule (model/dram.py) is implemented twice, as an event-driven transaction model
(:class:`model.dram.DramTiming`) and in Verilog (``sim/dram/qconv_dram.v``); a third, naive
cycle-by-cycle reading of the rule lives here. The transaction model is checked against that
reference on random traffic and against hand-worked examples; the Verilog is checked on Icarus and
Verilator, with an independent AXI master, for data (against a numpy mirror) and for the cycle of
every handshake (against the transaction model fed with what the master offered).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.contract import AxiResp
from model.dram import DRAM_QUEUE_DEPTH, DramConfig, DramTiming
from sim.dram import read_image, verilog_parameters, write_image
from sim.dram.scenario import Channel, Dump, Load, Read, Transfers, Write
from sim.simulators import SIMULATORS

BEAT = 8   # bytes per beat of the 64-bit port the co-simulations use


# -- DramConfig ------------------------------------------------------------------------------------

def test_defaults_are_the_documented_ones():
    dram = DramConfig()
    assert (dram.latency, dram.bandwidth, dram.size_bytes) == (40, 8, 2**24)
    assert dram.interval(8) == 1 and dram.interval(16) == 2
    assert DramConfig(bandwidth=1).interval(8) == 8


@pytest.mark.parametrize("field, value, message", [
    ("latency", 1, "latency must be in 2..4096, not 1"),
    ("latency", 4097, "latency must be in 2..4096, not 4097"),
    ("bandwidth", 0, "bandwidth must be in 1..16, not 0"),
    ("bandwidth", 32, "bandwidth must be in 1..16, not 32"),
    ("bandwidth", 6, "bandwidth must be a power of two (1, 2, 4, 8, 16), not 6"),
    ("size_bytes", 8, "size_bytes must be in 16..1073741824, not 8"),
    ("size_bytes", 2**31, "size_bytes must be in 16..1073741824, not 2147483648"),
    ("size_bytes", 1000, "size_bytes must be a multiple of 16, not 1000"),
])
def test_bad_settings_name_field_value_and_range(field, value, message):
    with pytest.raises(ValueError) as err:
        DramConfig(**{field: value})
    assert str(err.value) == message


def test_non_integers_are_refused():
    with pytest.raises(TypeError, match="latency must be an integer"):
        DramConfig(latency=4.0)
    with pytest.raises(TypeError, match="bandwidth must be an integer"):
        DramConfig(bandwidth=True)


def test_bandwidth_above_the_beat_is_refused():
    with pytest.raises(ValueError, match=r"bandwidth must be in 1\.\.4 \(the port's beat bytes\), not 8"):
        DramConfig(bandwidth=8).interval(4)


def test_json_round_trip_and_refusals():
    dram = DramConfig(latency=7, bandwidth=2, size_bytes=4096)
    assert DramConfig.from_json(dram.to_json()) == dram
    assert DramConfig.from_dict({"latency": 3}) == DramConfig(latency=3)
    with pytest.raises(ValueError, match=r"unknown DRAM configuration field\(s\) \['speed'\]"):
        DramConfig.from_dict({"speed": 1})
    with pytest.raises(ValueError, match="not valid JSON"):
        DramConfig.from_json("{latency: 3")
    with pytest.raises(TypeError, match="must be a JSON object, not list"):
        DramConfig.from_dict([1])


def test_verilog_parameters_come_from_the_configuration():
    assert verilog_parameters(DramConfig(latency=5, bandwidth=2, size_bytes=4096), 8) == {
        "DATA_BITS": 64, "ID_BITS": 1, "ADDR_BITS": 32, "LATENCY": 5, "INTERVAL": 4, "SIZE_BYTES": 4096,
        "QUEUE_DEPTH": DRAM_QUEUE_DEPTH}


# -- hex images --------------------------------------------------------------------------------

def test_image_is_written_lane_order_most_significant_first(tmp_path):
    words = write_image(tmp_path / "a.hex", bytes(range(1, 12)), 4)
    assert words == 3
    assert (tmp_path / "a.hex").read_text() == "04030201\n08070605\n000b0a09\n"


def test_image_reads_icarus_comments_and_round_trips(tmp_path):
    (tmp_path / "d.hex").write_text("// 0x00000000\n0706050403020100\n// 0x00000001\n0F0E0D0C0B0A0908\n")
    assert read_image(tmp_path / "d.hex", 8).tolist() == list(range(16))
    data = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)
    write_image(tmp_path / "r.hex", data, 16)
    assert np.array_equal(read_image(tmp_path / "r.hex", 16), data)


def test_image_with_unknown_bits_is_refused(tmp_path):
    (tmp_path / "x.hex").write_text("00000000\n0000x000\n")
    with pytest.raises(ValueError, match=r"word 1 is not 8 hex digits"):
        read_image(tmp_path / "x.hex", 4)


# -- the transaction model against hand-worked examples ------------------------------------------

def test_hand_worked_read_latency_5_interval_2():
    """A 4-beat read at latency 5, interval 2, AR at t: beats at t+5, t+7, t+9, t+11."""
    timing = DramTiming(DramConfig(latency=5, bandwidth=4), 8)
    burst = timing.read(100, 4)
    timing.finish()
    assert burst.ar == 100 and burst.beats == [105, 107, 109, 111]


def test_hand_worked_reads_go_first_and_responses_wait_for_bready():
    """Latency 3, interval 2. AW at 0 with data ready: W beat at 1 (the cycle after the AW), the next
    could go at 3, but a read accepted at 0 is due at 3 and goes first: R at 3, 5; W then at 7.
    B: 7 + 3 = 10, but BREADY is low at 10 and 11, so 12."""
    timing = DramTiming(DramConfig(latency=3, bandwidth=4), 8, b_stalls={10, 11})
    write = timing.write(0, 2)
    read = timing.read(0, 2)
    timing.finish()
    assert read.beats == [3, 5]
    assert write.aw == 0 and write.beats == [1, 7] and write.b == 12


def test_hand_worked_rready_pause_holds_the_bus():
    """Interval 1, latency 2, AR and AW at 0. The first W beat goes at 1, before the read is due. The
    read beat offered at 2 waits for RREADY (low at 2..4) until 5, and no W beat goes while it is
    offered; the next read beat (6) wins the tie with the W beat; the W beats follow at 7, 8."""
    timing = DramTiming(DramConfig(latency=2, bandwidth=8), 8, r_stalls={2, 3, 4})
    read = timing.read(0, 2)
    write = timing.write(0, 3)
    timing.finish()
    assert write.beats[0] == 1
    assert read.beats == [5, 6]
    assert write.beats[1:] == [7, 8]      # no W beat while a read beat is offered (2..6)


def test_hand_worked_queue_of_16_reads():
    """17 one-beat reads offered at 0, latency 30, interval 1: one address per cycle, so bursts 0..15
    are accepted at 0..15 and their beats come at 30..45; the queue is then full, and the 17th is
    accepted the cycle after burst 0's beat (31), its beat at 31 + 30 = 61."""
    timing = DramTiming(DramConfig(latency=30, bandwidth=8), 8)
    bursts = [timing.read(0, 1) for _ in range(DRAM_QUEUE_DEPTH + 1)]
    timing.finish()
    assert [b.ar for b in bursts] == list(range(16)) + [31]
    assert [b.beats[0] for b in bursts] == list(range(30, 46)) + [61]


def test_offers_before_the_resolved_horizon_are_refused():
    timing = DramTiming(DramConfig(), 8)
    timing.advance(50)
    with pytest.raises(ValueError, match="offer must not lie before the resolved horizon 50, not 49"):
        timing.read(49, 1)
    with pytest.raises(ValueError, match="length must be in 1..256, not 0"):
        timing.write(60, 0)
    with pytest.raises(ValueError, match=r"w_offer must give one cycle per beat \(2\), not 1"):
        timing.write(60, 2, [61])


# -- the transaction model against a naive cycle-by-cycle reading of the rule --------------------

def _reference(latency, interval, reads, writes, r_stalls, b_stalls):
    """The rule, read literally, one cycle at a time: returns ar, r beats, aw, w beats, b per burst."""
    ar = [None] * len(reads); r_beats = [[] for _ in reads]
    aw = [None] * len(writes); w_beats = [[] for _ in writes]; b = [None] * len(writes)
    last_beat = -math.inf
    r_offered = False           # RVALID held from an earlier cycle
    cycle = 0
    while any(x is None for x in b) or any(len(r_beats[k]) < reads[k][1] for k in range(len(reads))):
        # rule 3: the head read burst's next beat is offered when due and the bus allows
        head = next((k for k in range(len(reads)) if ar[k] is not None and len(r_beats[k]) < reads[k][1]), None)
        if head is not None and not r_offered:
            due = ar[head] + latency if not r_beats[head] else -math.inf
            r_offered = cycle >= due and cycle >= last_beat + interval
        if r_offered and cycle not in r_stalls:
            r_beats[head].append(cycle); last_beat = cycle; r_offered = False
        # rule 4: WREADY while an AW is in (from an earlier cycle), the bus is free, no read offered
        w_head = next((k for k in range(len(writes)) if len(w_beats[k]) < writes[k][1]), None)
        if (w_head is not None and aw[w_head] is not None and aw[w_head] < cycle and not r_offered
                and cycle >= last_beat + interval and writes[w_head][2][len(w_beats[w_head])] <= cycle):
            w_beats[w_head].append(cycle); last_beat = cycle
        # rule 5: B in order, after latency, held until BREADY
        b_head = next((k for k in range(len(writes)) if b[k] is None), None)
        if (b_head is not None and len(w_beats[b_head]) == writes[b_head][1] and w_beats[b_head][-1] + latency <= cycle
                and (b_head == 0 or b[b_head - 1] < cycle) and cycle not in b_stalls):
            b[b_head] = cycle
        # rule 2: addresses accepted while fewer than 16 bursts are queued (as of the cycle before)
        queued = sum(1 for k in range(len(reads)) if ar[k] is not None and not (len(r_beats[k]) == reads[k][1] and r_beats[k][-1] < cycle))
        k = next((k for k in range(len(reads)) if ar[k] is None), None)
        if k is not None and reads[k][0] <= cycle and queued < DRAM_QUEUE_DEPTH:
            ar[k] = cycle
        queued = sum(1 for k in range(len(writes)) if aw[k] is not None and not (b[k] is not None and b[k] < cycle))
        k = next((k for k in range(len(writes)) if aw[k] is None), None)
        if k is not None and writes[k][0] <= cycle and queued < DRAM_QUEUE_DEPTH:
            aw[k] = cycle
        cycle += 1
    return ar, r_beats, aw, w_beats, b


def _random_traffic(rng):
    reads, writes, t = [], [], 0
    for _ in range(rng.integers(1, 30)):
        t += int(rng.integers(0, 6))
        reads.append((t, int(rng.integers(1, 9))))
    t = 0
    for _ in range(rng.integers(1, 30)):
        t += int(rng.integers(0, 6))
        length = int(rng.integers(1, 9))
        writes.append((t, length, tuple(int(x) for x in t + np.cumsum(rng.integers(0, 3, length)))))
    horizon = 2000
    r_stalls = {int(c) for c in np.flatnonzero(rng.random(horizon) < rng.random() * 0.6)}
    b_stalls = {int(c) for c in np.flatnonzero(rng.random(horizon) < rng.random() * 0.6)}
    return reads, writes, r_stalls, b_stalls


@pytest.mark.parametrize("seed", range(40))
def test_transaction_model_equals_the_cycle_by_cycle_reference(seed):
    rng = np.random.default_rng(seed)
    latency, bandwidth = int(rng.integers(2, 12)), int(rng.choice([1, 2, 4, 8]))
    reads, writes, r_stalls, b_stalls = _random_traffic(rng)
    if seed % 3 == 0:
        r_stalls = set()          # the fast path: whole read bursts at once
    timing = DramTiming(DramConfig(latency=latency, bandwidth=bandwidth), 8, r_stalls=r_stalls, b_stalls=b_stalls)
    for offer, length in reads:
        timing.read(offer, length)
    for offer, length, w_offer in writes:
        timing.write(offer, length, w_offer)
    timing.finish()
    ar, r_beats, aw, w_beats, b = _reference(latency, 8 // bandwidth, reads, writes, r_stalls, b_stalls)
    assert [r.ar for r in timing.reads] == ar
    assert [r.beats for r in timing.reads] == r_beats
    assert [w.aw for w in timing.writes] == aw
    assert [w.beats for w in timing.writes] == w_beats
    assert [w.b for w in timing.writes] == b


def test_advancing_step_by_step_equals_resolving_at_once():
    rng = np.random.default_rng(7)
    reads, writes, r_stalls, b_stalls = _random_traffic(rng)
    config = DramConfig(latency=6, bandwidth=4)
    whole = DramTiming(config, 8, r_stalls=r_stalls, b_stalls=b_stalls)
    stepped = DramTiming(config, 8, r_stalls=r_stalls, b_stalls=b_stalls)
    for offer, length in reads:
        whole.read(offer, length)
    for offer, length, w_offer in writes:
        whole.write(offer, length, w_offer)
    whole.finish()
    events = sorted([(o, 0, (o, n)) for o, n in reads] + [(o, 1, (o, n, w)) for o, n, w in writes],
                    key=lambda event: event[0])     # stable: each direction keeps its order
    for offer, kind, burst in events:
        stepped.advance(offer)
        stepped.read(*burst) if kind == 0 else stepped.write(*burst)
    stepped.finish()
    assert [(r.ar, r.beats) for r in stepped.reads] == [(r.ar, r.beats) for r in whole.reads]
    assert [(w.aw, w.beats, w.b) for w in stepped.writes] == [(w.aw, w.beats, w.b) for w in whole.writes]


# -- the Verilog model on Icarus and Verilator ---------------------------------------------------------

#: (latency, bandwidth) of the co-simulated builds: the hand-worked one and the default timing.
TIMINGS = [(5, 4), (40, 8)]
#: Memory of the co-simulated builds (small, so that addresses past its end are easy to reach).
SIZE = 65536


def _scenario(rng) -> tuple[list, np.ndarray, list]:
    """Phases exercising every feature, the numpy mirror of the memory afterwards, and per Transfers
    phase the expected (data, resp) of each op."""
    mirror = np.zeros(SIZE, dtype=np.uint8)
    phases, expected = [], []

    def transfers(ops, **kwargs):
        want = []
        for op in ops:          # reads and writes of one phase touch disjoint bytes
            if isinstance(op, Read):
                inside = max(0, min(op.length, SIZE - op.address))
                data = bytes(mirror[op.address:op.address + inside]) + bytes(op.length - inside)
                want.append((data, AxiResp.OKAY if inside == op.length else AxiResp.DECERR))
            else:
                want.append((None, AxiResp.OKAY if op.address + len(op.data) <= SIZE else AxiResp.DECERR))
        for op in ops:
            if isinstance(op, Write):
                inside = max(0, min(len(op.data), SIZE - op.address))
                mirror[op.address:op.address + inside] = np.frombuffer(op.data[:inside], dtype=np.uint8)
        expected.append(want)
        phases.append(Transfers(tuple(ops), **kwargs))

    def data(n):
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()

    transfers([Read(0, 32)])                                        # the hand-worked 4-beat read
    image = data(16384)
    phases.append(Load(0, image))                                       # bulk load, then AXI reads
    mirror[:16384] = np.frombuffer(image, dtype=np.uint8)
    transfers([Read(0, 8), Write(16384, data(8)), Read(64, 16), Write(16392, data(24)),
               Read(1024, 56), Write(17003, data(45)), Read(3, 21), Read(2048, 128),
               Write(20480, data(2048)), Read(4096, 2048), Write(24576 + 5, data(300))])
    pauses = {Channel.R: [False, True, True, False, True], Channel.B: [True, False, True],
              Channel.AR: [False, False, True], Channel.AW: [True, False],
              Channel.W: [False, True, False, False, True, True]}
    transfers([Read(8192, 1000), Write(28672, data(777)), Read(12288 + 8, 64),
               Write(32768, data(16)), Read(6000, 17), Write(36000, data(2100))], pauses=pauses)
    transfers([Read(16384, 16384)])                                 # AXI writes read back
    transfers([Read(40960 + 8 * k, 8) for k in range(40)] +        # more bursts than the queue holds
              [Write(49152 + 8 * k, data(8)) for k in range(40)])
    transfers([Read(SIZE - 16, 32), Read(SIZE + 4096, 16)])   # DECERR past the end
    transfers([Write(SIZE - 8, data(16)), Write(SIZE + 64, data(8))])
    phases.append(Transfers((Read(0, 16),), size=2))                 # narrow: SLVERR
    expected.append([(bytes(16), AxiResp.SLVERR)])
    phases.append(Dump(0, SIZE // BEAT - 1))                            # bulk dump of everything
    return phases, mirror, expected


def _model_of(trace, dram: DramConfig) -> DramTiming:
    """The transaction model fed with what the master offered in ``trace``."""
    timing = DramTiming(dram, BEAT, r_stalls=trace.r_stalls, b_stalls=trace.b_stalls)
    for address in trace.ar:
        timing.read(address.offer, address.beats)
    w_offers = iter(beat.offer for beat in trace.w)
    for address in trace.aw:
        timing.write(address.offer, address.beats, [next(w_offers) for _ in range(address.beats)])
    timing.finish()
    return timing


@pytest.mark.cosim
@pytest.mark.parametrize("latency, bandwidth", TIMINGS, ids=[f"lat{l}-bw{b}" for l, b in TIMINGS])
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_verilog_dram_under_axi_master(simulator, latency, bandwidth, require_simulator):
    require_simulator(simulator)
    from sim.dram.run import build, run_scenario

    dram = DramConfig(latency=latency, bandwidth=bandwidth, size_bytes=SIZE)
    phases, mirror, expected = _scenario(np.random.default_rng(latency))
    trace = run_scenario(build(simulator, dram, BEAT, cxx_opt="-O0"), phases)

    # data: every read's bytes and response, then the whole memory, against the numpy mirror
    for number, (got, want) in enumerate(zip(trace.results, expected)):
        for index, ((got_data, got_resp), (want_data, want_resp)) in enumerate(zip(got, want)):
            assert got_resp == want_resp, f"phase {number} op {index}: resp {got_resp} != {want_resp}"
            assert got_data == want_data, f"phase {number} op {index}: data differ"
    assert len(trace.results) == len(expected)
    dump = np.frombuffer(trace.dumps[0], dtype=np.uint8)
    assert dump.size == SIZE
    assert np.array_equal(dump, mirror), f"first differing byte {int(np.argmax(dump != mirror))}"

    # per beat: DECERR exactly for beats past the end, SLVERR for the narrow burst
    beats = iter(trace.r)
    for address in trace.ar:
        for j in range(address.beats):
            beat = next(beats)
            if address.size != 3:
                assert beat.resp == AxiResp.SLVERR and beat.data == 0
            else:
                outside = (address.address // BEAT + j) * BEAT >= SIZE
                assert beat.resp == (AxiResp.DECERR if outside else AxiResp.OKAY)
                assert not outside or beat.data == 0
            assert beat.last == (j == address.beats - 1)

    # the hand-worked example, straight from the trace: beats at AR + latency + j * interval
    interval = BEAT // bandwidth
    first = trace.ar[0].cycle
    assert [beat.cycle for beat in trace.r[:4]] == [first + latency + j * interval for j in range(4)]

    # timing: every handshake the DRAM made equals the transaction model's
    model = _model_of(trace, dram)
    assert trace.r_stalls and trace.b_stalls, "the pauses did not reach RREADY/BREADY"
    assert [r.ar for r in model.reads] == [a.cycle for a in trace.ar]
    assert [c for r in model.reads for c in r.beats] == [beat.cycle for beat in trace.r]
    assert [w.aw for w in model.writes] == [a.cycle for a in trace.aw]
    assert [c for w in model.writes for c in w.beats] == [beat.cycle for beat in trace.w]
    assert [w.b for w in model.writes] == [beat.cycle for beat in trace.b]
    # the queue limit was reached (rule 2 exercised): some AR waited for ARREADY, and at latency 40
    # (B responses late) some AW waited for AWREADY
    assert any(a.cycle > a.offer for a in trace.ar)
    assert any(a.cycle > a.offer for a in trace.aw) == (latency == 40)


# -- a master in Verilog, the model driven event by event -----------------------------------------

def _predicted_stream_cycles(dram: DramConfig, bursts: int, outstanding: int) -> int:
    """Cycles from the start pulse to ``done`` of ``stream_reader.v``, predicted by driving the
    transaction model as the reader behaves: AR ``k`` offered the cycle after AR ``k-1``, and not before
    the cycle after the last beat of burst ``k - outstanding``; ``done`` the cycle after the last beat."""
    timing = DramTiming(dram, BEAT)
    for k in range(bursts):
        cycle = 1 if k == 0 else timing.reads[k - 1].ar + 1
        if k >= outstanding:
            freed = timing.reads[k - outstanding]
            timing.advance(cycle)
            while not (freed.done and freed.beats[-1] < cycle):
                cycle = max(cycle + 1, freed.beats[-1] + 1) if freed.done else cycle + 1
                timing.advance(cycle)
        timing.read(cycle, 256)
    timing.finish()
    return timing.reads[-1].beats[-1] + 1


#: (latency, bandwidth, cycles worked by hand) of 48 bursts. Latency 40, 2 cycles per beat: 8 bursts in
#: flight hide the latency, so the first beat comes 40 cycles after the first AR (cycle 1) and the rest
#: follow every 2 cycles, done the cycle after the last: 1 + 40 + 2 * (256 * 48 - 1) + 1 = 24616.
#: Latency 3000, 1 cycle per beat: the reader waits for a free slot. Burst k's first beat at f, its last
#: at f + 255, AR k + 8 at f + 256, its first beat at f + 256 + 3000: each group of 8 bursts streams 2048
#: beats, group g's first at 3001 + 3256 g; the last of 6 groups ends at 3001 + 5 * 3256 + 2047 = 21328.
STREAMS = [(40, 4, 24616), (3000, 8, 21329)]
#: Both timings on Icarus (builds in a fraction of a second); on Verilator (a build takes ~30 s) the
#: one where the reader waits for the DRAM, the harder path.
STREAM_RUNS = [("icarus", *STREAMS[0]), ("icarus", *STREAMS[1]), ("verilator", *STREAMS[1])]


@pytest.mark.cosim
@pytest.mark.parametrize("simulator, latency, bandwidth, by_hand", STREAM_RUNS,
                         ids=[f"{s}-lat{l}-bw{b}" for s, l, b, _ in STREAM_RUNS])
def test_streaming_reader_in_verilog_takes_the_predicted_cycles(simulator, latency, bandwidth, by_hand,
                                                                 require_simulator):
    require_simulator(simulator)
    from sim.dram.bench import STREAM_OUTSTANDING, StreamMemory, streaming_read

    dram = DramConfig(latency=latency, bandwidth=bandwidth, size_bytes=SIZE)
    bursts = 48                       # wraps around the 32 bursts the memory holds
    got = streaming_read(StreamMemory.VERILOG, bursts, dram, simulator=simulator, cxx_opt="-O0")   # checks the checksum
    assert got["cycles"] == by_hand
    assert got["cycles"] == _predicted_stream_cycles(dram, bursts, STREAM_OUTSTANDING)
