"""Energy of arithmetic and memory accesses: two published tables, bit-width scaling, a hierarchy.

Levels (:class:`Level`), innermost first: ``REG`` (a PE's operand
register), ``RF`` (a PE's register file), ``NoC`` (a transfer between the
global buffer and a PE or between PEs), ``GLB`` (the global buffer), ``DRAM``.
Energies are per access of one word; a word of ``b`` bits costs
``b / ref_bits`` of the table's entry (memory energy is taken as linear in the
bits moved). A table without a ``REG`` entry charges registers as ``RF``.

Tables (:data:`TABLES`):

* ``eyeriss`` -- normalised to one 16-bit MAC (Chen, Emer, Sze, "Eyeriss: a
  spatial architecture for energy-efficient dataflow for CNNs", ISCA 2016,
  Fig. 1; 65 nm, 16-bit words): RF 1x, PE-to-PE 2x, global buffer 6x,
  DRAM 200x.
* ``horowitz`` -- absolute, 45 nm, in pJ (M. Horowitz, "Computing's energy
  problem (and what we can do about it)", ISSCC 2014): 8-bit add 0.03,
  32-bit add 0.1, 8-bit multiply 0.2, 32-bit multiply 3.1, fp32 add 0.9,
  fp32 multiply 3.7; a 64-bit read of an 8 KB SRAM 10 pJ (our GLB entry);
  DRAM 1.3-2.6 nJ per 64 bits (we take the low end, 1.3 nJ). Horowitz gives
  no register-file or network figure: those two entries are the 8 KB SRAM
  figure scaled by Eyeriss's ratios (RF 1/6, NoC 2/6 of the GLB).

Arithmetic scaling with bits (:func:`add_energy`, :func:`mult_energy`): power
laws through Horowitz's 8- and 32-bit integer points, ``add(b) = 0.03 (b/8)^0.87``
pJ (about linear) and ``mult(b) = 0.2 (b/8)^1.98`` pJ (about quadratic). A MAC
is ``mult(bits) + add(acc_bits)``. A binary (1-bit, XNOR-popcount) product is
one XNOR and one full adder of the popcount tree, ``2 add(1)``, plus its share
``add(acc_bits) / pack`` of the accumulation of the popcount. The Eyeriss
table scales MACs the same way relative to its 16-bit MAC with a 32-bit
accumulator (``mac(16, 32) = 1``).

A user table (:func:`parse_table`, ``qconv map --table FILE.json``) is a JSON
object ``{"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}``
(optional ``"REG"``, and ``"ref_acc_bits"``, the accumulator width its MAC
entry is for, default ``ref_bits``): memory entries per ``ref_bits`` word, the
MAC entry one ``ref_bits x ref_bits`` MAC, both scaled to other widths as the
built-in tables are.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from model.config import PRESETS, Dataflow
from model.validate import check_choice, check_int
from model.contract import COUNTERS

__all__ = [
    "Level", "LEVELS", "EnergyTable", "TABLES", "parse_table", "table_from_dict", "Hierarchy", "HIERARCHIES",
    "add_energy", "mult_energy", "mac_energy", "accelerator_energy", "total",
]


class Level(StrEnum):
    """A level of the memory hierarchy (its value is the name used in tables and reports)."""

    REG = "REG"  #: a PE's operand register (one per tensor that does not use the RF)
    RF = "RF"  #: a PE's register file
    NOC = "NoC"  #: the network between the global buffer and the PEs (a transfer, not storage)
    GLB = "GLB"  #: the global buffer
    DRAM = "DRAM"  #: off-chip memory


#: Levels, innermost first.
LEVELS: tuple[Level, ...] = tuple(Level)

_ADD_ALPHA = math.log(0.1 / 0.03) / math.log(4)  # 0.868: Horowitz 8-bit and 32-bit adds
_MULT_BETA = math.log(3.1 / 0.2) / math.log(4)  # 1.977: Horowitz 8-bit and 32-bit multiplies


def add_energy(bits: int) -> float:
    """Integer addition, pJ at 45 nm: ``0.03 * (bits/8) ** 0.868`` (exact at 8 and 32 bits)."""
    check_int("bits", bits, 1, 64)
    return 0.03 * (bits / 8) ** _ADD_ALPHA


def mult_energy(bits: int) -> float:
    """Integer multiplication, pJ at 45 nm: ``0.2 * (bits/8) ** 1.977`` (exact at 8 and 32 bits)."""
    check_int("bits", bits, 1, 64)
    return 0.2 * (bits / 8) ** _MULT_BETA


def mac_energy(bits: int, acc_bits: int, pack: int = 1) -> float:
    """One multiply-accumulate (one product), pJ at 45 nm.

    ``bits >= 2``: ``mult(bits) + add(acc_bits)``. ``bits == 1`` (binary):
    ``2 * add(1) + add(acc_bits) / pack`` -- an XNOR and a popcount full
    adder per product, and one accumulation per ``pack``-product word.
    """
    check_int("bits", bits, 1, 32)
    check_int("acc_bits", acc_bits, 1, 64)
    check_int("pack", pack, 1, 64)
    if bits == 1:
        return 2 * add_energy(1) + add_energy(acc_bits) / pack
    return mult_energy(bits) + add_energy(acc_bits)


@dataclass(frozen=True)
class EnergyTable:
    """Per-access energies of the memory levels and the scale of arithmetic.

    Parameters
    ----------
    name, unit, source : str
        Identification, energy unit and the publication the numbers come from.
    ref_bits : int
        Word width the ``memory`` entries are given for.
    memory : dict
        Level (:data:`LEVELS`) -> energy of one access of a ``ref_bits`` word;
        ``REG`` may be left out (then it costs as ``RF``).
    mac_scale : float
        Factor from :func:`mac_energy` (pJ) to this table's unit.
    """

    name: str
    unit: str
    source: str
    ref_bits: int
    memory: dict
    mac_scale: float

    def access(self, level: str, bits: int) -> float:
        """Energy of one access of a ``bits``-wide word at ``level``."""
        check_choice("level", level, LEVELS)
        check_int("bits", bits, 1, 4096)
        entry = self.memory.get(level, self.memory["RF"]) if level == Level.REG else self.memory[level]
        return entry * bits / self.ref_bits

    def mac(self, bits: int, acc_bits: int, pack: int = 1) -> float:
        """Energy of one product-accumulate (see :func:`mac_energy`)."""
        return mac_energy(bits, acc_bits, pack) * self.mac_scale


TABLES: dict[str, EnergyTable] = {
    "eyeriss": EnergyTable(
        name="eyeriss", unit="MAC16",
        source="Chen, Emer, Sze, Eyeriss, ISCA 2016, Fig. 1 (65 nm, normalised to a 16-bit MAC)",
        ref_bits=16, memory={"RF": 1.0, "NoC": 2.0, "GLB": 6.0, "DRAM": 200.0},
        mac_scale=1.0 / mac_energy(16, 32),
    ),
    "horowitz": EnergyTable(
        name="horowitz", unit="pJ",
        source="Horowitz, Computing's energy problem, ISSCC 2014 (45 nm); RF and NoC scaled from the 8 KB SRAM "
               "by Eyeriss's 1/6 and 2/6",
        ref_bits=64, memory={"RF": 10.0 / 6, "NoC": 20.0 / 6, "GLB": 10.0, "DRAM": 1300.0},
        mac_scale=1.0,
    ),
}


_USER_KEYS = ("ref_bits", "MAC", "RF", "NoC", "GLB", "DRAM")
_USER_OPTIONAL = ("REG", "ref_acc_bits")


def table_from_dict(data: object, name: str) -> EnergyTable:
    """An :class:`EnergyTable` from a user table's JSON object (see the module notes)."""
    if not isinstance(data, dict):
        raise ValueError(f"energy table {name} must be a JSON object with keys {', '.join(_USER_KEYS)}")
    missing = [k for k in _USER_KEYS if k not in data]
    unknown = sorted(set(data) - set(_USER_KEYS) - set(_USER_OPTIONAL))
    if missing or unknown:
        raise ValueError(f"energy table {name}: missing keys {missing}, unknown keys {unknown}; "
                         f"needs {', '.join(_USER_KEYS)} (optional {', '.join(_USER_OPTIONAL)})")
    ref_bits = check_int(f"energy table {name} ref_bits", data["ref_bits"], 1, 32)
    ref_acc = check_int(f"energy table {name} ref_acc_bits", data.get("ref_acc_bits", ref_bits), 1, 64)
    values = {}
    for key in ("MAC", *LEVELS):
        if key not in data:
            continue
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise ValueError(f"energy table {name} entry {key} must be a finite number >= 0, not {v!r}")
        values[key] = float(v)
    return EnergyTable(name=name, unit="table units", source=f"user table {name}", ref_bits=ref_bits,
                       memory={lv: values[lv] for lv in LEVELS if lv in values},
                       mac_scale=values["MAC"] / mac_energy(ref_bits, ref_acc))


def parse_table(text: str) -> EnergyTable:
    """A built-in table by name (:data:`TABLES`) or a user table read from a ``.json`` file (module notes).

    Raises
    ------
    ValueError
        If ``text`` is neither a table name nor a readable JSON file, or the
        file's object has missing or unknown keys or bad values.
    """
    if isinstance(text, EnergyTable):
        return text
    if text in TABLES:
        return TABLES[text]
    path = Path(text)
    if path.suffix != ".json":
        raise ValueError(f"table must be one of {', '.join(TABLES)} or a .json file, not {text!r}")
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"cannot read energy table {text}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"energy table {text} is not valid JSON: {err}") from None
    return table_from_dict(data, path.name)


def _table(table) -> EnergyTable:
    if isinstance(table, EnergyTable):
        return table
    check_choice("table", table, tuple(TABLES))
    return TABLES[table]


@dataclass(frozen=True, kw_only=True)
class Hierarchy:
    """A spatial array of PEs with operand registers and a register file, a global buffer and DRAM.

    Every level that holds data has a capacity here: a mapping that needs more
    is refused (``model.mapping.check_fits``), nothing is stored implicitly.

    Parameters
    ----------
    rows, cols : int
        PE array shape.
    reg_words : int
        Words of each PE's operand register, one register per tensor that
        does not use the RF (at least one word: a PE holds its operands).
    rf_words : int
        Words of each PE's register file, used by at most one tensor
        (0: no register file).
    glb_words : int
        Global-buffer words, all tensors together.
    glb_split : tuple of int, optional
        Separate global-buffer words for (input, weights, output), as the
        accelerator's three buffers; each tensor's tile must also fit its own.
    dram_words_per_cycle : float
        DRAM bandwidth; cycles are the larger of compute and DRAM transfer time.
    """

    rows: int = 8
    cols: int = 8
    reg_words: int = 1
    rf_words: int = 16
    glb_words: int = 65536
    glb_split: tuple[int, int, int] | None = None
    dram_words_per_cycle: float = 4.0

    def __post_init__(self) -> None:
        check_int("rows", self.rows, 1, 1024)
        check_int("cols", self.cols, 1, 1024)
        check_int("reg_words", self.reg_words, 1)
        check_int("rf_words", self.rf_words, 0)
        check_int("glb_words", self.glb_words, 1)
        if self.glb_split is not None:
            if not (isinstance(self.glb_split, tuple) and len(self.glb_split) == 3):
                raise ValueError(f"glb_split must be a tuple (input, weights, output) of words, not {self.glb_split!r}")
            for name, v in zip(("input", "weights", "output"), self.glb_split):
                check_int(f"glb_split {name}", v, 1)
        if not (isinstance(self.dram_words_per_cycle, (int, float)) and self.dram_words_per_cycle > 0):
            raise ValueError(f"dram_words_per_cycle must be a positive number, not {self.dram_words_per_cycle!r}")

    @property
    def pes(self) -> int:
        """Number of PEs."""
        return self.rows * self.cols

    def glb_limit(self, tensor: str) -> int | None:
        """The global-buffer words ``tensor`` has to itself (``None``: only the shared limit)."""
        if self.glb_split is None:
            return None
        return dict(zip(("input", "weights", "output"), self.glb_split)).get(tensor)

    @classmethod
    def from_config(cls, config) -> "Hierarchy":
        """The hierarchy of an :class:`~model.config.AcceleratorConfig`: its array, RF and three buffers."""
        split = (config.ifmap_depth, config.weight_depth * config.cols, config.psum_depth * config.cols)
        return cls(rows=config.rows, cols=config.cols, rf_words=config.rf_depth, glb_words=sum(split),
                   glb_split=split)

    @classmethod
    def parse(cls, text: str) -> "Hierarchy":
        """A name of :data:`HIERARCHIES` or ``"rows=8,cols=8,rf_words=16,glb_words=65536"``.

        Keys: ``rows cols reg_words rf_words glb_words dram_words_per_cycle``
        and ``glb_split=INPUT/WEIGHTS/OUTPUT``.
        """
        text = text.strip()
        if text in HIERARCHIES:
            return HIERARCHIES[text]
        fields = ("rows", "cols", "reg_words", "rf_words", "glb_words", "glb_split", "dram_words_per_cycle")
        values = {}
        for item in text.split(","):
            key, sep, value = (p.strip() for p in item.partition("="))
            if not sep or key not in fields:
                raise ValueError(
                    f"hierarchy item {item!r} is not KEY=VALUE with KEY in {', '.join(fields)} "
                    f"(or name one of {', '.join(HIERARCHIES)})"
                )
            try:
                if key == "dram_words_per_cycle":
                    values[key] = float(value)
                elif key == "glb_split":
                    values[key] = tuple(int(v) for v in value.split("/"))
                else:
                    values[key] = int(value)
            except ValueError:
                raise ValueError(f"hierarchy field {key}={value!r} is not a number"
                                 f"{' (glb_split is INPUT/WEIGHTS/OUTPUT words)' if key == 'glb_split' else ''}") from None
        return cls(**values)


#: Named hierarchies: Eyeriss (12x14 PEs, 0.5 KB RF and 108 KB GLB of 16-bit words); the array of the
#: ZigZag comparison (16x16 PEs, 1-word registers for every operand, no RF, 128 Ki-word GLB); qconv's presets.
HIERARCHIES: dict[str, Hierarchy] = {
    "eyeriss": Hierarchy(rows=12, cols=14, rf_words=256, glb_words=55296),
    "zigzag-16x16": Hierarchy(rows=16, cols=16, reg_words=1, rf_words=0, glb_words=131072),
    **{f"qconv-{name}": Hierarchy.from_config(config) for name, config in PRESETS.items()},
}


def total(breakdown: dict) -> float:
    """Sum of a ``{level: {tensor: energy}}`` breakdown."""
    return float(sum(sum(per.values()) for per in breakdown.values()))


def accelerator_energy(config, counters: dict, table="eyeriss") -> dict:
    """Energy of one layer on the accelerator from its hardware counters.

    Parameters
    ----------
    config : AcceleratorConfig
        The build: ``bits``, ``acc_bits``, ``word_bits``, ``pack``, ``rows``,
        ``cols``, ``dataflow``.
    counters : dict
        Exactly the names of :data:`COUNTERS` (as ``model.perf.predict``
        returns them), each a count of one-word accesses.
    table : str or EnergyTable
        ``"eyeriss"`` or ``"horowitz"`` (see :data:`TABLES`).

    Returns
    -------
    dict
        ``{"MAC": {"all": e}, "RF": {tensor: e}, "NoC": {...}, "GLB": {...},
        "DRAM": {...}}`` with tensors ``input``, ``weights``, ``output``.

    Notes
    -----
    Assumptions: ifmap and weight words are ``word_bits`` wide (a packed
    word when binary), partial sums and outputs ``acc_bits``; ``macs`` counts
    single products. The counters count accesses as the buffers are
    organised (docs/architecture.md, "Global buffer"): an ifmap access is one word; the array
    reads a whole weight line and reads/writes whole psum lines (``cols``
    words each), while the host writes weight lanes and reads psum lanes (one
    word each; the host's psum reads are ``dram_psum_writes``). The counters
    have no network count; it is derived from the broadcast array: each ifmap
    word read goes to the ``cols`` PEs of a row; a weight line goes to one PE
    row's register files (weight-stationary) or down every column to the
    ``rows`` PEs (output-stationary); each partial sum written passes through
    the ``rows`` PEs of its column (weight-stationary column reduction) or
    one hop (output-stationary drain).
    """
    if not isinstance(counters, dict):
        raise TypeError(f"counters must be a dict, not {type(counters).__name__}")
    missing = [k for k in COUNTERS if k not in counters]
    unknown = sorted(set(counters) - set(COUNTERS))
    if missing or unknown:
        raise ValueError(f"counters missing {missing} / unknown {unknown}; expected exactly {list(COUNTERS)}")
    for k in COUNTERS:
        check_int(f"counter {k}", counters[k], 0)
    t = _table(table)
    c = counters
    wb, ab = config.word_bits, config.acc_bits
    ws = config.dataflow is Dataflow.WS
    psum_hops = config.rows if ws else 1
    weight_fanout = 1 if ws else config.rows
    weight_words_read = c["glb_weight_reads"] * config.cols  # array line reads
    psum_array_words = (c["glb_psum_reads"] - c["dram_psum_writes"] + c["glb_psum_writes"]) * config.cols
    return {
        "MAC": {"all": c["macs"] * t.mac(config.bits, ab, config.pack)},
        "RF": {
            "weights": (c["rf_weight_reads"] + c["rf_weight_writes"]) * t.access("RF", wb),
            "output": (c["rf_psum_reads"] + c["rf_psum_writes"]) * t.access("RF", ab),
        },
        "NoC": {
            "input": c["glb_ifmap_reads"] * config.cols * t.access("NoC", wb),
            "weights": weight_words_read * weight_fanout * t.access("NoC", wb),
            "output": c["glb_psum_writes"] * config.cols * psum_hops * t.access("NoC", ab),
        },
        "GLB": {
            "input": (c["glb_ifmap_reads"] + c["glb_ifmap_writes"]) * t.access("GLB", wb),
            "weights": (weight_words_read + c["glb_weight_writes"]) * t.access("GLB", wb),
            "output": (psum_array_words + c["dram_psum_writes"]) * t.access("GLB", ab),
        },
        "DRAM": {
            "input": c["dram_ifmap_reads"] * t.access("DRAM", wb),
            "weights": c["dram_weight_reads"] * t.access("DRAM", wb),
            "output": c["dram_psum_writes"] * t.access("DRAM", ab),
        },
    }
