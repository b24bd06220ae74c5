"""Fault injection: single faults edited into the generated Verilog, each of which the co-simulation must catch.

A fault is a targeted, documented edit of the text of ``qconv_top.v`` as
Amaranth generates it (so the RTL authors' code needs no hook): an adder that
drops a term, a comparison bound moved by one, a register-file write enable
stuck at 0, swapped operands, a counter that misses events, a loop bound that
skips the last filter group, a controller that never finishes, and so on.
A target of :data:`~sim.fault_catalogue.SYSTEM_TARGETS` is the command-driven
System's ``qconv_system.v`` instead: its faults sit in the DMA engines, burst
walkers, loaders and counters, and its jobs run from the Verilog DRAM
(:mod:`sim.system.fault_run`), judged against the golden conv, the output rows'
padding and every counter of :func:`model.system_perf.predict_system`.

The faults, their target designs and job lists are data, in
:mod:`sim.fault_catalogue`; this module applies, builds and runs them. If a
fault's pattern does not match exactly as often as it says, :func:`apply_fault`
raises :class:`FaultNotApplied`: a refactor of the RTL makes the fault list fail
loudly instead of silently testing an unmodified design.

Faults are applied one at a time, but built together: :func:`multiplex`
puts every fault of a target configuration into one Verilog file, each edit
guarded by ``qconv_fault == k``, and each run selects one fault with the
plusarg ``+qconv_fault=k``. A Verilator build takes a minute or two on a
busy machine while a run of the job list takes seconds, so this needs one
build per target (four) instead of one per fault. The run with ``k = 0`` (the baseline) must
pass every job: it shows both that the job list passes on the design as
generated and that the multiplexing itself changed nothing.

Each run co-simulates the job list of its target (:data:`FAULT_JOBS`). A
fault is *caught* when any job fails; the checks that fired are reported:
``outputs`` (an output differs from the golden model), ``cycles``, a counter
name (``counter:<name>``), ``timeout`` (``done`` never rose: the bounded
wait), ``x_values`` (the DUT drove X or Z where the testbench reads a value;
four-state simulators only) or ``crash`` (the simulation stopped otherwise),
from the :class:`sim.executor.ErrorKind` each run reports.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from hw.verilog import generate, generate_system
from model.commands import word_bytes
from model.config import AcceleratorConfig
from model.contract import SYSTEM_TOP_NAME, TOP_NAME, desc_fields
from sim.executor import ErrorKind
from sim.fanout import FanOut, fan_out
from sim.fault_catalogue import FAULT_CONFIGS, FAULT_JOBS, FAULTS, SYSTEM_TARGETS, Fault
from sim.runner import Build, compile_verilog, run
from sim.system.fault_run import SystemBuild, build_system, run_system_jobs

__all__ = [
    "FaultNotApplied", "FAULTS_ROOT", "FAULT_SELECT", "normalise", "apply_fault", "multiplex", "checks_fired",
    "golden_verilog", "build_target", "run_fault", "run_faults", "format_summary",
]

#: Where mutant builds and the summary go (git-ignored).
FAULTS_ROOT = Path("build") / "faults"

class FaultNotApplied(RuntimeError):
    """A fault's pattern did not match where intended: the RTL changed and the fault list must follow."""


def _expand(text: str, escape: bool, config: AcceleratorConfig) -> str:
    """``text`` with every ``<<SIGNAL.FIELD>>`` replaced by ``SIGNAL[hi:lo]``, that field's slice
    (``SIGNAL[bit]`` for a one-bit field, as Yosys writes it)."""
    slices, offset = {}, 0
    for name, width in desc_fields(config):
        slices[name] = f"[{offset}]" if width == 1 else f"[{offset + width - 1}:{offset}]"
        offset += width

    def one(found: re.Match) -> str:
        signal, field = found.groups()
        if field not in slices:
            raise FaultNotApplied(f"unknown descriptor field in placeholder <<{signal}.{field}>>")
        return re.escape(signal + slices[field]) if escape else signal + slices[field]

    return re.sub(r"<<([\w$]+)\.(\w+)>>", one, text)


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
    """Every check that failed in ``results`` (:func:`sim.jobs.score` records), in a fixed order.

    ``outputs``, ``cycles``, ``counter:<name>``, then the run's
    :class:`~sim.executor.ErrorKind`: ``timeout``, ``x_values`` (the testbench
    read an X or Z from the DUT: a four-state simulator's way of showing an
    uninitialised or undriven value) or ``crash``.
    """
    fired: list[str] = []
    for r in results:
        kind = r.get("error_kind")
        names = [ErrorKind(kind).value] if kind else []
        if not kind and not r["outputs_match"]:
            names.append("outputs")
        for counter in r.get("counter_mismatches") or []:
            names.append("cycles" if counter == "cycles" else f"counter:{counter}")
        fired += [n for n in names if n not in fired]
    order = {"outputs": 0, "cycles": 1, **{kind.value: 3 + i for i, kind in enumerate(ErrorKind)}}
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
    verilog, config_json = rtl / f"{TOP_NAME}.v", rtl / f"{TOP_NAME}.json"
    verilog.write_text(verilog_text)
    config_json.write_text(config.to_json())
    return compile_verilog(config, simulator, directory, verilog, config_json, cxx_opt="-O0")


def golden_verilog(target: str, root: Path) -> str:
    """The Verilog of ``target`` as generated (written under ``root``): ``qconv_top.v``, or ``qconv_system.v``
    for a target of :data:`~sim.fault_catalogue.SYSTEM_TARGETS`."""
    config = FAULT_CONFIGS[target]
    if target in SYSTEM_TARGETS:
        return generate_system(config, word_bytes(config), root / "golden" / target).read_text()
    verilog, _ = generate(config, root / "golden" / target)
    return verilog.read_text()


def build_target(target: str, faults: tuple[Fault, ...], simulator: str,
                 root: Path = FAULTS_ROOT) -> Build | SystemBuild:
    """Generate, multiplex and build the faults of ``target`` (``faults``, in selection order 1, 2, ...).

    A target of :data:`~sim.fault_catalogue.SYSTEM_TARGETS` is built inside the Verilog DRAM
    (:func:`sim.system.fault_run.build_system`)."""
    text = multiplex(faults, golden_verilog(target, root))
    directory = (root / simulator / target).resolve()
    if target in SYSTEM_TARGETS:
        rtl = directory / "rtl"
        rtl.mkdir(parents=True, exist_ok=True)
        verilog = rtl / f"{SYSTEM_TOP_NAME}.v"
        verilog.write_text(text)
        return build_system(FAULT_CONFIGS[target], simulator, verilog)
    return _build(FAULT_CONFIGS[target], text, directory, simulator)


def run_fault(built: Build | SystemBuild, target: str, index: int, fault: Fault | None) -> dict:
    """Co-simulate the jobs of ``target`` with fault ``index`` selected (0 and ``None``: the baseline)."""
    start = time.monotonic()
    plusargs = (f"+{FAULT_SELECT}={index}",)
    jobs = FAULT_JOBS[target]
    results = (run_system_jobs(built, jobs, plusargs=plusargs) if target in SYSTEM_TARGETS
               else run(built, jobs, plusargs=plusargs))
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


def _build_item(item: tuple) -> Build:
    """:func:`build_target` of one fan-out item ``(target, faults, simulator, root)``."""
    return build_target(*item)


def _run_item(item: tuple) -> dict:
    """:func:`run_fault` of one fan-out item ``(built, target, index, fault, faults, root)``.

    A worker on a machine that does not share the build folder with the one that built ``built``
    builds the target itself first (once: then it is in its own build cache)."""
    built, target, index, fault, faults, root = item
    if not built.objects.exists():
        built = build_target(target, faults, built.simulator, root)
    return run_fault(built, target, index, fault)


def _not_run(target: str, simulator: str, fault: Fault | None, error: str) -> dict:
    """The record of a run that never finished (its build failed, or its worker died twice): not caught."""
    return {
        "name": fault.name if fault else f"baseline_{target}",
        "description": fault.description if fault else "the design as generated",
        "target": target, "simulator": simulator, "caught": False, "caught_by": [], "jobs": len(FAULT_JOBS[target]),
        "jobs_failed": None, "first_failing_job": None, "first_error": None, "error": error, "seconds": None,
    }


def run_faults(faults: tuple[Fault, ...] = FAULTS, how: FanOut = FanOut(), simulator: str = "verilator",
               root: Path = FAULTS_ROOT) -> dict:
    """Build one multiplexed design per target, run its baseline and each of its faults; write ``<root>/summary.json``.

    The builds, then the runs, are fanned out as ``how`` says (:mod:`sim.fanout`). A build that
    fails, or a build or run whose worker died twice, leaves the runs it concerns not caught, with
    the reason in ``error``: a fault is never counted as caught without a run that caught it.

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
    start = time.monotonic()
    names = [f.name for f in faults]
    if len(set(names)) != len(names):
        raise ValueError(f"fault names must be distinct: {names}")
    targets = sorted({f.target for f in faults})
    by_target = {t: tuple(f for f in faults if f.target == t) for t in targets}
    for target in targets:
        multiplex(by_target[target], golden_verilog(target, root))
    built = fan_out(_build_item, [(t, by_target[t], simulator, root) for t in targets], how,
                    what=f"fault builds ({simulator})", label=lambda item: item[0])
    builds = dict(zip(targets, built))
    runs = [(t, 0, None) for t in targets] + [(t, i, f) for t in targets for i, f in enumerate(by_target[t], 1)]
    ready = [(builds[t].value, t, i, f, by_target[t], root) for t, i, f in runs if builds[t].ok]
    ran = iter(fan_out(_run_item, ready, how, what=f"fault runs ({simulator})",
                       label=lambda item: item[3].name if item[3] else f"baseline_{item[1]}"))
    records = []
    for t, i, f in runs:
        if not builds[t].ok:
            records.append(_not_run(t, simulator, f, f"the build failed: {builds[t].error}"))
            continue
        outcome = next(ran)
        records.append(outcome.value if outcome.ok else _not_run(t, simulator, f, outcome.error))
    baselines, by_name = records[:len(targets)], {r["name"]: r for r in records[len(targets):]}
    results = [by_name[f.name] for f in faults]
    summary = {
        "faults": len(results),
        "caught": sum(r["caught"] for r in results),
        "simulator": simulator,
        "baseline_pass": all(b.get("error") is None and not b["caught"] for b in baselines),
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
        if b.get("error"):
            verdict = f"DID NOT RUN ({b['error']}): fault results are void"
        elif b["caught"]:
            verdict = f"FAILS ({', '.join(b['caught_by'])}): fault results are void"
        else:
            verdict = "passes every job"
        lines.append(f"baseline {b['target']:<9} {verdict}")
    lines.append(f"{'fault':<32}{'target':<11}{'caught':<8}checks that fired")
    for r in summary["results"]:
        fired = f"did not run: {r['error']}" if r.get("error") else ", ".join(r["caught_by"]) or "-"
        lines.append(f"{r['name']:<32}{r['target']:<11}{'yes' if r['caught'] else 'NO':<8}{fired}")
    lines.append(f"caught {summary['caught']} of {summary['faults']} faults in {summary['seconds']} s")
    return "\n".join(lines)
