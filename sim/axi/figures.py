"""Figures of the DMA engines: beats per cycle without backpressure, and ECP5 size of each engine.

``python -m sim.axi.figures`` (options: ``--simulator``, ``--kib``, ``--no-synth``) measures

* the beats per cycle of a long DRAM-to-DRAM copy (:class:`hw.axi.copy.DmaCopy`) against
  cocotbext-axi's ``AxiRam`` with no pauses: every beat is read and written once, so one beat per
  cycle is the ceiling; the copy is judged as in the tests (:func:`sim.axi.copy_run.check_copy`);
* the ECP5 LUTs, flip-flops and Fmax of the read DMA, the write DMA (64-bit) and the AXI4-Lite
  registers, each alone in the I/O harness of :mod:`sim.fpga` (harness subtracted), with YoWASP
  Yosys and nextpnr.

The figures are printed and written to ``build/axi/figures.json``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from amaranth.back import rtlil

from hw.axi.lite_regs import LiteRegisters
from hw.axi.read_dma import ReadDma
from hw.axi.write_dma import WriteDma
from model.contract import TOP_NAME
from sim.axi.copy_run import BUILD_ROOT, CopyCase, check_copy, no_stall_bound, run_copy
from sim.simulators import SIMULATORS

__all__ = ["copy_throughput", "engine_sizes", "main"]

#: The data width the figures are measured at.
DATA_BITS = 64


def copy_throughput(simulator: str = "verilator", kib: int = 128) -> dict:
    """Cycles and beats per cycle of a ``kib`` KiB copy with no pauses (the copy is checked)."""
    nbytes = kib * 1024
    image = np.random.default_rng(1).integers(0, 256, 2 * nbytes, dtype=np.uint8)
    case = CopyCase("throughput", src=0, dst=nbytes, run_bytes=nbytes, beat_bytes=DATA_BITS // 8)
    wall = time.perf_counter()
    results = run_copy(simulator, [case], image, data_bits=DATA_BITS)
    wall = time.perf_counter() - wall
    check_copy([case], results, image)
    cycles = results[0].cycles
    return {"simulator": simulator, "bytes": nbytes, "beats": case.beats, "cycles": cycles,
            "no_stall_bound": no_stall_bound(case), "beats_per_cycle": round(case.beats / cycles, 4),
            "wall_s": round(wall, 2)}


def engine_sizes(fpga: str = "ecp5") -> dict:
    """LUTs, FFs and Fmax of each engine alone (harness subtracted), synthesised for ``fpga``."""
    from sim.fpga.flow import synthesize

    sizes = {}
    for name, design in (("read_dma", ReadDma(DATA_BITS)), ("write_dma", WriteDma(DATA_BITS)),
                         ("lite_regs", LiteRegisters())):
        out_dir = BUILD_ROOT / "synth" / f"{fpga}-{name}"
        out_dir.mkdir(parents=True, exist_ok=True)
        il = out_dir / f"{TOP_NAME}.il"
        il.write_text(rtlil.convert(design, name=TOP_NAME))
        got = synthesize(il, fpga, out_dir)
        sizes[name] = {"luts": got["luts"] - got["harness"]["luts"], "ffs": got["ffs"] - got["harness"]["ffs"],
                       "brams": got["brams"], "dsps": got["dsps"], "fits": got["fits"], "fmax_mhz": got["fmax_mhz"]}
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write ``build/axi/figures.json``."""
    parser = argparse.ArgumentParser(prog="python -m sim.axi.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", choices=SIMULATORS, default="verilator")
    parser.add_argument("--kib", type=int, default=128, help="KiB of the throughput copy")
    parser.add_argument("--no-synth", action="store_true", help="skip the ECP5 synthesis")
    args = parser.parse_args(argv)
    if args.kib < 1 or args.kib > 8192:
        parser.error(f"--kib must be in 1..8192, not {args.kib}")
    figures = {"throughput": copy_throughput(args.simulator, args.kib)}
    t = figures["throughput"]
    print(f"copy of {t['bytes']} bytes ({t['beats']} beats each way) on {t['simulator']}: {t['cycles']} cycles, "
          f"{t['beats_per_cycle']} beats/cycle (no-stall bound {t['no_stall_bound']}; {t['wall_s']} s)")
    if not args.no_synth:
        figures["ecp5"] = engine_sizes("ecp5")
        for name, size in figures["ecp5"].items():
            print(f"ECP5 {name:10s} {size['luts']:5d} LUTs {size['ffs']:5d} FFs  Fmax {size['fmax_mhz']} MHz")
    path = BUILD_ROOT / "figures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
