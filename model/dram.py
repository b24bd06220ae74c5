"""The DRAM behind the accelerator's AXI4 port: its configuration and its cycle-exact timing model.

The co-simulation's DRAM (``sim/dram/qconv_dram.v``) and this module implement one timing rule,
written once here; ``tests/test_dram.py`` proves that the two agree beat for beat.

The timing rule
---------------
Cycles are numbered by clock edge; "a handshake at cycle ``c``" means VALID and READY are both
sampled high at edge ``c``. With ``interval = beat_bytes // bandwidth``:

1. **One shared data bus.** At most one beat (an R or a W beat) is transferred per ``interval``
   cycles: no beat is transferred less than ``interval`` cycles after the previous one.
2. **Address channels.** ARREADY is high while fewer than :data:`DRAM_QUEUE_DEPTH` read bursts are
   queued (a read burst is queued from its AR handshake to its last R handshake); AWREADY likewise for
   write bursts (queued from the AW handshake to the B handshake). A burst whose handshake frees a slot
   at cycle ``c`` lets a new address in at ``c + 1``. (A channel carries one address per cycle.)
3. **Reads.** The first beat of a read burst is offered (RVALID) at the first cycle that is at least
   ``latency`` after its AR handshake and that the bus allows (rule 1); later beats, and the beats of
   the bursts queued behind it, stream back to back in order, one per bus slot. RVALID is held until
   RREADY.
4. **Writes.** WREADY is high only while a write burst's AW has been accepted (at an earlier cycle),
   the bus slot is free and no read beat is being offered: **reads go first** when both could go.
5. **Write responses.** BVALID for a write burst is raised at the first cycle at least ``latency``
   after its last W handshake and after the previous burst's B handshake (in order), held until BREADY.
6. **Errors.** A beat whose address lies outside ``[0, size_bytes)`` answers DECERR (a read beat
   returns zeros, a write beat writes nothing; a write burst's BRESP is DECERR if any of its beats
   was outside). A burst that is not INCR or not full width (ARSIZE/AWSIZE below the beat) answers
   SLVERR. Errors change no timing.

Why ``latency >= 2``: the simulator's model registers RVALID and BVALID from a queue written at the
handshake edge, so the earliest response it can give is two edges later; real DRAM is much slower.

Why these defaults are realistic: the accelerator's 64-bit AXI port is the width of a Zynq HP port
or a DDR3/DDR4 x64 channel; at the 100--200 MHz such a fabric design runs at, one 8-byte beat per
cycle (800 MB/s--1.6 GB/s) is what one HP port sustains, so ``bandwidth = 8`` bytes per cycle. A read
through the interconnect and the DDR controller to the DRAM (row activate, CAS) and back takes on the
order of 100--200 ns, i.e. tens of fabric cycles at those clocks: ``latency = 40``. 16 MiB
(``size_bytes = 2**24``) holds the tensors of any one ResNet-18 or VGG-16 layer (the largest, VGG-16's
weights of 512x512x3x3, take 2.25 MiB).

Consequence of rule 4 worth knowing: while reads stream back to back (``interval`` 1 and reads
queued), no W beat goes; writes wait for a gap in the reads. And while a read beat waits for RREADY,
no W beat goes: a master must not hold RREADY low until a write completes (AXI forbids that
dependency anyway), or it deadlocks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from model.validate import check_int

__all__ = ["DramConfig", "DRAM_QUEUE_DEPTH", "DRAM_SIZE_ALIGN", "ReadTiming", "WriteTiming", "DramTiming"]

#: Bursts the DRAM accepts per direction before it deasserts ARREADY/AWREADY (rule 2).
DRAM_QUEUE_DEPTH = 16
#: ``size_bytes`` must be a multiple of this (the widest AXI beat, 128 bits), so any port width fits.
DRAM_SIZE_ALIGN = 16
#: Largest latency accepted, in cycles.
MAX_LATENCY = 4096
#: Largest memory accepted: 1 GiB (the simulators hold it in host memory; Verilog parameters are 32-bit).
MAX_SIZE_BYTES = 2**30
#: Largest bandwidth accepted, in bytes per cycle (the widest AXI beat).
MAX_BANDWIDTH = 16


@dataclass(frozen=True, kw_only=True)
class DramConfig:
    """Timing and size of the DRAM seen through the AXI4 port (the rule is in the module docstring).

    Parameters
    ----------
    latency : int
        Cycles from a read burst's AR handshake to its first beat at the earliest, and from a write
        burst's last W beat to its B response at the earliest; 2..4096. Default 40.
    bandwidth : int
        Bytes per cycle the data bus moves: a power of two, 1..16, and at most the port's beat bytes
        (checked by :meth:`interval`). One beat takes ``beat_bytes // bandwidth`` cycles. Default 8.
    size_bytes : int
        Bytes of memory, a multiple of 16, 16..2**30. Addresses at or above answer DECERR. Default 2**24.
    """

    latency: int = 40
    bandwidth: int = 8
    size_bytes: int = 2**24

    def __post_init__(self) -> None:
        check_int("latency", self.latency, 2, MAX_LATENCY)
        check_int("bandwidth", self.bandwidth, 1, MAX_BANDWIDTH)
        if self.bandwidth & (self.bandwidth - 1):
            raise ValueError(f"bandwidth must be a power of two (1, 2, 4, 8, 16), not {self.bandwidth!r}")
        check_int("size_bytes", self.size_bytes, DRAM_SIZE_ALIGN, MAX_SIZE_BYTES)
        if self.size_bytes % DRAM_SIZE_ALIGN:
            raise ValueError(f"size_bytes must be a multiple of {DRAM_SIZE_ALIGN}, not {self.size_bytes!r}")

    def interval(self, beat_bytes: int) -> int:
        """Cycles per beat on a port of ``beat_bytes`` bytes, ``beat_bytes // bandwidth``.

        Raises
        ------
        ValueError
            If ``bandwidth`` exceeds ``beat_bytes`` (a beat cannot take less than a cycle).
        """
        check_int("beat_bytes", beat_bytes, 1, MAX_BANDWIDTH)
        if self.bandwidth > beat_bytes:
            raise ValueError(f"bandwidth must be in 1..{beat_bytes} (the port's beat bytes), not {self.bandwidth!r}")
        return beat_bytes // self.bandwidth

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The settings as a plain dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "DramConfig":
        """Build a configuration from a dict such as :meth:`to_dict` gives; unknown keys are an error."""
        if not isinstance(data, dict):
            raise TypeError(f"DRAM configuration must be a JSON object, not {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown DRAM configuration field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "DramConfig":
        """Parse :meth:`to_json` output (checked as :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"DRAM configuration is not valid JSON: {err}") from None
        return cls.from_dict(data)


# -- the transaction model -------------------------------------------------------------------------

@dataclass
class ReadTiming:
    """One read burst as the master offers it, and (once resolved) when the DRAM served it.

    ``offer`` is the first cycle ARVALID is high; ``ar`` the AR handshake; ``beats`` the R handshakes.
    """

    offer: int
    length: int
    ar: int | None = None
    beats: list[int] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True once every beat is resolved."""
        return len(self.beats) == self.length


@dataclass
class WriteTiming:
    """One write burst as the master offers it, and (once resolved) when the DRAM served it.

    ``offer`` is the first cycle AWVALID is high; ``w_offer[j]`` the earliest cycle the master offers
    W beat ``j`` (WVALID, held until WREADY; the model never lets a beat go before the previous one's
    handshake plus one). ``aw`` is the AW handshake, ``beats`` the W handshakes, ``b`` the B handshake.
    """

    offer: int
    length: int
    w_offer: tuple[int, ...]
    aw: int | None = None
    beats: list[int] = field(default_factory=list)
    b: int | None = None

    @property
    def done(self) -> bool:
        """True once the B response is resolved."""
        return self.b is not None


class DramTiming:
    """Cycle-exact transaction model of the timing rule, resolved event by event (no per-cycle loop).

    Submit bursts in the order the master issues them (:meth:`read`, :meth:`write`), then call
    :meth:`advance` with a horizon: every handshake before it is resolved and final, because a burst
    offered at or after the horizon cannot change what the DRAM does before it. A model that decides
    its next burst from the DRAM's answers (a DMA engine) alternates submitting and advancing;
    :meth:`finish` resolves everything. Reads with no RREADY pauses resolve a whole burst at once, and
    writes a run of beats up to the next read at once, so the cost grows with bursts, not cycles.

    Parameters
    ----------
    config : DramConfig
        Latency and bandwidth.
    beat_bytes : int
        Bytes per beat of the port (``AcceleratorConfig.axi_beat_bytes``).
    r_stalls, b_stalls : collection of int
        Cycles at which the master holds RREADY (BREADY) low; empty: always ready.
    """

    def __init__(self, config: DramConfig, beat_bytes: int, *, r_stalls: Collection[int] = (),
                 b_stalls: Collection[int] = ()) -> None:
        self._latency = config.latency
        self._interval = config.interval(beat_bytes)
        self._r_stalls = frozenset(r_stalls)
        self._b_stalls = frozenset(b_stalls)
        self._reads: list[ReadTiming] = []
        self._writes: list[WriteTiming] = []
        self._read_head = 0     # first read burst with beats left
        self._write_head = 0    # first write burst with W beats left
        self._ar_next = 0       # first read burst whose AR handshake is not resolved
        self._aw_next = 0       # first write burst whose AW handshake is not resolved
        self._last_beat = -math.inf   # cycle of the last beat on the bus
        self._horizon = -math.inf     # every handshake before it is resolved

    @property
    def reads(self) -> list[ReadTiming]:
        """The read bursts submitted, in order."""
        return self._reads

    @property
    def writes(self) -> list[WriteTiming]:
        """The write bursts submitted, in order."""
        return self._writes

    def read(self, offer: int, length: int) -> ReadTiming:
        """Submit a read burst of ``length`` beats whose ARVALID rises at cycle ``offer``; its ``ar`` is
        known at once unless the queue is full (then once burst ``k - 16`` is resolved)."""
        self._check_offer(offer, length)
        burst = ReadTiming(offer, length)
        self._reads.append(burst)
        self._accept_addresses()
        return burst

    def write(self, offer: int, length: int, w_offer: Sequence[int] | None = None) -> WriteTiming:
        """Submit a write burst of ``length`` beats whose AWVALID rises at cycle ``offer``;
        ``w_offer`` as in :class:`WriteTiming` (None: every beat's data is ready from ``offer``)."""
        self._check_offer(offer, length)
        w_offer = (offer,) * length if w_offer is None else tuple(int(c) for c in w_offer)
        if len(w_offer) != length:
            raise ValueError(f"w_offer must give one cycle per beat ({length}), not {len(w_offer)}")
        if w_offer and min(w_offer) < self._horizon:
            raise ValueError(f"w_offer must not lie before the resolved horizon {self._horizon}, not {min(w_offer)}")
        burst = WriteTiming(offer, length, w_offer)
        self._writes.append(burst)
        self._accept_addresses()
        return burst

    def _check_offer(self, offer: int, length: int) -> None:
        check_int("length", length, 1, 256)
        check_int("offer", offer, 0)
        if offer < self._horizon:
            raise ValueError(f"offer must not lie before the resolved horizon {self._horizon}, not {offer}")

    def finish(self) -> None:
        """Resolve every submitted burst."""
        self.advance(math.inf)

    def advance(self, horizon: float) -> None:
        """Resolve every handshake at a cycle before ``horizon`` (and whole bursts started before it)."""
        latency, interval = self._latency, self._interval
        while True:
            self._accept_addresses()
            read_at = self._next_read_offer()
            write_at = self._next_write_beat()
            at = min(read_at, write_at)
            if at >= horizon or at == math.inf:
                break
            if read_at <= write_at:     # reads first (rule 4)
                burst = self._reads[self._read_head]
                if not self._r_stalls:  # no pauses: the rest of the burst streams one beat per slot
                    burst.beats.extend(range(read_at, read_at + interval * (burst.length - len(burst.beats)), interval))
                else:
                    burst.beats.append(self._first_ready(read_at, self._r_stalls))
                self._last_beat = burst.beats[-1]
                if burst.done:
                    self._read_head += 1
            else:
                burst = self._writes[self._write_head]
                burst.beats.extend(self._write_streak(burst, write_at, min(read_at, horizon)))
                self._last_beat = burst.beats[-1]
                if len(burst.beats) == burst.length:
                    previous_b = self._writes[self._write_head - 1].b if self._write_head else -math.inf
                    burst.b = self._first_ready(max(self._last_beat + latency, previous_b + 1), self._b_stalls)
                    self._write_head += 1
        self._accept_addresses()
        self._horizon = max(self._horizon, horizon)

    def _accept_addresses(self) -> None:
        """Resolve the AR and AW handshakes that are determined (rule 2): burst ``k`` goes at its offer,
        one address per cycle, and not before the cycle after burst ``k - 16`` left the queue. The
        burst at the head of each queue is always determined, as burst ``k - 16`` is done."""
        reads, writes = self._reads, self._writes
        while self._ar_next < len(reads):
            k = self._ar_next
            if k >= DRAM_QUEUE_DEPTH and not reads[k - DRAM_QUEUE_DEPTH].done:
                break
            freed = reads[k - DRAM_QUEUE_DEPTH].beats[-1] + 1 if k >= DRAM_QUEUE_DEPTH else 0
            reads[k].ar = max(reads[k].offer, freed, reads[k - 1].ar + 1 if k else 0)
            self._ar_next += 1
        while self._aw_next < len(writes):
            k = self._aw_next
            if k >= DRAM_QUEUE_DEPTH and not writes[k - DRAM_QUEUE_DEPTH].done:
                break
            freed = writes[k - DRAM_QUEUE_DEPTH].b + 1 if k >= DRAM_QUEUE_DEPTH else 0
            writes[k].aw = max(writes[k].offer, freed, writes[k - 1].aw + 1 if k else 0)
            self._aw_next += 1

    def _next_read_offer(self) -> float:
        """Cycle the next read beat is offered (RVALID), or inf if no read beat is pending."""
        if self._read_head == len(self._reads):
            return math.inf
        burst = self._reads[self._read_head]
        earliest = burst.ar + self._latency if not burst.beats else -math.inf
        return max(earliest, self._last_beat + self._interval)

    def _next_write_beat(self) -> float:
        """Cycle the next W beat would be transferred if no read beat were offered, or inf."""
        if self._write_head == len(self._writes):
            return math.inf
        burst = self._writes[self._write_head]
        return max(self._last_beat + self._interval, burst.aw + 1, burst.w_offer[len(burst.beats)])

    def _write_streak(self, burst: WriteTiming, first: int, limit: float) -> list[int]:
        """The W beats of ``burst`` from ``first`` on that go before ``limit`` (the next read beat's
        offer, which wins a tie, or the horizon): beat ``j`` goes at ``max(beat j-1 + interval,
        w_offer[j])``, a running maximum computed for the whole burst at once."""
        offers = np.array(burst.w_offer[len(burst.beats):], dtype=np.int64)
        offers[0] = first
        slots = np.arange(offers.size, dtype=np.int64) * self._interval
        cycles = slots + np.maximum.accumulate(offers - slots)
        return cycles[:max(1, int(np.searchsorted(cycles, limit)))].tolist()

    @staticmethod
    def _first_ready(cycle: int, stalls: frozenset[int]) -> int:
        while cycle in stalls:
            cycle += 1
        return cycle
