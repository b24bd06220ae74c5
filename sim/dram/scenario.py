"""What a DRAM co-simulation does, phase by phase, and what it saw (shared by parent and cocotb child).

The parent (a test or a benchmark) builds a list of phases, the cocotb child
(:mod:`sim.dram.testbench`) drives them through cocotbext-axi's ``AxiMaster`` and the bulk ports,
and hands back a :class:`Trace`: every handshake with its cycle, the data, the dumps. The parent
judges it against a numpy mirror and the timing model (:class:`model.dram.DramTiming`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Channel", "Read", "Write", "Load", "Dump", "Transfers", "Trace", "Address", "Beat"]


class Channel(enum.StrEnum):
    """The five AXI channels (the names cocotbext-axi gives them)."""

    AR = "ar"
    R = "r"
    AW = "aw"
    W = "w"
    B = "b"


@dataclass(frozen=True)
class Read:
    """An AXI read of ``length`` bytes at byte ``address`` (the master splits it into bursts)."""

    address: int
    length: int


@dataclass(frozen=True)
class Write:
    """An AXI write of ``data`` at byte ``address`` (partial beats get partial strobes)."""

    address: int
    data: bytes


@dataclass(frozen=True)
class Load:
    """Write ``data`` into a hex image and pulse ``load``: words ``first ..`` get it ($readmemh)."""

    first: int
    data: bytes


@dataclass(frozen=True)
class Dump:
    """Pulse ``dump`` for words ``first .. last`` ($writememh) and read the file back."""

    first: int
    last: int


@dataclass(frozen=True)
class Transfers:
    """AXI transfers (:class:`Read`, :class:`Write`) started together (each direction in list
    order), then awaited.

    ``size`` is the AXI burst size (log2 bytes per beat) or None for the full width. ``pauses`` maps a
    :class:`Channel` to a pattern (one bool per cycle, True = pause, repeated) for the master's side of
    it: R and B pause RREADY/BREADY, AR, AW and W delay the master's offers.
    """

    ops: tuple
    size: int | None = None
    pauses: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    """An AR or AW: first cycle VALID was high, handshake cycle, address, beats."""

    offer: int
    cycle: int
    address: int
    beats: int
    size: int


@dataclass(frozen=True)
class Beat:
    """An R or W beat (``offer``: first cycle VALID was high) or a B response (``data`` 0)."""

    offer: int
    cycle: int
    data: int
    resp: int
    last: bool


@dataclass
class Trace:
    """Everything one co-simulation saw, in order."""

    ar: list = field(default_factory=list)
    aw: list = field(default_factory=list)
    r: list = field(default_factory=list)
    w: list = field(default_factory=list)
    b: list = field(default_factory=list)
    r_stalls: set = field(default_factory=set)    #: cycles RREADY was low
    b_stalls: set = field(default_factory=set)    #: cycles BREADY was low
    results: list = field(default_factory=list)   #: per Transfers phase: (data or None, resp) per op
    dumps: list = field(default_factory=list)     #: per Dump phase: bytes
    seconds: list = field(default_factory=list)   #: per Load/Dump phase: wall seconds
    cycles: int = 0                               #: cycles monitored
    wall: float = 0.0                             #: wall seconds of the whole scenario
