"""The one accelerator configuration read by the model, the RTL generator and the testbenches.

`AcceleratorConfig` holds every hardware setting that is chosen by hand; every
other hardware number (accumulator width, largest reduction, word width, ...)
is *derived* from it here and nowhere else, so the golden model, the Amaranth
generator and the cocotb testbenches cannot disagree. It serialises to JSON,
which is written beside the generated Verilog and handed to the testbench
(Amaranth's Verilog carries no parameters).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass

from model.validate import check_choice, check_int

__all__ = ["AcceleratorConfig", "AXI_DATA_WIDTHS", "Dataflow", "DATAFLOWS", "PRESETS"]


class Dataflow(enum.StrEnum):
    """What stays in the PEs' register files: partial sums (output-stationary) or weights (weight-stationary).

    The values are the names used in JSON, on the command line and in reports.
    """

    OS = "os"
    WS = "ws"


#: The dataflow names, for command-line choices.
DATAFLOWS = tuple(d.value for d in Dataflow)

#: Data widths the AXI4 master port may be built with.
AXI_DATA_WIDTHS = (32, 64, 128)


@dataclass(frozen=True, kw_only=True)
class AcceleratorConfig:
    """Hardware settings of one accelerator build.

    Parameters
    ----------
    rows, cols : int
        PE array shape, 1..64 each.
    bits : int
        Operand width: 2..16 for signed two's-complement integers, or 1 for
        binary layers whose values are +1/-1 stored as bits (+1 -> 1, -1 -> 0).
    dataflow : Dataflow or {"os", "ws"}
        ``"os"`` keeps partial sums in the PEs (output-stationary); ``"ws"``
        keeps weights in the PEs (weight-stationary). Stored as a :class:`Dataflow`.
    rf_depth : int
        Entries in each PE's register file, even, 2..64. Half of them serve
        the fold being computed and half are filled (or drained) for the next
        one, so loads overlap compute.
    pack : int
        Channels packed into one word in binary mode (``bits=1``), 1..64; the
        PE then does ``pack`` XNOR-popcount products per cycle. Multi-bit
        modes always store one channel per word and ignore ``pack``.
    ifmap_depth : int
        Words in the global input-feature-map buffer, 16..2**20.
    weight_depth : int
        Lines in the global weight buffer, 1..2**16; a line holds one word for
        each of the ``cols`` filters of a column group.
    psum_depth : int
        Lines in the global partial-sum/output buffer, 1..2**20; a line holds
        ``cols`` accumulator-wide words.
    max_reduction : int
        Longest dot product ``C*R*S`` (channels, counted one per channel also when
        packed) a layer may have on this build, 1..2**24; the accumulator
        (``acc_bits``) is sized so no such sum can overflow. A reduction longer
        than the weight buffer holds runs in channel tiles whose partial sums
        stay in the psum buffer (:mod:`model.tiling`), so the bound is the
        accumulator's, not the weight buffer's. 8192 by default: a power of two
        above the longest reduction of ResNet-18, VGG-16 and MobileNet-v1
        (512*3*3 = 4608), one bit wider than 4608 would need.
    axi_data_bits : {32, 64, 128}
        Data width of the AXI4 master port to DRAM (one beat moves
        ``axi_data_bits // 8`` bytes). 64 by default, the width of a DDR3/DDR4
        x64 channel and of the Zynq HP ports.
    """

    rows: int = 8
    cols: int = 8
    bits: int = 8
    dataflow: Dataflow = Dataflow.WS
    rf_depth: int = 2
    pack: int = 8
    ifmap_depth: int = 16384
    weight_depth: int = 2048
    psum_depth: int = 4096
    max_reduction: int = 8192
    axi_data_bits: int = 64

    def __post_init__(self) -> None:
        check_int("rows", self.rows, 1, 64)
        check_int("cols", self.cols, 1, 64)
        check_int("bits", self.bits, 1, 16)
        check_choice("dataflow", self.dataflow, DATAFLOWS)
        object.__setattr__(self, "dataflow", Dataflow(self.dataflow))
        check_int("rf_depth", self.rf_depth, 2, 64)
        if self.rf_depth % 2:
            raise ValueError(f"rf_depth must be even (2, 4, ..., 64), not {self.rf_depth!r}")
        check_int("pack", self.pack, 1, 64)
        check_int("ifmap_depth", self.ifmap_depth, 16, 2**20)
        check_int("weight_depth", self.weight_depth, 1, 2**16)
        check_int("psum_depth", self.psum_depth, 1, 2**20)
        check_int("max_reduction", self.max_reduction, 1, 2**24)
        check_choice("axi_data_bits", self.axi_data_bits, AXI_DATA_WIDTHS)

    # -- derived values: computed here only ---------------------------------

    @property
    def binary(self) -> bool:
        """True for a binary (+1/-1, XNOR-popcount) accelerator."""
        return self.bits == 1

    @property
    def pes(self) -> int:
        """Number of processing elements, ``rows * cols``."""
        return self.rows * self.cols

    @property
    def channels_per_word(self) -> int:
        """Channels held by one buffer word: ``pack`` when binary, else 1."""
        return self.pack if self.binary else 1

    @property
    def word_bits(self) -> int:
        """Width in bits of one stored input or weight word."""
        return self.pack if self.binary else self.bits

    @property
    def acc_bits(self) -> int:
        """Signed accumulator width that no supported layer can overflow.

        Multi-bit: a product of two ``bits``-wide signed values lies in
        ``(-2**(2b-2), 2**(2b-2)]``; a sum of ``K`` of them needs
        ``2b + floor(log2 K)`` bits. Binary: a dot product lies in ``[-K, K]``
        and needs ``floor(log2 K) + 2`` bits. ``K`` is ``max_reduction``.
        """
        log2k = self.max_reduction.bit_length() - 1
        return log2k + 2 if self.binary else 2 * self.bits + log2k

    @property
    def rf_sets(self) -> int:
        """Register-file entries in use by the current fold (half of ``rf_depth``)."""
        return self.rf_depth // 2

    @property
    def axi_beat_bytes(self) -> int:
        """Bytes moved by one beat of the AXI4 port, ``axi_data_bits // 8``."""
        return self.axi_data_bits // 8

    def derived(self) -> dict:
        """The derived values, as written beside the Verilog for consumers."""
        return {
            "pes": self.pes,
            "word_bits": self.word_bits,
            "channels_per_word": self.channels_per_word,
            "acc_bits": self.acc_bits,
            "rf_sets": self.rf_sets,
            "axi_beat_bytes": self.axi_beat_bytes,
        }

    # -- serialisation --------------------------------------------------------

    def to_dict(self) -> dict:
        """The chosen settings as a plain dict (no derived values)."""
        return {**dataclasses.asdict(self), "dataflow": self.dataflow.value}

    def to_json(self) -> str:
        """JSON text with the settings and, under ``"derived"``, the derived values."""
        return json.dumps({**self.to_dict(), "derived": self.derived()}, indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "AcceleratorConfig":
        """Build a configuration from a dict such as :meth:`to_json` writes.

        Unknown keys are an error. A ``"derived"`` block, if present, must
        match what the settings derive: a mismatch means the file was written
        by a different generator (or edited by hand) and cannot be trusted.
        """
        if not isinstance(data, dict):
            raise TypeError(f"configuration must be a JSON object, not {type(data).__name__}")
        data = dict(data)
        derived = data.pop("derived", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown configuration field(s) {unknown}; allowed: {sorted(names)}")
        config = cls(**data)
        if derived is not None and derived != config.derived():
            raise ValueError(
                f"configuration 'derived' block {derived} does not match the settings, "
                f"which derive {config.derived()}"
            )
        return config

    @classmethod
    def from_json(cls, text: str) -> "AcceleratorConfig":
        """Parse :meth:`to_json` output (see :meth:`from_dict` for the checks)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"configuration is not valid JSON: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def preset(cls, name: str, **overrides) -> "AcceleratorConfig":
        """A named preset (see :data:`PRESETS`), with fields overridden by keyword."""
        check_choice("preset", name, tuple(PRESETS))
        return dataclasses.replace(PRESETS[name], **overrides)

    def replace(self, **changes) -> "AcceleratorConfig":
        """A copy with some fields changed (validated like a new object)."""
        return dataclasses.replace(self, **changes)


#: Named configurations: ``tiny`` for fast tests, ``default`` (8x8), ``large`` (16x16).
PRESETS = {
    "tiny": AcceleratorConfig(rows=2, cols=2, ifmap_depth=1024, weight_depth=128, psum_depth=512),
    "default": AcceleratorConfig(),
    "large": AcceleratorConfig(rows=16, cols=16, ifmap_depth=16384, weight_depth=2048, psum_depth=8192),
}
