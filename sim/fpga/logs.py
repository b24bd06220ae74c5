"""Readers of the Yosys and nextpnr reports: mapped cells, device utilisation, Fmax and the critical path."""

from __future__ import annotations

import json
import re

__all__ = ["design_signal", "parse_critical_path", "parse_nextpnr_log", "parse_yosys_stat"]


def parse_yosys_stat(text: str) -> dict[str, int]:
    """Cell counts by type of the whole design, from Yosys's ``stat -json`` output."""
    data = json.loads(text)
    design = data.get("design") or next(iter(data["modules"].values()))
    return {str(k): int(v) for k, v in design["num_cells_by_type"].items()}


_UTIL = re.compile(r"^Info:\s+([\w$]+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)
_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz", re.M)
_ERROR = re.compile(r"^ERROR: (.*)$", re.M)


def parse_nextpnr_log(text: str) -> dict:
    """Device utilisation, Fmax, critical path and errors from a nextpnr log.

    Returns
    -------
    dict
        ``utilisation``: ``{bel type: {"used", "available"}}`` of the BEL
        types in use (the last report in the log); ``fmax_mhz``: the lowest Fmax of the last timing
        report over all clocks, or None; ``fmax_stage``: ``"routed"`` when that report follows
        ``Routing complete.``, ``"placed"`` when it is the estimate after placement, or None;
        ``critical_path``: :func:`parse_critical_path` (None before routing, for nextpnr
        reports paths only after it); ``errors``: the ``ERROR:`` lines.
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
        "critical_path": parse_critical_path(text),
        "errors": _ERROR.findall(text),
    }


_PATH_HEAD = re.compile(r"^Info: Critical path report for clock '([^']+)' \(([a-z]+ -> [a-z]+)\):$", re.M)
_PATH_END = re.compile(r"^Info: ([\d.]+) ns logic, ([\d.]+) ns routing$", re.M)
_SEGMENT = re.compile(r"^Info:\s+(clk-to-q|source|logic|routing|setup)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(?:Source|Net) (\S+)")
_DEFINED_IN = re.compile(r"^Info:\s+(\S+:\d[\d.\-]*)$")
_LIBRARY = "/share/"  # Yosys's own techmap and cell library files, not the design's source


def parse_critical_path(text: str) -> dict | None:
    """The longest register-to-register path of a nextpnr log's timing report, or None if it has none.

    nextpnr prints, after routing, one "Critical path report for clock" per
    clock, a list of segments: the start register's clock-to-output, then
    alternately a net (routing) and a cell (logic), and the end register's
    setup time. Cross-domain reports (from and to the pins) are not read: in
    the I/O harness they are pin paths, not the design's.

    Returns
    -------
    dict or None
        ``clock``, ``edges`` (``"posedge -> posedge"``), ``from`` and ``to`` (start and end
        cell, as nextpnr names them), ``from_signal`` and ``to_signal`` (the design signals
        those cells are named after, :func:`design_signal`), ``from_source`` and ``to_source``
        (the first and last design source line along the path, e.g. ``".../hw/pe.py:80"``,
        where the signal is declared; or None), ``logic_levels`` (cells passed through, one
        per bit of a carry chain), ``nets`` (nets passed through), ``delay_ns``, ``logic_ns``
        and ``routing_ns``.
    """
    worst = None
    for head in _PATH_HEAD.finditer(text):
        end = _PATH_END.search(text, head.end())
        if end is None:
            continue
        segments, sources, delay = _read_path(text[head.end(): end.start()].splitlines())
        if segments and (worst is None or delay >= worst[2]):  # a later report of the same length replaces one
            worst = (segments, sources, delay, head, end)
    if worst is None:
        return None
    segments, sources, delay, head, end = worst
    start, stop = _cell(segments[0][1]), _cell(segments[-1][1])
    return {
        "clock": head.group(1), "edges": head.group(2), "from": start, "to": stop,
        "from_signal": design_signal(start), "to_signal": design_signal(stop),
        "from_source": sources[0] if sources else None, "to_source": sources[-1] if sources else None,
        "logic_levels": sum(kind == "logic" for kind, _ in segments),
        "nets": sum(kind == "routing" for kind, _ in segments),
        "delay_ns": delay, "logic_ns": float(end.group(1)), "routing_ns": float(end.group(2)),
    }


def _read_path(lines: list[str]) -> tuple[list[tuple[str, str]], list[str], float]:
    """Segments ``(kind, name)`` of one path report, the first design source line of each net, total delay."""
    segments: list[tuple[str, str]] = []
    sources: list[str] = []
    delay, sourced = 0.0, True  # sourced: the last segment needs no (more) source line; only nets have one
    for line in lines:
        if segment := _SEGMENT.match(line):
            kind, _, total, name = segment.groups()
            segments.append((kind, name))
            delay, sourced = float(total), kind != "routing"
        elif (defined := _DEFINED_IN.match(line)) and not sourced and _LIBRARY not in defined.group(1):
            sources.append(defined.group(1))
            sourced = True
    return segments, sources, delay


# Yosys names a mapped cell after the net it drives, then the primitive and its port
# (`core.pe_0.acc_SB_DFFSR_Q_3_D_SB_LUT4_O_LC`, `core.b_TRELLIS_FF_Q_1`).
_PRIMITIVE = re.compile(r"_(?:SB_[A-Z0-9]+|TRELLIS_[A-Z0-9]+|CCU2C|LUT4|MULT18X18D|ALU54B|DP16KD|PDPW16KD|PFUMX|L6MUX21)(?:_|\$|$)")


def design_signal(cell: str) -> str:
    """The design signal a mapped cell is named after (``core.pe_0.acc``), or the cell's name when it has none."""
    found = _PRIMITIVE.search(cell)
    return cell[: found.start()] if found and found.start() > 0 else cell


def _cell(pin: str) -> str:
    """The cell of a ``cell.port`` pin name (cell names hold dots of the hierarchy; ports do not)."""
    return pin.rsplit(".", 1)[0]
