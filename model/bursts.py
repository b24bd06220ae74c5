"""How a DMA engine splits a DRAM transfer into AXI4 bursts: the reference the hardware must match.

The rule (AXI4, as the DMA engines of ``hw/axi`` issue it):

* every burst is INCR (:data:`model.contract.AXI_BURST_INCR`) of full-width beats, starting at a
  beat-aligned address (a run must start aligned; its length need not be a whole number of beats);
* a burst has at most :data:`model.contract.AXI_MAX_BURST_BEATS` beats and never crosses an
  :data:`model.contract.AXI_BOUNDARY_BYTES` boundary;
* bursts are as long as those two limits allow, in address order: a run is cut only where it must be;
* the last beat of a run whose length is not a whole number of beats is partial: only its first
  ``nbytes % beat_bytes`` byte lanes are strobed (WSTRB of a write; a read ignores the other bytes).

A transfer is ``count`` runs of ``run_bytes`` bytes, run ``k`` starting at ``addr + k * stride``
(a tile of a tensor: one run per row, or per channel); each run is split on its own, so no burst
spans two runs. This is a pure function of its arguments, the reference of
``hw/axi/burst_walker.py`` and of the model of the memory system.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.config import AXI_DATA_WIDTHS
from model.contract import (
    AXI_ADDR_BITS, AXI_BOUNDARY_BYTES, AXI_MAX_BURST_BEATS, DMA_RUN_BYTES_BITS, DMA_RUN_COUNT_BITS,
)
from model.validate import check_choice, check_int

__all__ = ["BEAT_BYTES", "Burst", "split_run", "split_transfer"]

#: Beat widths (bytes) the rule is defined for: the configuration's ``axi_beat_bytes`` choices.
BEAT_BYTES = tuple(bits // 8 for bits in AXI_DATA_WIDTHS)


@dataclass(frozen=True)
class Burst:
    """One INCR burst.

    Attributes
    ----------
    addr : int
        Byte address of its first beat (beat-aligned).
    beats : int
        Beats, 1 .. :data:`~model.contract.AXI_MAX_BURST_BEATS` (ARLEN/AWLEN is ``beats - 1``).
    last_bytes : int
        Bytes of the last beat that belong to the run, 1 .. ``beat_bytes`` (the other beats are full).
    beat_bytes : int
        Bytes per beat of the port.
    """

    addr: int
    beats: int
    last_bytes: int
    beat_bytes: int

    @property
    def nbytes(self) -> int:
        """Bytes of the run this burst moves: ``(beats - 1) * beat_bytes + last_bytes``."""
        return (self.beats - 1) * self.beat_bytes + self.last_bytes

    @property
    def strobes(self) -> list[int]:
        """WSTRB of each beat: all lanes, except the low ``last_bytes`` lanes of the last beat."""
        full = (1 << self.beat_bytes) - 1
        return [full] * (self.beats - 1) + [(1 << self.last_bytes) - 1]


def _check_beat(beat_bytes: int) -> int:
    check_int("beat_bytes", beat_bytes, 1)
    return check_choice("beat_bytes", beat_bytes, BEAT_BYTES)


def _check_aligned(name: str, value: int, beat_bytes: int) -> None:
    if value % beat_bytes:
        raise ValueError(f"{name} must be a multiple of beat_bytes={beat_bytes} (aligned transfers), not {value:#x}")


def split_run(addr: int, nbytes: int, beat_bytes: int) -> list[Burst]:
    """Split one run of ``nbytes`` bytes from ``addr`` into bursts (see the module's rule).

    Parameters
    ----------
    addr : int
        Byte address of the run, a multiple of ``beat_bytes``.
    nbytes : int
        Bytes of the run, 1 .. ``2**DMA_RUN_BYTES_BITS - 1``.
    beat_bytes : int
        Bytes per beat (4, 8 or 16: ``AcceleratorConfig.axi_beat_bytes``).

    Returns
    -------
    list[Burst]
        In address order; their ``nbytes`` sum to ``nbytes``.

    Raises
    ------
    ValueError
        If ``addr`` is unaligned, or a value is outside its range, or the run ends past the
        ``2**AXI_ADDR_BITS``-byte address space.
    """
    beat_bytes = _check_beat(beat_bytes)
    check_int("addr", addr, 0, 2**AXI_ADDR_BITS - 1)
    check_int("nbytes", nbytes, 1, 2**DMA_RUN_BYTES_BITS - 1)
    _check_aligned("addr", addr, beat_bytes)
    if addr + nbytes > 2**AXI_ADDR_BITS:
        raise ValueError(f"the run {addr:#x} + {nbytes} bytes ends past the {AXI_ADDR_BITS}-bit address space")
    bursts = []
    left = -(-nbytes // beat_bytes)
    while left:
        to_boundary = (AXI_BOUNDARY_BYTES - addr % AXI_BOUNDARY_BYTES) // beat_bytes
        beats = min(left, to_boundary, AXI_MAX_BURST_BEATS)
        left -= beats
        last = nbytes - ((nbytes - 1) // beat_bytes) * beat_bytes if not left else beat_bytes
        bursts.append(Burst(addr, beats, last, beat_bytes))
        addr += beats * beat_bytes
    return bursts


def split_transfer(addr: int, run_bytes: int, count: int, stride: int, beat_bytes: int,
                   repeat: int = 0, repeat_stride: int = 0) -> list[Burst]:
    """Split ``count`` runs of ``run_bytes`` bytes, run ``k`` at ``addr + k * stride``, into bursts;
    the block of runs is walked ``1 + repeat`` times, block ``b`` from ``addr + b * repeat_stride``.

    Parameters
    ----------
    addr : int
        Byte address of run 0, a multiple of ``beat_bytes``.
    run_bytes : int
        Bytes of each run, 1 .. ``2**DMA_RUN_BYTES_BITS - 1``.
    count : int
        Runs, 1 .. ``2**DMA_RUN_COUNT_BITS - 1``.
    stride : int
        Bytes from one run's start to the next, a multiple of ``beat_bytes`` in
        0 .. ``2**AXI_ADDR_BITS - 1`` (runs may overlap; 0 repeats one run).
    beat_bytes : int
        Bytes per beat (4, 8 or 16).
    repeat, repeat_stride : int
        Blocks after the first, 0 .. ``2**DMA_RUN_COUNT_BITS - 1``, and the bytes from one block's
        start to the next (a multiple of ``beat_bytes``).

    Returns
    -------
    list[Burst]
        Block by block, run by run, each run as :func:`split_run` splits it.

    Raises
    ------
    ValueError
        As :func:`split_run`, and for a ``count`` or ``stride`` outside its range, an unaligned
        ``stride``, or a last run that ends past the address space.
    """
    beat_bytes = _check_beat(beat_bytes)
    check_int("count", count, 1, 2**DMA_RUN_COUNT_BITS - 1)
    check_int("stride", stride, 0, 2**AXI_ADDR_BITS - 1)
    _check_aligned("stride", stride, beat_bytes)
    check_int("addr", addr, 0, 2**AXI_ADDR_BITS - 1)
    check_int("run_bytes", run_bytes, 1, 2**DMA_RUN_BYTES_BITS - 1)
    check_int("repeat", repeat, 0, 2**DMA_RUN_COUNT_BITS - 1)
    check_int("repeat_stride", repeat_stride, 0, 2**AXI_ADDR_BITS - 1)
    _check_aligned("repeat_stride", repeat_stride, beat_bytes)
    end = addr + repeat * repeat_stride + (count - 1) * stride + run_bytes
    if end > 2**AXI_ADDR_BITS:
        raise ValueError(f"run {count - 1} of the transfer ends at {end:#x}, past the {AXI_ADDR_BITS}-bit address space")
    return [burst for b in range(repeat + 1) for k in range(count)
            for burst in split_run(addr + b * repeat_stride + k * stride, run_bytes, beat_bytes)]
