"""A small cycle-by-cycle AXI4 slave memory and stream ends for amaranth.sim tests of hw/axi.

Written from the AXI4 rules, not from the RTL: the slave takes AR/AW when not paused, returns R
beats in order no sooner than ``latency`` cycles after the AR, answers B ``latency`` cycles after a
burst's last W beat, writes only strobed bytes, and answers SLVERR/DECERR for beats in the error
windows it is given. It checks what a master must obey (INCR, full-width aligned beats, no 4 KiB
crossing, at most 256 beats, WLAST on the last beat, payload held while VALID waits for READY) and
records every burst and how many were in flight. One :meth:`step` per cycle: drive, sample, tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.contract import AXI_BURST_INCR, AxiResp

__all__ = ["ErrorWindow", "Pauses", "AxiSlaveMemory", "BeatSink", "BeatSource"]


@dataclass(frozen=True)
class ErrorWindow:
    """Beats at byte addresses ``lo <= a < hi`` answer ``resp``."""

    lo: int
    hi: int
    resp: AxiResp


class Pauses:
    """Seeded stalls: :meth:`__call__` is True (stall) with probability ``p``."""

    def __init__(self, rng: np.random.Generator, p: float) -> None:
        self._rng, self._p = rng, p

    def __call__(self) -> bool:
        return self._p > 0 and bool(self._rng.random() < self._p)


@dataclass
class _Burst:
    addr: int
    beats: int
    due: int
    sent: int = 0


@dataclass
class AxiSlaveMemory:
    """The slave. ``mem`` is the memory (bytes from address 0); ``pause`` gives stalls per channel."""

    mem: np.ndarray
    beat_bytes: int
    latency: int = 1
    pause: dict = field(default_factory=dict)
    errors: tuple[ErrorWindow, ...] = ()
    cycle: int = 0
    ar: list = field(default_factory=list)      # (addr, beats) of every AR handshake
    aw: list = field(default_factory=list)      # (addr, beats) of every AW handshake
    max_reads_in_flight: int = 0
    max_writes_in_flight: int = 0

    def __post_init__(self) -> None:
        self._reads: list[_Burst] = []
        self._writes: list[_Burst] = []      # AW taken, W beats not all in
        self._w_early: list[tuple[int, int, bool]] = []
        self._b_due: list[tuple[int, AxiResp]] = []
        self._b_resp = AxiResp.OKAY
        self._r_offer = None
        self._b_offer = None
        self._held: dict[str, tuple] = {}
        self.b_count = 0

    def _stall(self, channel: str) -> bool:
        return channel in self.pause and self.pause[channel]()

    def _resp(self, addr: int) -> AxiResp:
        for window in self.errors:
            if window.lo <= addr < window.hi:
                return window.resp
        return AxiResp.OKAY if addr + self.beat_bytes <= self.mem.size else AxiResp.DECERR

    def _check_address(self, kind: str, addr: int, length: int, size: int, burst: int) -> int:
        bb = self.beat_bytes
        beats = length + 1
        assert burst == AXI_BURST_INCR, f"{kind} burst type {burst}"
        assert 1 << size == bb, f"{kind}SIZE {size} for {bb}-byte beats"
        assert addr % bb == 0, f"{kind}ADDR {addr:#x} unaligned"
        assert beats <= 256
        assert addr // 4096 == (addr + beats * bb - 1) // 4096, f"{kind} burst {addr:#x}+{beats} crosses 4 KiB"
        return beats

    def _hold(self, name: str, valid: bool, ready: bool, payload: tuple) -> None:
        """A master's VALID, once up, stays up with the same payload until READY."""
        if name in self._held:
            assert valid and payload == self._held[name], f"{name} dropped or changed while waiting (cycle {self.cycle})"
        if valid and not ready:
            self._held[name] = payload
        else:
            self._held.pop(name, None)

    # -- read channels ---------------------------------------------------------------------------

    def drive_read(self, ctx, bus) -> None:
        """Set ARREADY and the R channel for this cycle."""
        ctx.set(bus.arready, int(not self._stall("ar")))
        if self._r_offer is None and self._reads and self._reads[0].due <= self.cycle and not self._stall("r"):
            head = self._reads[0]
            addr = head.addr + head.sent * self.beat_bytes
            resp = self._resp(addr)
            data = 0 if resp != AxiResp.OKAY else int.from_bytes(self.mem[addr:addr + self.beat_bytes].tobytes(), "little")
            self._r_offer = (data, resp, head.sent == head.beats - 1)
        if self._r_offer is None:
            ctx.set(bus.rvalid, 0)
        else:
            data, resp, last = self._r_offer
            ctx.set(bus.rvalid, 1)
            ctx.set(bus.rdata, data)
            ctx.set(bus.rresp, resp)
            ctx.set(bus.rlast, int(last))
            ctx.set(bus.rid, 0)

    def sample_read(self, ctx, bus) -> None:
        """Read the master's outputs of this cycle and take the handshakes (call before the tick)."""
        arvalid, arready = ctx.get(bus.arvalid), ctx.get(bus.arready)
        payload = (ctx.get(bus.araddr), ctx.get(bus.arlen), ctx.get(bus.arsize), ctx.get(bus.arburst))
        self._hold("AR", arvalid, arready, payload)
        if self._r_offer is not None and ctx.get(bus.rready):
            self._r_offer = None
            head = self._reads[0]
            head.sent += 1
            if head.sent == head.beats:
                self._reads.pop(0)
        if arvalid and arready:
            addr, length, size, burst = payload
            beats = self._check_address("AR", addr, length, size, burst)
            self.ar.append((addr, beats))
            self._reads.append(_Burst(addr, beats, self.cycle + self.latency))
        self.max_reads_in_flight = max(self.max_reads_in_flight, len(self._reads))

    @property
    def reads_in_flight(self) -> int:
        return len(self._reads)

    # -- write channels --------------------------------------------------------------------------

    def drive_write(self, ctx, bus) -> None:
        """Set AWREADY, WREADY and the B channel for this cycle."""
        ctx.set(bus.awready, int(not self._stall("aw")))
        ctx.set(bus.wready, int(not self._stall("w")))
        if self._b_offer is None and self._b_due and self._b_due[0][0] <= self.cycle and not self._stall("b"):
            self._b_offer = self._b_due.pop(0)[1]
        ctx.set(bus.bvalid, int(self._b_offer is not None))
        ctx.set(bus.bresp, self._b_offer or 0)
        ctx.set(bus.bid, 0)

    def sample_write(self, ctx, bus) -> None:
        """Read the master's outputs of this cycle and take the handshakes (call before the tick)."""
        awvalid, awready = ctx.get(bus.awvalid), ctx.get(bus.awready)
        aw = (ctx.get(bus.awaddr), ctx.get(bus.awlen), ctx.get(bus.awsize), ctx.get(bus.awburst))
        self._hold("AW", awvalid, awready, aw)
        wvalid, wready = ctx.get(bus.wvalid), ctx.get(bus.wready)
        w = (ctx.get(bus.wdata), ctx.get(bus.wstrb), ctx.get(bus.wlast))
        self._hold("W", wvalid, wready, w)
        if self._b_offer is not None and ctx.get(bus.bready):
            self._b_offer = None
            self.b_count += 1
        if awvalid and awready:
            beats = self._check_address("AW", *aw)
            self.aw.append((aw[0], beats))
            self._writes.append(_Burst(aw[0], beats, 0))
        if wvalid and wready:
            self._w_early.append(w)
        while self._writes and self._w_early:
            head = self._writes[0]
            data, strb, last = self._w_early.pop(0)
            addr = head.addr + head.sent * self.beat_bytes
            resp = self._resp(addr)
            if resp == AxiResp.OKAY:
                raw = np.frombuffer(data.to_bytes(self.beat_bytes, "little"), dtype=np.uint8)
                lanes = np.array([(strb >> k) & 1 for k in range(self.beat_bytes)], dtype=bool)
                self.mem[addr:addr + self.beat_bytes][lanes] = raw[lanes]
            elif self._b_resp == AxiResp.OKAY:
                self._b_resp = resp
            head.sent += 1
            assert bool(last) == (head.sent == head.beats), f"WLAST {last} on beat {head.sent} of {head.beats}"
            if head.sent == head.beats:
                self._writes.pop(0)
                self._b_due.append((self.cycle + self.latency, self._b_resp))
                self._b_resp = AxiResp.OKAY
        in_flight = len(self.aw) - self.b_count
        self.max_writes_in_flight = max(self.max_writes_in_flight, in_flight)

    @property
    def writes_in_flight(self) -> int:
        return len(self.aw) - self.b_count


class BeatSink:
    """Takes the beats of a stream (``valid``/``ready``/``payload``), with seeded pauses on ``ready``."""

    def __init__(self, stream, pause=None) -> None:
        self._stream, self._pause = stream, pause
        self.beats: list[tuple[int, ...]] = []
        self._ready = 0

    def drive(self, ctx) -> None:
        self._ready = int(not (self._pause and self._pause()))
        ctx.set(self._stream.ready, self._ready)

    def sample(self, ctx, fields: tuple[str, ...]) -> None:
        if ctx.get(self._stream.valid) and self._ready:
            self.beats.append(tuple(ctx.get(getattr(self._stream.payload, f)) for f in fields))


class BeatSource:
    """Offers ``beats`` (ints) on a stream, in order, with seeded gaps; an offer is held until taken."""

    def __init__(self, stream, beats: list[int], pause=None) -> None:
        self._stream, self._beats, self._pause = stream, list(beats), pause
        self._offered = False
        self.taken = 0

    def drive(self, ctx) -> None:
        if not self._offered and self.taken < len(self._beats) and not (self._pause and self._pause()):
            self._offered = True
        ctx.set(self._stream.valid, int(self._offered))
        if self._offered:
            ctx.set(self._stream.payload, self._beats[self.taken])

    def sample(self, ctx) -> None:
        if self._offered and ctx.get(self._stream.ready):
            self._offered = False
            self.taken += 1
