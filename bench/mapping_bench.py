"""Mapping search under the ZigZag-style cost table: best mapping, energy, DRAM words and search time per layer.

Run ``python bench/mapping_bench.py [--compare FILE.jsonl] [LAYER ...]``
(default: every layer of ``model.layer.NAMED_LAYERS`` and a 128-channel 28x28
3x3 layer). ``--compare`` adds another tool's results, one JSON object per
line with ``name``, ``energy`` and ``seconds`` (e.g. ZigZag run on the same
hardware and table outside this repository), as extra columns. Hardware: the
``zigzag-16x16`` hierarchy (16x16 PEs, a 1-word register per operand in each
PE, no RF, a 131,072-word global buffer); table ``{"ref_bits": 8, "MAC": 1,
"RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}`` per 8-bit word; 8-bit operands and
partial sums (``--acc-bits 8``). Writes ``build/bench/mapping.json`` and
``build/bench/mapping.md``. Times are wall clock of one search each, run one
after another on this machine (a shared 2-core one: compare ratios in one run), and the CPU
time of the process during each search (less sensitive to other jobs).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from model.energy import HIERARCHIES, table_from_dict
from model.layer import NAMED_LAYERS, ConvLayer, parse_layer
from model.mapping import search

OUT = Path("build/bench")
TABLE = {"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}
HIERARCHY = "zigzag-16x16"
LAYERS = dict(NAMED_LAYERS) | {"c128_28x28_3x3": ConvLayer(C=128, H=28, W=28, M=128, R=3, S=3, pad=1)}


def run(names: list[str]) -> list[dict]:
    """Search each layer; returns one row per layer."""
    table, hierarchy = table_from_dict(TABLE, "zigzag-style"), HIERARCHIES[HIERARCHY]
    rows = []
    for name in names:
        layer = LAYERS[name] if name in LAYERS else parse_layer(name)
        cpu = time.process_time()
        result = search(layer, hierarchy, table=table, bits=8, acc_bits=8, top=1)
        cpu = time.process_time() - cpu
        best = result.best[0]
        rows.append({"layer": name, "shape": str(layer), "macs": layer.macs, "energy": best.energy,
                     "energy_per_mac": best.energy / layer.macs, "dram_words": best.dram_words,
                     "cycles": best.cycles, "utilisation": layer.macs / (best.counts.compute_cycles * hierarchy.pes),
                     "seconds": result.seconds, "cpu_seconds": cpu, "evaluated": result.evaluated, "pruning": result.pruning,
                     "mapping": best.mapping.describe(), "words": best.words()})
        print(f"{name:<22} {best.energy:12.5g} {best.dram_words:10d} {result.seconds:7.2f} s ({cpu:.2f} s CPU)  "
              f"{best.mapping.describe()}")
    return rows


def markdown(rows: list[dict]) -> str:
    """The table of ``mapping.md``."""
    other = any("other_energy" in r for r in rows)
    extra = " other energy | qconv/other | other s |" if other else ""
    lines = [f"Hierarchy `{HIERARCHY}`, table {json.dumps(TABLE)}, 8-bit operands and partial sums.", "",
             f"| layer | energy | energy/MAC | DRAM words | PE use | search s (CPU s) |{extra} best mapping |",
             "|---|---|---|---|---|---|" + ("---|---|---|" if other else "") + "---|"]
    for r in rows:
        cols = (f" {r['other_energy']:.4g} | {r['energy'] / r['other_energy']:.3f} | {r['other_seconds']:.1f} |"
                if "other_energy" in r else (" - | - | - |" if other else ""))
        lines.append(f"| {r['layer']} | {r['energy']:.4g} | {r['energy_per_mac']:.3f} | {r['dram_words']} | "
                     f"{100 * r['utilisation']:.0f} % | {r['seconds']:.2f} ({r['cpu_seconds']:.2f}) |{cols} `{r['mapping']}` |")
    return "\n".join(lines) + "\n"


def compare(rows: list[dict], path: Path) -> None:
    """Add another tool's ``energy`` and ``seconds`` (JSON lines keyed by ``name``) to ``rows``."""
    other = {}
    for line in path.read_text().splitlines():
        item = json.loads(line) if line.startswith("{") else {}
        if "name" in item and "energy" in item:
            other[item["name"]] = item
    for r in rows:
        if r["layer"] in other:
            r["other_energy"], r["other_seconds"] = other[r["layer"]]["energy"], other[r["layer"]]["seconds"]


def main(argv: list[str]) -> int:
    """Run the benchmark and write ``build/bench/mapping.{json,md}``."""
    other = None
    if argv[:1] == ["--compare"]:
        other, argv = Path(argv[1]), argv[2:]
    rows = run(argv or list(LAYERS))
    if other is not None:
        compare(rows, other)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "mapping.json").write_text(json.dumps({"hierarchy": HIERARCHY, "table": TABLE, "layers": rows}, indent=2))
    (OUT / "mapping.md").write_text(markdown(rows))
    print(f"wrote {OUT / 'mapping.json'} and {OUT / 'mapping.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
