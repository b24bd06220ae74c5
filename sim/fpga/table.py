"""The Markdown table of synthesis results that ``qconv synth`` prints and the sweep writes."""

from __future__ import annotations

__all__ = ["format_critical_path", "format_table"]


def format_critical_path(path: dict | None) -> str:
    """``"58.2 ns, 19 logic levels, 20 nets: controller.stream_ctx.valid -> controller.sw_nbase"``, or ``"-"``.

    The ends are the design signals of the start and end registers, without the
    harness's instance name ``core.``.
    """
    if path is None:
        return "-"
    start, end = (path[key].removeprefix("core.") for key in ("from_signal", "to_signal"))
    return f"{path['delay_ns']:.1f} ns, {path['logic_levels']} logic levels, {path['nets']} nets: {start} -> {end}"


def _throughput(t: dict | None) -> str:
    if t is None or t["gmacs"] is None:
        return "-"
    layer = t["layer"]
    return f"{t['gmacs']:.3g} ({layer['name']}{' scaled' if layer['scaled'] else ''}, {t['utilisation']:.1%} util.)"


def format_table(results: list[dict]) -> str:
    """A Markdown table of :func:`sim.fpga.flow.synth_config` results, one row per design.

    Results written before the critical path and throughput were reported have
    ``-`` in those columns.
    """
    head = ("| FPGA | dataflow | bits | array | LUTs | FFs | BRAMs | DSPs | Fmax (MHz) | critical path | GMAC/s "
            "| fits | harness LUTs/FFs |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        c = r["config"]
        fmax = "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}" + (" (placed)" if r.get("fmax_stage") == "placed" else "")
        fits = "yes" if r["fits"] else "no: " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r["limits"].items())
        rows.append(
            f"| {r['fpga']} | {c['dataflow']} | {c['bits']} | {c['rows']}x{c['cols']} | {r['luts']} | {r['ffs']} "
            f"| {r['brams']} | {r['dsps']} | {fmax} | {format_critical_path(r.get('critical_path'))} "
            f"| {_throughput(r.get('throughput'))} | {fits} | {r['harness']['luts']}/{r['harness']['ffs']} |"
        )
    return "\n".join(rows)
