"""hw/axi in amaranth.sim: the burst walker against model/bursts.py, the DMA engines against a Python AXI
slave (tests/axi_models.py) with seeded pauses, and the AXI4-Lite registers against hand-worked accesses.

Expected data comes from plain numpy slicing of the memory (each run's bytes), expected bursts from
:func:`model.bursts.split_transfer` or worked by hand, never from the RTL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.axi.burst_walker import BurstWalker
from hw.axi.lite_regs import LiteRegisters
from hw.axi.read_dma import ReadDma
from hw.axi.write_dma import WriteDma
from model.bursts import split_transfer
from model.contract import DMA_OUTSTANDING, AxiResp, ControlBit, DmaError, LiteRegister, StatusBit
from tests.axi_models import AxiSlaveMemory, BeatSink, BeatSource, ErrorWindow, Pauses

MEM_BYTES = 1 << 16


@dataclass(frozen=True)
class Cmd:
    addr: int
    run_bytes: int
    count: int = 1
    stride: int = 0
    repeat: int = 0
    repeat_stride: int = 0

    def runs(self):
        return [(self.addr + b * self.repeat_stride + k * self.stride, self.run_bytes)
                for b in range(1 + self.repeat) for k in range(self.count)]


def _set_cmd(ctx, port, cmd: Cmd) -> None:
    for name in ("addr", "run_bytes", "count", "stride", "repeat", "repeat_stride"):
        ctx.set(getattr(port.payload, name), getattr(cmd, name))
    ctx.set(port.valid, 1)


def _run(dut, body, max_cycles: int) -> None:
    """Run ``body(ctx, cycle) -> bool`` once per cycle (drive, sample) until it returns True."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        for cycle in range(max_cycles):
            if body(ctx, cycle):
                return
            await ctx.tick()
        raise AssertionError(f"no done within {max_cycles} cycles")

    sim.add_testbench(bench)
    sim.run()


def _pauses(seed: int, p: float, channels) -> dict:
    rng = np.random.default_rng(seed)
    return {ch: Pauses(rng, p) for ch in channels}


def _memory(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, MEM_BYTES, dtype=np.uint8)


# -- the burst walker ------------------------------------------------------------------------------

def _walk(beat: int, cmds: list[Cmd], seed: int) -> list[list[tuple]]:
    dut = BurstWalker(beat)
    rng = np.random.default_rng(seed)
    got: list[list[tuple]] = []
    queue = list(cmds)
    state = {"offered": False, "taken": False}

    def body(ctx, cycle):
        if state["taken"]:
            ctx.set(dut.cmd.valid, 0)
            state["taken"] = False
        if not state["offered"] and queue and not ctx.get(dut.busy):
            _set_cmd(ctx, dut.cmd, queue[0])
            state["offered"] = True
            got.append([])
        ready = int(rng.random() < 0.7)
        ctx.set(dut.bursts.ready, ready)
        if ctx.get(dut.bursts.valid) and ready:
            p = dut.bursts.payload
            got[-1].append((ctx.get(p.addr), ctx.get(p.len) + 1, ctx.get(p.last_bytes), ctx.get(p.final)))
        if state["offered"] and ctx.get(dut.cmd.ready):
            queue.pop(0)
            state["offered"], state["taken"] = False, True
        return not queue and not state["offered"] and not state["taken"] and not ctx.get(dut.busy)

    _run(dut, body, 20000)
    return got


def _expected_walk(cmd: Cmd, beat: int) -> list[tuple]:
    bursts = split_transfer(cmd.addr, cmd.run_bytes, cmd.count, cmd.stride, beat, cmd.repeat, cmd.repeat_stride)
    return [(b.addr, b.beats, b.last_bytes, int(k == len(bursts) - 1)) for k, b in enumerate(bursts)]


@pytest.mark.parametrize("beat", [4, 8, 16])
def test_walker_gives_the_bursts_of_the_model(beat):
    rng = np.random.default_rng(beat)
    cmds = [Cmd(0x0F00, 2307, 1, 0), Cmd(0x0FF0, 20, 3, 0x1000)]
    for k in range(12):
        repeat = int(rng.integers(1, 4)) if k % 2 else 0   # blocks of runs repeated, every other command
        cmds.append(Cmd(int(rng.integers(0, 1 << 14)) * beat, int(rng.integers(1, 6000)), int(rng.integers(1, 5)),
                        int(rng.integers(0, 1 << 10)) * beat, repeat, int(rng.integers(0, 1 << 12)) * beat))
    got = _walk(beat, cmds, seed=beat)
    assert len(got) == len(cmds)
    for cmd, bursts in zip(cmds, got):
        assert bursts == _expected_walk(cmd, beat), cmd


def test_walker_hand_worked_boundary_case():
    # 0x0F00 + 2307 bytes on 64-bit beats: 32 beats to 4 KiB, 256 (the limit), then 3 bytes
    assert _walk(8, [Cmd(0x0F00, 2307)], seed=0) == [[(0x0F00, 32, 8, 0), (0x1000, 256, 8, 0), (0x1800, 1, 3, 1)]]


def test_walker_hand_worked_repeated_blocks():
    # 2 runs of 8 bytes 0x40 apart, the block walked twice, 0x1000 apart; the very last burst is final
    assert _walk(8, [Cmd(0x100, 8, 2, 0x40, 1, 0x1000)], seed=0) == [
        [(0x100, 1, 8, 0), (0x140, 1, 8, 0), (0x1100, 1, 8, 0), (0x1140, 1, 8, 1)]]


def test_walker_empty_command_gives_no_burst():
    assert _walk(8, [Cmd(0x100, 0, 4, 8), Cmd(0x100, 8, 0, 8), Cmd(0x100, 8)], seed=1) == [[], [], [(0x100, 1, 8, 1)]]


# -- the read DMA ----------------------------------------------------------------------------------

@dataclass
class ReadRun:
    beats: list           # (data, strb, last) streamed out
    ar: list              # (addr, beats) of every AR
    error: DmaError
    cycles: int           # cycle 0 offers the command; done in cycle cycles - 1
    bytes: int            # sum of inc_bytes
    bursts: int           # sum of inc_bursts
    max_in_flight: int


def run_reads(cmds: list[Cmd], mem: np.ndarray, *, beat: int = 8, latency: int = 4, pause: float = 0.0,
              seed: int = 0, errors=(), cancel_at: int | None = None, max_cycles: int = 20000) -> list[ReadRun]:
    """Run ``cmds`` one after another on one engine (each offered the cycle after the last one's done)."""
    dut = ReadDma(8 * beat)
    slave = AxiSlaveMemory(mem, beat, latency, _pauses(seed, pause, ("ar", "r")), tuple(errors))
    sink = BeatSink(dut.data, Pauses(np.random.default_rng(seed + 1), pause))
    runs: list[ReadRun] = []
    state = {"bytes": 0, "bursts": 0, "began": 0, "beats": 0, "ar": 0, "offer": True}

    def body(ctx, cycle):
        if state["offer"]:
            _set_cmd(ctx, dut.cmd, cmds[len(runs)])
            assert ctx.get(dut.cmd.ready), "an idle engine takes a command at once"
            state["offer"], state["began"] = False, cycle
        else:
            ctx.set(dut.cmd.valid, 0)
        slave.cycle = cycle
        slave.drive_read(ctx, dut.bus)
        sink.drive(ctx)
        ctx.set(dut.cancel, int(cycle == cancel_at))
        slave.sample_read(ctx, dut.bus)
        sink.sample(ctx, ("data", "strb", "last"))
        state["bytes"] += ctx.get(dut.inc_bytes)
        state["bursts"] += ctx.get(dut.inc_bursts)
        if not ctx.get(dut.done):
            return False
        runs.append(ReadRun(sink.beats[state["beats"]:], slave.ar[state["ar"]:], DmaError(ctx.get(dut.error)),
                            cycle + 1 - state["began"], state["bytes"], state["bursts"], slave.max_reads_in_flight))
        assert slave.reads_in_flight == 0, "done with bursts still in flight"
        state.update(bytes=0, bursts=0, beats=len(sink.beats), ar=len(slave.ar), offer=True)
        return len(runs) == len(cmds)

    _run(dut, body, max_cycles)
    return runs


def run_read(cmd: Cmd, mem: np.ndarray, **options) -> ReadRun:
    """Run one command (see :func:`run_reads`)."""
    return run_reads([cmd], mem, **options)[0]


def _expected_read(cmd: Cmd, mem: np.ndarray, beat: int) -> list[tuple]:
    """The beats of each run, straight from the memory: full strobes, the run's bytes in the last."""
    out = []
    for r, (addr, nbytes) in enumerate(cmd.runs()):
        nbeats = -(-nbytes // beat)
        for k in range(nbeats):
            word = int.from_bytes(mem[addr + k * beat:addr + (k + 1) * beat].tobytes(), "little")
            valid = nbytes - k * beat if k == nbeats - 1 else beat
            out.append((word, (1 << valid) - 1, int(r == cmd.count - 1 and k == nbeats - 1)))
    return out


def test_read_hand_worked_4k_and_256_beats_with_a_partial_end():
    mem = _memory(1)
    cmd = Cmd(0x0F00, 2307)
    got = run_read(cmd, mem, pause=0.3, seed=1)
    assert got.ar == [(0x0F00, 32), (0x1000, 256), (0x1800, 1)]
    assert got.beats == _expected_read(cmd, mem, 8)
    assert got.beats[-1][1] == 0b111 and got.error is DmaError.NONE
    assert got.bytes == 2307 and got.bursts == 3


@pytest.mark.parametrize("beat, seed", [(8, 2), (8, 3), (4, 4), (16, 5)])
def test_read_strided_runs_match_the_model_under_pauses(beat, seed):
    rng = np.random.default_rng(seed)
    mem = _memory(seed)
    count = int(rng.integers(2, 5))
    stride = int(rng.integers(1, 700)) * beat
    run_bytes = int(rng.integers(1, 1500))
    addr = int(rng.integers(0, (MEM_BYTES - count * (stride + run_bytes)) // beat)) * beat
    cmd = Cmd(addr, run_bytes, count, stride)
    got = run_read(cmd, mem, beat=beat, latency=int(rng.integers(1, 12)), pause=0.3, seed=seed)
    assert got.ar == [(b.addr, b.beats) for b in split_transfer(addr, run_bytes, count, stride, beat)]
    assert got.beats == _expected_read(cmd, mem, beat)
    assert got.bytes == count * run_bytes and got.bursts == len(got.ar) and got.error is DmaError.NONE


def test_read_keeps_at_most_the_outstanding_limit_in_flight():
    # 40 one-beat runs and 30 cycles of latency: the engine would issue them all at once if it could
    got = run_read(Cmd(0, 8, 40, 64), _memory(6), latency=30)
    assert got.max_in_flight == DMA_OUTSTANDING
    assert len(got.ar) == 40 and got.error is DmaError.NONE


def test_read_streams_one_beat_per_cycle_without_backpressure():
    # 16 KiB = 2048 beats, 8 bursts of 256. Worked by hand: command taken in cycle 0, the walker's first
    # burst in cycle 1, AR offered (and taken) in cycle 2, first beat 2 + latency, beats back to back
    # (later ARs are in long before their data), done the cycle after the last beat.
    latency = 20
    got = run_read(Cmd(0, 16384), _memory(7), latency=latency)
    assert got.cycles == 3 + latency + 2048
    assert got.max_in_flight == DMA_OUTSTANDING


@pytest.mark.parametrize("resp, window", [
    (AxiResp.SLVERR, (0x1400, 0x1408)),           # one beat in the middle of the second burst
    (AxiResp.DECERR, (MEM_BYTES, 2 * MEM_BYTES)),  # the run runs off the end of the memory
], ids=["slverr", "decerr"])
def test_read_error_response_ends_the_command_with_its_code(resp, window):
    mem = _memory(8)
    lo = window[0]
    addr = 0x1000 if resp == AxiResp.SLVERR else MEM_BYTES - 0x800
    cmd = Cmd(addr, 0x3000)
    got = run_read(cmd, mem, pause=0.2, seed=8, errors=(ErrorWindow(*window, resp),))
    assert got.error is (DmaError.SLVERR if resp == AxiResp.SLVERR else DmaError.DECERR)
    good = (lo - addr) // 8
    assert got.beats == _expected_read(cmd, mem, 8)[:good], "only the beats before the error are streamed"
    failing = next(k for k, (a, n) in enumerate(got.ar) if a <= lo < a + 8 * n)
    assert len(got.ar) <= failing + 1 + DMA_OUTSTANDING, "bursts issued after the error"


def test_read_runs_the_next_command_after_an_error_and_after_a_cancel():
    mem = _memory(22)
    first, second, third = Cmd(0x1000, 0x1000), Cmd(0x4000, 1000, 2, 0x800), Cmd(0x8000, 0x4000)
    runs = run_reads([first, second, third, second], mem, pause=0.2, seed=22, cancel_at=1200,
                     errors=(ErrorWindow(0x1400, 0x1408, AxiResp.SLVERR),))
    assert [r.error for r in runs] == [DmaError.SLVERR, DmaError.NONE, DmaError.CANCELLED, DmaError.NONE]
    assert runs[1].beats == runs[3].beats == _expected_read(second, mem, 8)
    assert runs[3].ar == [(b.addr, b.beats) for b in split_transfer(0x4000, 1000, 2, 0x800, 8)]


def test_read_cancel_stops_and_drains():
    got = run_read(Cmd(0, 0xC000), _memory(9), latency=10, pause=0.2, seed=9, cancel_at=300)
    assert got.error is DmaError.CANCELLED
    assert len(got.ar) < len(split_transfer(0, 0xC000, 1, 0, 8))
    assert got.cycles < 300 + DMA_OUTSTANDING * 256 * 4


# -- the write DMA ---------------------------------------------------------------------------------

@dataclass
class WriteRun:
    mem: np.ndarray
    aw: list
    error: DmaError
    cycles: int
    bytes: int
    bursts: int
    max_in_flight: int
    taken: int


def _source_beats(cmd: Cmd, payload: np.ndarray, beat: int) -> list[int]:
    """The stream for ``cmd``: each run's bytes from ``payload`` (run after run), its first beat led and its
    last beat padded with 0xEE bytes that must not be written."""
    beats, offset = [], 0
    for addr, nbytes in cmd.runs():
        chunk = b"\xee" * (addr % beat) + payload[offset:offset + nbytes].tobytes()
        offset += nbytes
        chunk += b"\xee" * (-len(chunk) % beat)
        beats += [int.from_bytes(chunk[k:k + beat], "little") for k in range(0, len(chunk), beat)]
    return beats


def _expected_write(cmd: Cmd, mem: np.ndarray, payload: np.ndarray) -> np.ndarray:
    out, offset = mem.copy(), 0
    for addr, nbytes in cmd.runs():
        out[addr:addr + nbytes] = payload[offset:offset + nbytes]
        offset += nbytes
    return out


def run_writes(cmds: list[Cmd], mem: np.ndarray, payload: np.ndarray, *, beat: int = 8, latency: int = 4,
               pause: float = 0.0, seed: int = 0, errors=(), cancel_at: int | None = None,
               max_cycles: int = 20000) -> list[WriteRun]:
    """Run ``cmds`` one after another on one engine, each fed its own source stream (from the start of
    ``payload``); each result holds the memory after its command."""
    dut = WriteDma(8 * beat)
    slave = AxiSlaveMemory(mem.copy(), beat, latency, _pauses(seed, pause, ("aw", "w", "b")), tuple(errors))
    runs: list[WriteRun] = []
    state = {"bytes": 0, "bursts": 0, "began": 0, "aw": 0, "offer": True, "source": None}

    def body(ctx, cycle):
        if state["offer"]:
            cmd = cmds[len(runs)]
            _set_cmd(ctx, dut.cmd, cmd)
            state["source"] = BeatSource(dut.data, _source_beats(cmd, payload, beat),
                                         Pauses(np.random.default_rng(seed + 1 + len(runs)), pause))
            state["offer"], state["began"] = False, cycle
        else:
            ctx.set(dut.cmd.valid, 0)
        source = state["source"]
        slave.cycle = cycle
        slave.drive_write(ctx, dut.bus)
        source.drive(ctx)
        ctx.set(dut.cancel, int(cycle == cancel_at))
        slave.sample_write(ctx, dut.bus)
        source.sample(ctx)
        state["bytes"] += ctx.get(dut.inc_bytes)
        state["bursts"] += ctx.get(dut.inc_bursts)
        if not ctx.get(dut.done):
            return False
        runs.append(WriteRun(slave.mem.copy(), slave.aw[state["aw"]:], DmaError(ctx.get(dut.error)),
                             cycle + 1 - state["began"], state["bytes"], state["bursts"],
                             slave.max_writes_in_flight, source.taken))
        assert slave.writes_in_flight == 0, "done with bursts still in flight"
        state.update(bytes=0, bursts=0, aw=len(slave.aw), offer=True)
        ctx.set(dut.data.valid, 0)
        return len(runs) == len(cmds)

    _run(dut, body, max_cycles)
    return runs


def run_write(cmd: Cmd, mem: np.ndarray, payload: np.ndarray, **options) -> WriteRun:
    """Run one command (see :func:`run_writes`)."""
    return run_writes([cmd], mem, payload, **options)[0]


def test_write_hand_worked_4k_and_256_beats_with_strobed_end():
    mem, payload = _memory(10), _memory(11)
    cmd = Cmd(0x0F00, 2307)
    got = run_write(cmd, mem, payload, pause=0.3, seed=10)
    assert got.aw == [(0x0F00, 32), (0x1000, 256), (0x1800, 1)]
    assert np.array_equal(got.mem, _expected_write(cmd, mem, payload)), "bytes past the run's end were written"
    assert got.bytes == 2307 and got.bursts == 3 and got.error is DmaError.NONE


@pytest.mark.parametrize("beat, seed", [(8, 12), (8, 13), (4, 14), (16, 15)])
def test_write_strided_runs_match_the_model_under_pauses(beat, seed):
    rng = np.random.default_rng(seed)
    mem, payload = _memory(seed), _memory(seed + 100)
    count = int(rng.integers(2, 5))
    run_bytes = int(rng.integers(1, 1500))
    stride = (-(-run_bytes // beat) + int(rng.integers(0, 100))) * beat
    addr = int(rng.integers(0, (MEM_BYTES - count * (stride + run_bytes)) // beat)) * beat
    cmd = Cmd(addr, run_bytes, count, stride)
    got = run_write(cmd, mem, payload, beat=beat, latency=int(rng.integers(1, 12)), pause=0.3, seed=seed)
    assert got.aw == [(b.addr, b.beats) for b in split_transfer(addr, run_bytes, count, stride, beat)]
    assert np.array_equal(got.mem, _expected_write(cmd, mem, payload))
    assert got.bytes == count * run_bytes and got.bursts == len(got.aw) and got.error is DmaError.NONE


@pytest.mark.parametrize("beat, seed", [(8, 40), (8, 41), (4, 42), (16, 43)])
def test_write_runs_that_start_mid_beat_write_only_their_bytes(beat, seed):
    # the low bits of addr place every run's first byte inside its first beat; the bursts are those of the
    # aligned runs of offset + run_bytes bytes, and no byte outside the runs is written
    rng = np.random.default_rng(seed)
    mem, payload = _memory(seed), _memory(seed + 100)
    for run_bytes in (1, beat - 1, int(rng.integers(beat, 1500))):
        lead = int(rng.integers(1, beat))
        count = int(rng.integers(2, 5))
        stride = (-(-(lead + run_bytes) // beat) + int(rng.integers(0, 100))) * beat
        base = int(rng.integers(0, (MEM_BYTES - count * (stride + run_bytes + beat)) // beat)) * beat
        cmd = Cmd(base + lead, run_bytes, count, stride)
        got = run_write(cmd, mem, payload, beat=beat, latency=int(rng.integers(1, 12)), pause=0.3, seed=seed)
        assert got.aw == [(b.addr, b.beats) for b in split_transfer(base, lead + run_bytes, count, stride, beat)]
        assert np.array_equal(got.mem, _expected_write(cmd, mem, payload)), "a byte outside the runs was written"
        assert got.bytes == count * run_bytes and got.error is DmaError.NONE


def test_write_keeps_at_most_the_outstanding_limit_in_flight():
    mem, payload = _memory(16), _memory(17)
    got = run_write(Cmd(0, 8, 40, 64), mem, payload, latency=30)
    assert got.max_in_flight == DMA_OUTSTANDING and len(got.aw) == 40
    assert np.array_equal(got.mem, _expected_write(Cmd(0, 8, 40, 64), mem, payload))


@pytest.mark.parametrize("resp", [AxiResp.SLVERR, AxiResp.DECERR], ids=["slverr", "decerr"])
def test_write_error_response_ends_the_command_and_later_beats_write_nothing(resp):
    mem, payload = _memory(18), _memory(19)
    cmd = Cmd(0x1000, 0x3000)
    window = ErrorWindow(0x1800, 0x1808, resp)
    got = run_write(cmd, mem, payload, latency=20, pause=0.2, seed=18, errors=(window,))
    assert got.error is (DmaError.SLVERR if resp == AxiResp.SLVERR else DmaError.DECERR)
    assert got.taken < len(_source_beats(cmd, payload, 8)), "the engine kept taking beats after the error"
    expected = _expected_write(cmd, mem, payload)
    written = 0x1000 + 8 * got.taken        # bytes below this came from the stream
    assert np.array_equal(got.mem[:0x1800], expected[:0x1800])
    assert np.array_equal(got.mem[0x1808:written], expected[0x1808:written])
    assert np.array_equal(got.mem[written:], mem[written:]), "beats after the stop changed the memory"


def test_write_runs_the_next_command_after_an_error():
    mem, payload = _memory(23), _memory(24)
    first, second = Cmd(0x1000, 0x1000), Cmd(0x4000, 1000, 2, 0x800)
    runs = run_writes([first, second], mem, payload, pause=0.2, seed=23,
                      errors=(ErrorWindow(0x1400, 0x1408, AxiResp.SLVERR),))
    assert [r.error for r in runs] == [DmaError.SLVERR, DmaError.NONE]
    want = _expected_write(second, runs[0].mem, payload)
    assert np.array_equal(runs[1].mem, want)


def test_write_cancel_stops_and_drains():
    mem, payload = _memory(20), _memory(21)
    got = run_write(Cmd(0, 0xC000), mem, payload, latency=10, pause=0.2, seed=20, cancel_at=300)
    assert got.error is DmaError.CANCELLED
    written = 8 * got.taken
    assert written < 0xC000
    assert np.array_equal(got.mem[written:], mem[written:])
    assert np.array_equal(got.mem[:written], payload[:written])


# -- the AXI4-Lite registers -----------------------------------------------------------------------

def test_lite_registers_by_hand():
    dut = LiteRegisters()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bus = dut.bus
    seen = {"starts": 0}

    async def tick(ctx):
        if ctx.get(dut.start):
            seen["starts"] += 1
        await ctx.tick()

    async def write(ctx, addr, value, strb=0xF):
        ctx.set(bus.awaddr, addr), ctx.set(bus.awvalid, 1)
        ctx.set(bus.wdata, value), ctx.set(bus.wstrb, strb), ctx.set(bus.wvalid, 1)
        ctx.set(bus.bready, 1)
        while not ctx.get(bus.awready):
            await tick(ctx)
        await tick(ctx)
        ctx.set(bus.awvalid, 0), ctx.set(bus.wvalid, 0)
        while not ctx.get(bus.bvalid):
            await tick(ctx)
        resp = ctx.get(bus.bresp)
        await tick(ctx)
        ctx.set(bus.bready, 0)
        return AxiResp(resp)

    async def read(ctx, addr):
        ctx.set(bus.araddr, addr), ctx.set(bus.arvalid, 1), ctx.set(bus.rready, 1)
        while not ctx.get(bus.arready):
            await tick(ctx)
        await tick(ctx)
        ctx.set(bus.arvalid, 0)
        while not ctx.get(bus.rvalid):
            await tick(ctx)
        value, resp = ctx.get(bus.rdata), ctx.get(bus.rresp)
        await tick(ctx)
        ctx.set(bus.rready, 0)
        return value, AxiResp(resp)

    async def bench(ctx):
        ok = AxiResp.OKAY
        assert await write(ctx, LiteRegister.CMD_ADDR, 0x12345678) is ok
        assert await write(ctx, LiteRegister.CMD_COUNT, 0xAABBCCDD) is ok
        assert await write(ctx, LiteRegister.CMD_COUNT, 0x00001100, strb=0b0010) is ok   # byte 1 only
        assert await read(ctx, LiteRegister.CMD_ADDR) == (0x12345678, ok)
        assert await read(ctx, LiteRegister.CMD_COUNT) == (0xAABB11DD, ok)
        assert ctx.get(dut.cmd_addr) == 0x12345678 and ctx.get(dut.cmd_count) == 0xAABB11DD
        assert await read(ctx, LiteRegister.STATUS) == (0, ok)
        # errors: a read-only register, an offset with no register
        assert await write(ctx, LiteRegister.STATUS, 0xFF) is AxiResp.SLVERR
        assert await write(ctx, 0x14, 1) is AxiResp.SLVERR
        assert (await read(ctx, 0x18))[1] is AxiResp.SLVERR
        assert seen["starts"] == 0
        assert await write(ctx, LiteRegister.CONTROL, 1 << ControlBit.START) is ok
        assert seen["starts"] == 1
        assert await read(ctx, LiteRegister.CONTROL) == (0, ok)
        ctx.set(dut.busy, 1)
        assert await write(ctx, LiteRegister.CONTROL, 1 << ControlBit.START) is ok
        assert seen["starts"] == 1, "START while busy is ignored"
        assert await read(ctx, LiteRegister.STATUS) == (1 << StatusBit.BUSY, ok)
        ctx.set(dut.done, 1), ctx.set(dut.error, DmaError.DECERR), ctx.set(dut.busy, 0)
        await tick(ctx)
        ctx.set(dut.done, 0)
        assert await read(ctx, LiteRegister.STATUS) == ((1 << StatusBit.DONE) | (1 << StatusBit.ERROR), ok)
        assert await read(ctx, LiteRegister.ERROR) == (DmaError.DECERR, ok)
        assert await write(ctx, LiteRegister.CONTROL, 1 << ControlBit.START) is ok
        assert seen["starts"] == 2
        assert await read(ctx, LiteRegister.STATUS) == (0, ok), "a start clears DONE and ERROR"
        assert await read(ctx, LiteRegister.CMD_ADDR | 0x100) == (0x12345678, ok), "decoded on the low bits"

    sim.add_testbench(bench)
    sim.run()

