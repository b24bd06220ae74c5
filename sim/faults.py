"""Fault injection: single faults edited into the generated Verilog, each of which the co-simulation must catch.

A fault is a targeted, documented edit of the text of ``qconv_top.v`` as
Amaranth generates it (so the RTL authors' code needs no hook): an adder that
drops a term, a comparison bound moved by one, a register-file write enable
stuck at 0, swapped operands, a counter that misses events, a loop bound that
skips the last filter group, a controller that never finishes, and so on.

Each fault names the Verilog module it edits, a regular expression and its
replacement, and the exact number of places the expression must match in
that module. The edit is made on the text as :func:`normalise` leaves it (Yosys'
``(* ... *)`` attributes removed, runs of spaces made one). If the pattern does
not match exactly that often, :func:`apply_fault` raises
:class:`FaultNotApplied`: a refactor of the RTL makes the fault list fail
loudly instead of silently testing an unmodified design.

Placeholders in patterns and replacements: ``<<DESC.X>>`` is the slice of
descriptor field ``X`` in the controller's latched descriptor register ``d``
(``d[hi:lo]``, from :func:`model.program.desc_fields` of the target configuration).

Faults are applied one at a time, but built together: :func:`multiplex`
puts every fault of a target configuration into one Verilog file, each edit
guarded by ``qconv_fault == k``, and each run selects one fault with the
plusarg ``+qconv_fault=k``. A Verilator build takes a minute or two on a
busy machine while a run of the job list takes seconds, so this needs three
builds instead of one per fault. The run with ``k = 0`` (the baseline) must
pass every job: it shows both that the job list passes on the design as
generated and that the multiplexing itself changed nothing.

Each run co-simulates the job list of its target (:data:`FAULT_JOBS`). A
fault is *caught* when any job fails; the checks that fired are reported:
``outputs`` (an output differs from the golden model), ``cycles``, a counter
name (``counter:<name>``), ``timeout`` (``done`` never rose: the bounded
wait), ``x_values`` (the DUT drove X or Z where the testbench reads a value;
Icarus only) or ``error`` (the simulation failed otherwise).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hw.verilog import generate
from model.config import AcceleratorConfig
from model.layer import ConvLayer, parse_layer
from model.program import desc_fields
from model.validate import check_int
from sim.runner import Build, compile_verilog, run

__all__ = [
    "Fault", "FaultNotApplied", "FAULTS", "FAULT_CONFIGS", "FAULT_JOBS", "FAULTS_ROOT",
    "FAULT_SELECT", "normalise", "apply_fault", "multiplex", "checks_fired", "build_target", "run_fault",
    "run_faults", "format_summary",
]

#: Where mutant builds and the summary go (git-ignored).
FAULTS_ROOT = Path("build") / "faults"

#: The configurations faults are injected into: small, so builds and runs are quick.
FAULT_CONFIGS: dict[str, AcceleratorConfig] = {
    "ws": AcceleratorConfig(dataflow="ws", bits=4, rows=2, cols=3, rf_depth=4,
                            ifmap_depth=64, weight_depth=24, psum_depth=32),
    "os": AcceleratorConfig(dataflow="os", bits=4, rows=2, cols=3, rf_depth=4,
                            ifmap_depth=64, weight_depth=24, psum_depth=32),
    "binary": AcceleratorConfig(dataflow="ws", bits=1, pack=5, rows=2, cols=2, rf_depth=2,
                                ifmap_depth=64, weight_depth=24, psum_depth=32),
}

#: Layers (and operand seeds) every mutant of a target runs: together they exercise padding, stride,
#: several reduction folds, a partial filter group, several passes, N > 1, 1x1 and input-sized kernels.
FAULT_JOBS: dict[str, list[tuple[ConvLayer, int]]] = {
    target: [(parse_layer(text), seed) for text, seed in jobs]
    for target, jobs in {
        "ws": [
            ("N=1,C=2,H=5,W=5,M=4,R=3,S=3,stride=1,pad=1", 11),   # 5 reduction folds, partial filter group, padding
            ("N=2,C=1,H=6,W=5,M=3,R=2,S=2,stride=2,pad=0", 12),   # stride 2, N>1
            ("N=3,C=2,H=4,W=4,M=2,R=1,S=1,stride=1,pad=0", 13),   # 1x1, several passes (ifmap buffer)
            ("N=1,C=2,H=3,W=3,M=7,R=3,S=3,stride=1,pad=0", 14),   # kernel as large as the input, 3 filter groups
            ("N=1,C=1,H=4,W=4,M=8,R=2,S=2,stride=1,pad=0", 15),   # 3 filter groups in one pass
        ],
        "os": [
            ("N=1,C=2,H=5,W=5,M=4,R=3,S=3,stride=1,pad=1", 21),
            ("N=2,C=1,H=6,W=5,M=3,R=2,S=2,stride=2,pad=0", 22),
            ("N=3,C=2,H=4,W=4,M=2,R=1,S=1,stride=1,pad=0", 23),
            ("N=1,C=2,H=3,W=3,M=7,R=3,S=3,stride=1,pad=0", 24),
            ("N=1,C=1,H=4,W=4,M=8,R=2,S=2,stride=1,pad=0", 25),
        ],
        "binary": [
            ("N=1,C=7,H=4,W=4,M=3,R=3,S=3,stride=1,pad=1", 31),   # a partial second word (7 channels, pack 5)
            ("N=2,C=3,H=5,W=4,M=2,R=2,S=2,stride=2,pad=0", 32),
            ("N=1,C=5,H=3,W=3,M=5,R=3,S=3,stride=1,pad=0", 33),
            ("N=1,C=3,H=4,W=4,M=5,R=2,S=2,stride=1,pad=0", 34),   # 3 filter groups in one pass
        ],
    }.items()
}


@dataclass(frozen=True)
class Fault:
    """One single fault: a regex edit of one Verilog module of one target configuration.

    Parameters
    ----------
    name : str
        Short identifier.
    description : str
        What the edit does to the hardware.
    target : str
        Key of :data:`FAULT_CONFIGS`.
    module : str
        Verilog module name (without the leading backslash), e.g. ``"qconv_top.controller"``.
    pattern, replacement : str
        ``re.sub`` arguments, applied to the module text as :func:`normalise` leaves it.
    count : int
        Exact number of matches expected in that module.
    """

    name: str
    description: str
    target: str
    module: str
    pattern: str
    replacement: str
    count: int = 1


class FaultNotApplied(RuntimeError):
    """A fault's pattern did not match where intended: the RTL changed and the fault list must follow."""


_ID = r"\\\$\d+ "  # an anonymous Yosys wire such as "\$12 " (escaped name, trailing space)

#: The faults of ``make faults``: at least 15, all distinct, each applied alone.
FAULTS: tuple[Fault, ...] = (
    Fault("pe_swapped_operand", "PE(0,0) multiplies the input by itself instead of by its weight",
          "ws", "qconv_top.array.pe_0_0",
          rf"(assign value = \$signed\(({_ID})\) \* )\$signed\({_ID}\);", r"\1$signed(\2);"),
    Fault("pe_rf_write_stuck", "the register-file write enable of the last PE is stuck at 0",
          "ws", "qconv_top.array.pe_1_2", r"if \(load_en\) begin", "if (1'h0) begin", count=4),
    Fault("ws_column_sum_drops_row", "column 0's adder tree drops the product of the last row",
          "ws", "qconv_top.array", r"(assign \S+ = )\$signed\(product\) \+ \$signed\(\\product\$\d+ \);",
          r"\1$signed(product);"),
    Fault("ws_column_acc_never_restarts", "column 0's accumulator ignores acc_first and keeps the previous pixel",
          "ws", "qconv_top.array", r"acc_first \? \d+'h0+ : acc0;", "acc0;"),
    Fault("ws_psum_fold_dropped", "the psum read-modify-write ignores the stored partial sum (drops earlier folds)",
          "ws", "qconv_top", r"psum_first \? (\d+'h0+) : psum_rdata\[\d+:\d+\];", r"\1;", count=3),
    Fault("pad_high_bound_off_by_one", "the 'inside the input' test accepts row h == H (h <= H instead of h < H)",
          "ws", "qconv_top.controller", r"\) < \$signed\(\{ 1'h0, <<DESC.H>> \}\);", r") <= $signed({ 1'h0, <<DESC.H>> });",
          count=4),
    Fault("stride_ignored_in_columns", "the output-column walker steps the window by 1 instead of stride",
          "ws", "qconv_top.controller", r"\$signed\(sw_w0\) \+ \$signed\(\{ 1'h0, <<DESC.stride>> \}\);",
          "$signed(sw_w0) + $signed({ 1'h0, 32'd1 });"),
    Fault("skip_last_filter_group", "the fold sequencer stops one filter group early (group + 2 < m_groups)",
          "ws", "qconv_top.controller", rf"(assign {_ID}= )({_ID})< <<DESC.m_groups>>;", r"\1\2+ 1'h1 < <<DESC.m_groups>>;",
          count=2),
    Fault("weight_address_off_by_one", "weight-buffer loads read line wbase + k + 1",
          "ws", "qconv_top.controller", r"(= load_ctx\[\d+:\d+\] \+ lw_k);", r"\1 + 1'h1;"),
    Fault("rf_half_not_swapped", "the streaming fold always reads register-file half 0 (the loader fills half 1)",
          "ws", "qconv_top.controller", r"stream_ctx\[1\] \? 2'h2 : 2'h0", "2'h0", count=105),
    Fault("done_never_rises", "the pipeline-tail counter never reaches 1, so busy stays high and done never rises",
          "ws", "qconv_top.controller", rf"(assign {_ID}= )tail == 1'h1;", r"\g<1>1'h0;"),
    Fault("weight_write_all_lanes", "a host write to the weight buffer writes every lane of the line",
          "ws", "qconv_top", rf"(assign weight_wen = {_ID}\? ){_ID}\[\d+:0\] : (\d+)'h0;", r"\1{\2{1'b1}} : \2'h0;"),
    Fault("glb_ifmap_reads_miscounted", "the ifmap-read counter drops the reads of the last row",
          "ws", "qconv_top", r"(assign inc_glb_ifmap_reads = \S+ )\+ [^;]+;", r"\1;"),
    Fault("os_acc_first_ignored", "PE(0,0) accumulates onto the previous fold's partial sum instead of starting at 0",
          "os", "qconv_top.array.pe_0_0", rf"(assign {_ID}= )acc_first \? \d+'h0+ : ({_ID});", r"\1\2;"),
    Fault("os_acc_drops_product", "the last PE's accumulator drops its product term (acc = acc)",
          "os", "qconv_top.array.pe_1_2", r"(assign \S+ = \$signed\(\S+ \)) \+ \$signed\(product\);", r"\1;"),
    Fault("pad_low_bound_off_by_one", "the 'inside the input' test rejects row/column 0 (> 0 instead of >= 0)",
          "os", "qconv_top.controller", r"\) >= \$signed\(1'h0\);", ") > $signed(1'h0);", count=8),
    Fault("host_read_lane_ignored", "a host read of the psum buffer always returns lane 0",
          "os", "qconv_top", rf"assign lane_psum = psum_rdata >> {_ID};", "assign lane_psum = psum_rdata;"),
    Fault("cycles_miss_pipeline_tail", "the cycle counter stops when the controller stops issuing, not when done rises",
          "os", "qconv_top", r"assign inc_cycles = busy \| was_busy;", "assign inc_cycles = busy;"),
    Fault("rf_psum_reads_not_counted", "the register-file psum-read counter never increments",
          "os", "qconv_top.counters", r"(assign \S+ = count_rf_psum_reads) \+ inc_rf_psum_reads;", r"\1;"),
    Fault("binary_popcount_drops_channel", "PE(0,0)'s popcount drops the agreement bit of the last channel of a word",
          "binary", "qconv_top.array.pe_0_0", rf"(assign {_ID}= )({_ID})\+ {_ID}\[4\];", r"\1\2;"),
    Fault("binary_last_mask_ignored", "the channel mask of a pixel's last, partial word is ignored (all channels count)",
          "binary", "qconv_top.controller", r"\? <<DESC.last_mask>> : (\d+'h[0-9a-f]+);", r"? \1 : \1;", count=12),
)


def _desc_slices(config: AcceleratorConfig) -> dict[str, str]:
    """``DESC.X`` -> ``d[hi:lo]`` for each descriptor field of the design built for ``config``."""
    slices, offset = {}, 0
    for name, width in desc_fields(config):
        slices[f"DESC.{name}"] = f"d[{offset + width - 1}:{offset}]"
        offset += width
    return slices


def _expand(text: str, escape: bool, config: AcceleratorConfig) -> str:
    slices = _desc_slices(config)

    def one(found: re.Match) -> str:
        key = found.group(1)
        if key not in slices:
            raise FaultNotApplied(f"unknown placeholder <<{key}>>")
        return re.escape(slices[key]) if escape else slices[key]

    return re.sub(r"<<([\w.]+)>>", one, text)


def normalise(verilog: str) -> str:
    """The Verilog without Yosys ``(* ... *)`` attributes and with runs of spaces inside a line made one.

    Attributes carry source locations and synthesis hints only, and Yosys
    writes no strings, so neither change affects simulation; both make the
    fault patterns short and stable.
    """
    text = re.sub(r"\(\*[^*]*\*\) ?", "", verilog)
    return re.sub(r"(?<=\S)  +", " ", text)


def apply_fault(fault: Fault, verilog: str) -> str:
    """The Verilog, normalised (:func:`normalise`), with ``fault`` applied.

    Raises
    ------
    FaultNotApplied
        If the module is missing or the pattern does not match exactly ``fault.count`` times in it.
    """
    text = normalise(verilog)
    module = re.search(rf"^module \\?{re.escape(fault.module)}\s*\(.*?^endmodule$", text, re.M | re.S)
    if module is None:
        raise FaultNotApplied(f"fault {fault.name}: module {fault.module!r} is not in the Verilog")
    config = FAULT_CONFIGS[fault.target]
    pattern, replacement = _expand(fault.pattern, True, config), _expand(fault.replacement, False, config)
    body, matches = re.subn(pattern, replacement, module.group(0))
    if matches != fault.count:
        raise FaultNotApplied(
            f"fault {fault.name}: pattern {pattern!r} matched {matches} time(s) in module {fault.module}, "
            f"expected {fault.count}: the generated RTL changed, update the fault"
        )
    return text[:module.start()] + body + text[module.end():]


def checks_fired(results: list[dict]) -> list[str]:
    """Every check that failed in ``results`` (testbench records), in a fixed order.

    ``outputs``, ``cycles``, ``counter:<name>``, ``timeout``, ``x_values``
    (the testbench read an X or Z from the DUT: a four-state simulator's
    way of showing an uninitialised or undriven value) or ``error``.
    """
    fired: list[str] = []
    for r in results:
        error = r.get("error")
        names = []
        if error:
            names.append("timeout" if "did not raise done" in error else
                         "x_values" if "non-0/1 values" in error else "error")
        if not error and not r["outputs_match"]:
            names.append("outputs")
        for counter in r.get("counter_mismatches") or []:
            names.append("cycles" if counter == "cycles" else f"counter:{counter}")
        fired += [n for n in names if n not in fired]
    order = {"outputs": 0, "cycles": 1, "timeout": 3, "x_values": 4, "error": 5}
    return sorted(fired, key=lambda n: (order.get(n, 2), n))


#: Integer each edited module reads from the ``+qconv_fault=<k>`` plusarg: 0 runs the design as generated.
FAULT_SELECT = "qconv_fault"


def _mux_line(original: str, mutated: str, index: int) -> str:
    """One line that behaves as ``mutated`` when fault ``index`` is selected and as ``original`` otherwise."""
    for form in (r"^(\s*assign \S+ = )(.*);$", r"^(\s*if \()(.*)(\) begin)$"):
        o, m = re.match(form, original), re.match(form, mutated)
        if o and m and o.group(1) == m.group(1):
            tail = o.group(3) if o.re.groups == 3 else ";"
            return f"{o.group(1)}({FAULT_SELECT} == {index}) ? ({m.group(2)}) : ({o.group(2)}){tail}"
    raise FaultNotApplied(f"fault {index}: cannot multiplex the edited line {original.strip()!r}")


def multiplex(faults: tuple[Fault, ...], verilog: str) -> str:
    """The normalised Verilog with every fault present and fault ``k`` (1-based) active when ``+qconv_fault=k``.

    Each edited line becomes ``(qconv_fault == k) ? (mutated) : (original)``
    (an ``assign`` right-hand side or an ``if`` condition), and every edited
    module declares ``qconv_fault`` from the plusarg (default 0). So one build
    holds all faults of a target, and a run selects exactly one of them (or
    none, the baseline). Each fault is first applied alone with
    :func:`apply_fault`, so its placement checks still hold.

    Raises
    ------
    FaultNotApplied
        If a fault does not apply where intended, or edits a line of another form.
    """
    golden = normalise(verilog)
    lines = golden.splitlines()
    combined = list(lines)
    modules: set[str] = set()
    for index, fault in enumerate(faults, start=1):
        mutated = apply_fault(fault, golden).splitlines()
        if len(mutated) != len(lines):
            raise FaultNotApplied(f"fault {fault.name}: the edit changed the number of lines")
        for i, (o, m) in enumerate(zip(lines, mutated)):
            if o != m:
                combined[i] = _mux_line(combined[i], m, index)
        modules.add(fault.module)
    text = "\n".join(combined) + "\n"
    declaration = (
        f"  integer {FAULT_SELECT};\n"
        f"  initial if (!$value$plusargs(\"{FAULT_SELECT}=%d\", {FAULT_SELECT})) {FAULT_SELECT} = 0;\n"
    )
    for module in modules:
        header = re.search(rf"^module \\?{re.escape(module)}\s*\(.*?\);\n", text, re.M | re.S)
        text = text[:header.end()] + declaration + text[header.end():]
    return text


def _build(config: AcceleratorConfig, verilog_text: str, directory: Path, simulator: str) -> Build:
    """Build ``verilog_text`` (a multiplexed ``qconv_top.v``) for ``simulator`` in ``directory``."""
    rtl = directory / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    verilog, config_json = rtl / "qconv_top.v", rtl / "qconv_top.json"
    verilog.write_text(verilog_text)
    config_json.write_text(config.to_json())
    return compile_verilog(config, simulator, directory, verilog, config_json, cxx_opt="-O0")


def _golden_verilog(target: str, root: Path) -> str:
    config = FAULT_CONFIGS[target]
    verilog, _ = generate(config, root / "golden" / target)
    return verilog.read_text()


def build_target(target: str, faults: tuple[Fault, ...], simulator: str, root: Path = FAULTS_ROOT) -> Build:
    """Generate, multiplex and build the faults of ``target`` (``faults``, in selection order 1, 2, ...)."""
    text = multiplex(faults, _golden_verilog(target, root))
    return _build(FAULT_CONFIGS[target], text, (root / simulator / target).resolve(), simulator)


def run_fault(built: Build, target: str, index: int, fault: Fault | None) -> dict:
    """Co-simulate the jobs of ``target`` with fault ``index`` selected (0 and ``None``: the baseline)."""
    start = time.monotonic()
    results = run(built, FAULT_JOBS[target], plusargs=(f"+{FAULT_SELECT}={index}",))
    failed = [r for r in results if not r["pass"]]
    return {
        "name": fault.name if fault else f"baseline_{target}",
        "description": fault.description if fault else "the design as generated",
        "target": target,
        "simulator": built.simulator,
        "caught": bool(failed),
        "caught_by": checks_fired(results),
        "jobs": len(results),
        "jobs_failed": len(failed),
        "first_failing_job": f"{failed[0]['layer']} seed={failed[0]['seed']}" if failed else None,
        "first_error": next((r["error"] for r in failed if r.get("error")), None),
        "seconds": round(time.monotonic() - start, 1),
    }


def run_faults(faults: tuple[Fault, ...] = FAULTS, workers: int = 2, simulator: str = "verilator",
               root: Path = FAULTS_ROOT) -> dict:
    """Build one multiplexed design per target, run its baseline and each of its faults; write ``<root>/summary.json``.

    Returns
    -------
    dict
        ``faults``, ``caught``, ``simulator``, ``baseline_pass``, ``seconds``,
        ``results`` (one record per fault, see :func:`run_fault`) and ``baselines``.

    Raises
    ------
    FaultNotApplied
        Before anything is built, if any fault does not apply where intended.
    """
    check_int("workers", workers, 1)
    start = time.monotonic()
    names = [f.name for f in faults]
    if len(set(names)) != len(names):
        raise ValueError(f"fault names must be distinct: {names}")
    targets = sorted({f.target for f in faults})
    by_target = {t: tuple(f for f in faults if f.target == t) for t in targets}
    for target in targets:
        multiplex(by_target[target], _golden_verilog(target, root))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        builds = dict(zip(targets, pool.map(build_target, targets, [by_target[t] for t in targets],
                                            [simulator] * len(targets), [root] * len(targets))))
        runs = [(t, 0, None) for t in targets] + [(t, i, f) for t in targets for i, f in enumerate(by_target[t], 1)]
        records = list(pool.map(run_fault, [builds[t] for t, _, _ in runs], *zip(*runs)))
    baselines, by_name = records[:len(targets)], {r["name"]: r for r in records[len(targets):]}
    results = [by_name[f.name] for f in faults]
    summary = {
        "faults": len(results),
        "caught": sum(r["caught"] for r in results),
        "simulator": simulator,
        "baseline_pass": not any(b["caught"] for b in baselines),
        "seconds": round(time.monotonic() - start, 1),
        "results": results,
        "baselines": baselines,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def format_summary(summary: dict) -> str:
    """The table ``qconv faults`` prints: one line per fault, caught or not and by which checks."""
    lines = []
    for b in summary["baselines"]:
        verdict = "passes every job" if not b["caught"] else f"FAILS ({', '.join(b['caught_by'])}): fault results are void"
        lines.append(f"baseline {b['target']:<7} {verdict}")
    lines.append(f"{'fault':<32}{'target':<8}{'caught':<8}checks that fired")
    for r in summary["results"]:
        lines.append(f"{r['name']:<32}{r['target']:<8}{'yes' if r['caught'] else 'NO':<8}{', '.join(r['caught_by']) or '-'}")
    lines.append(f"caught {summary['caught']} of {summary['faults']} faults in {summary['seconds']} s")
    return "\n".join(lines)
