"""Verilator lint of the generated Verilog (``verilator --lint-only -Wall``) against a short waiver list.

Every warning Verilator gives is collected (``-Wno-fatal``) and sorted by
rule. A rule of :data:`WAIVERS` is a construct Amaranth's Verilog back end
emits by design, with the reason it is harmless; any other warning fails the
lint. ``ALWNEVER`` and ``UNDRIVEN`` are deliberately *not* waived: Amaranth
writes constant parts of a partially assigned combinational signal as an
``always @*`` block with nothing to read, which Icarus never runs, leaving
those bits X (it stalled the controller in Icarus until the RTL stopped
producing them).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sim.simulators import prepare

__all__ = ["WAIVERS", "LintReport", "lint", "parse_warnings"]

#: Verilator rules waived for Amaranth output, each with why it is harmless.
WAIVERS: dict[str, str] = {
    "DECLFILENAME": "Amaranth writes the whole hierarchy into one file, with submodules named 'qconv_top.<child>'",
    "PROCASSINIT": "every register is declared with its reset value ('reg x = init;') and assigned in always blocks",
    "CASEINCOMPLETE": "Amaranth's casez blocks follow a default assignment, so uncovered values keep it",
    "WIDTHEXPAND": "Amaranth widens operands of arithmetic and comparisons to the result width implicitly",
    "WIDTHTRUNC": "'!x' on a multi-bit value (Amaranth's bool()) and shifts whose result is sliced on assignment",
    "UNUSEDSIGNAL": "unused bits of intermediate results (carries, fields of a layout) kept as named wires",
}

_WARNING = re.compile(r"^%Warning-([A-Z0-9_]+): ([^:\n]+):(\d+):(?:\d+:)? (.*)$", re.M)


@dataclass
class LintReport:
    """Warnings of one lint run, sorted by rule.

    Attributes
    ----------
    waived : collections.Counter
        Count per waived rule.
    failures : list of str
        Every warning outside :data:`WAIVERS`, as ``RULE file:line message``.
    """

    waived: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every warning is waived."""
        return not self.failures


def parse_warnings(text: str) -> list[tuple[str, str, int, str]]:
    """``(rule, file, line, message)`` of every ``%Warning-RULE`` in Verilator's output."""
    return [(rule, path, int(line), msg) for rule, path, line, msg in _WARNING.findall(text)]


def lint(verilog: Path, top: str = "qconv_top") -> LintReport:
    """Run ``verilator --lint-only -Wall`` on ``verilog`` and sort its warnings against :data:`WAIVERS`.

    Raises
    ------
    sim.simulators.SimulatorMissing
        If Verilator is not installed.
    RuntimeError
        If Verilator reports an error (not a warning).
    """
    prepare("verilator")
    proc = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top, str(verilog)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0 or "%Error" in proc.stderr:
        raise RuntimeError(f"verilator --lint-only failed on {verilog}:\n{proc.stderr.strip()}")
    report = LintReport()
    for rule, path, line, msg in parse_warnings(proc.stderr):
        if rule in WAIVERS:
            report.waived[rule] += 1
        else:
            report.failures.append(f"{rule} {Path(path).name}:{line} {msg}")
    return report
