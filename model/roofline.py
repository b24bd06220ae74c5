"""The roofline of a layer on a build and a DRAM: the fewest cycles any schedule could take.

A layer can finish no sooner than its multiply-accumulates allow on every MAC lane of the array
(``compute_cycles = ceil(MACs / lanes)``, ``lanes = rows * cols * channels_per_word``), and no
sooner than the DRAM allows to move its *compulsory* bytes -- every input, weight and output value
moved exactly once, at its stored width -- at the DRAM's bandwidth
(``memory_cycles = ceil(compulsory bytes / bandwidth)``). The roofline is the larger of the two;
the fraction a run achieves is ``roofline_cycles / cycles``.

Stored widths: inputs and weights at ``bits`` bits per value (binary: one bit), outputs at
``bits`` too (the requantized activation the next layer reads) unless ``output_bits`` says
otherwise (e.g. ``acc_bits`` for raw accumulators). A tensor's bytes are its bits rounded up to a
whole byte: the bound is for perfectly packed data, so no layout can beat it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from model.config import AcceleratorConfig
from model.dram import DramConfig
from model.layer import ConvLayer
from model.validate import check_int

__all__ = ["Bound", "Roofline", "roofline"]


class Bound(enum.StrEnum):
    """Which side of the roofline limits a layer."""

    COMPUTE = "compute"
    MEMORY = "memory"


@dataclass(frozen=True)
class Roofline:
    """The two bounds of a layer and the larger one.

    ``compulsory_bytes`` maps ``"input"``, ``"weights"`` and ``"output"`` to the bytes each tensor
    moves at least once.
    """

    compute_cycles: int
    memory_cycles: int
    compulsory_bytes: dict[str, int]

    @property
    def cycles(self) -> int:
        """``max(compute_cycles, memory_cycles)``."""
        return max(self.compute_cycles, self.memory_cycles)

    @property
    def bound(self) -> Bound:
        """The side that sets :attr:`cycles` (compute on a tie)."""
        return Bound.MEMORY if self.memory_cycles > self.compute_cycles else Bound.COMPUTE

    def fraction(self, cycles: int) -> float:
        """Share of the roofline a run of ``cycles`` cycles achieves, ``self.cycles / cycles``.

        Raises
        ------
        ValueError
            If ``cycles`` is below the roofline: no schedule is that fast, so the count left some
            time out (today's host-port runs leave out DRAM time: a memory-bound layer shows it).
        """
        if cycles < self.cycles:
            raise ValueError(f"{cycles} cycles is below the roofline of {self.cycles} ({self.bound.value}-bound: "
                             f"compute {self.compute_cycles}, memory {self.memory_cycles}): the count leaves out "
                             "DRAM time, which host-port runs do not model (docs/memory-system.md)")
        return self.cycles / cycles

    def to_dict(self) -> dict:
        """JSON-ready form, with the derived ``cycles`` and ``bound``."""
        return {"cycles": self.cycles, "bound": self.bound.value, "compute_cycles": self.compute_cycles,
                "memory_cycles": self.memory_cycles, "compulsory_bytes": dict(self.compulsory_bytes)}


def _bytes(values: int, bits: int) -> int:
    return -(-values * bits // 8)


def roofline(config: AcceleratorConfig, layer: ConvLayer, dram: DramConfig | None = None,
             output_bits: int | None = None) -> Roofline:
    """The roofline of ``layer`` on ``config`` with ``dram`` (default :class:`DramConfig`).

    Parameters
    ----------
    output_bits : int, optional
        Stored width of an output value, 1..64; default ``config.bits``.
    """
    dram = dram or DramConfig()
    output_bits = config.bits if output_bits is None else check_int("output_bits", output_bits, 1, 64)
    compulsory = {"input": _bytes(math.prod(layer.input_shape), config.bits),
                  "weights": _bytes(math.prod(layer.weight_shape), config.bits),
                  "output": _bytes(math.prod(layer.output_shape), output_bits)}
    lanes = config.pes * config.channels_per_word
    return Roofline(compute_cycles=-(-layer.macs // lanes),
                    memory_cycles=-(-sum(compulsory.values()) // dram.bandwidth),
                    compulsory_bytes=compulsory)
