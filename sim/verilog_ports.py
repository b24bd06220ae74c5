"""Ports of a module in the netlists Amaranth writes: Verilog (through Yosys) and RTLIL.

The one reader of port declarations in the project: :mod:`sim.design_check`
checks the widths of a generated ``qconv_top.v`` with it, and the FPGA flow
(:mod:`sim.fpga.harness`) wires its I/O harness from it. Yosys writes Verilog
in the non-ANSI style, one declaration per line (``input [7:0] a;``), and
escapes names holding other characters (``input \\a$1 ;``); RTLIL declares
each port as a ``wire`` with its direction and position.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from model.contract import TOP_NAME

__all__ = ["Direction", "Port", "rtlil_ports", "verilog_ports"]


class Direction(StrEnum):
    """Direction of a port, spelled as in Verilog and RTLIL."""

    INPUT = "input"
    OUTPUT = "output"


class Port(NamedTuple):
    """One port: its direction, name (without a Verilog escape) and width in bits."""

    direction: Direction
    name: str
    width: int


_NAME_END = r"(?=[\s(;])"  # so that `qconv_top` does not match the submodule `\qconv_top.array`
_VERILOG_PORT = re.compile(
    r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?"
    r"(?:\\(\S+)\s|([A-Za-z_][\w$]*))\s*;",
    re.M,
)
_RTLIL_PORT = re.compile(r"^\s*wire\s+(?:width\s+(\d+)\s+)?(?:signed\s+)?(input|output)\s+(\d+)\s+\\(\S+)", re.M)


def _module_ports(text: str, module: str, language: str, header: str, end: str, read) -> list[Port]:
    """``read(body)`` of the definition of ``module``: from the ``header`` pattern to the next ``end``."""
    head = re.compile(header, re.M).search(text)
    if head is None:
        raise ValueError(f"module {module!r} not found in the {language}")
    tail = re.compile(end, re.M).search(text, head.end())
    ports = read(text[head.end(): tail.start() if tail else len(text)])
    if not ports:
        raise ValueError(f"module {module!r} declares no ports in the {language}")
    return ports


def verilog_ports(text: str, module: str = TOP_NAME) -> list[Port]:
    """Ports of ``module`` in Verilog ``text`` as Yosys writes it, in declaration order.

    Raises
    ------
    ValueError
        If ``module`` is not defined in ``text`` or declares no ports.
    """
    def read(body: str) -> list[Port]:
        return [Port(Direction(d), escaped or plain, abs(int(hi) - int(lo)) + 1 if hi else 1)
                for d, hi, lo, escaped, plain in _VERILOG_PORT.findall(body)]

    header = rf"^\s*module\s+\\?{re.escape(module)}{_NAME_END}"
    return _module_ports(text, module, "Verilog", header, r"^\s*endmodule\b", read)


def rtlil_ports(text: str, module: str = TOP_NAME) -> list[Port]:
    """Ports of ``module`` in RTLIL ``text``, in port order (the order of the Verilog header).

    Raises
    ------
    ValueError
        If ``module`` is not defined in ``text`` or declares no ports.
    """
    def read(body: str) -> list[Port]:
        found = sorted((int(i), d, name, int(w or 1)) for w, d, i, name in _RTLIL_PORT.findall(body))
        return [Port(Direction(d), name, w) for _, d, name, w in found]

    return _module_ports(text, module, "RTLIL", rf"^module \\{re.escape(module)}\s*$", r"^end\s*$", read)
