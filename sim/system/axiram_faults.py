"""``python -m sim.system.axiram_faults [--simulator S]``: the System's faults against the AxiRam co-simulation.

``make faults`` judges the System target's faults (:data:`sim.fault_catalogue.FAULTS` of
:data:`~sim.fault_catalogue.SYSTEM_TARGETS`) on the Verilog DRAM, whose timing the model predicts
exactly. This runs the same multiplexed build against cocotbext-axi's ``AxiRam`` instead, with the
cases of :data:`sim.system.axiram_run.CASES` of the target's configuration, judged by
:func:`sim.system.axiram_run.check_case` (exact bytes and counters, timing only bounded from below):
it shows which faults an independent memory with pauses catches on its own. One line per fault
(the baseline first), exit status 1 if the baseline fails or a fault survives.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model.dram import DramConfig
from sim.axi.copy_run import write_design
from sim.dram.run import ScenarioFailed, build
from sim.fault_catalogue import FAULT_CONFIGS, FAULTS, SYSTEM_TARGETS
from sim.faults import FAULT_SELECT, golden_verilog, multiplex
from sim.simulators import SIMULATORS
from sim.system.axiram_run import (
    CASES, WRAPPER_TOP, AxiRamMismatch, case_config, check_case, prepare_case, run_jobs, wrapper_verilog,
)

__all__ = ["ROOT", "run", "main"]

#: Where the multiplexed build goes (git-ignored).
ROOT = Path("build") / "axiram-faults"


def run(simulator: str, target: str = "system") -> list[tuple[str, list[str]]]:
    """Build ``target``'s faults multiplexed, run the AxiRam cases with each selected (0: the baseline).

    Returns ``(name, failures)`` per run, the baseline first; a fault is caught when its failures are not empty.
    """
    faults = tuple(f for f in FAULTS if f.target == target)
    config = FAULT_CONFIGS[target]
    root = ROOT.resolve()
    text = multiplex(faults, golden_verilog(target, root))
    system_v = write_design(root / "src" / target / "qconv_system.v", text)
    wrapper_v = write_design(root / "src" / target / f"{WRAPPER_TOP}.v", wrapper_verilog(text))
    built = build(simulator, DramConfig(), config.axi_beat_bytes, root=root, top=WRAPPER_TOP,
                  sources=(system_v, wrapper_v), parameters={}, cxx_opt="-O0")
    prepared = [prepare_case(c) for c in CASES if case_config(c.bits, c.single) == config]
    if not prepared:
        raise ValueError(f"no AxiRam case has the {target} target's configuration")
    outcome = []
    for index in range(len(faults) + 1):
        try:
            got = {r.name: r for r in run_jobs(built, [p.job for p in prepared], (f"+{FAULT_SELECT}={index}",))}
        except ScenarioFailed as err:
            outcome.append((faults[index - 1].name if index else "baseline", [f"the simulation failed: {err}"]))
            continue
        failures = []
        for p in prepared:
            try:
                check_case(p, got.get(p.case.name))
            except AxiRamMismatch as err:
                failures.append(str(err))
        outcome.append((faults[index - 1].name if index else "baseline", failures))
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Run and print (module notes)."""
    parser = argparse.ArgumentParser(prog="python -m sim.system.axiram_faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulator", choices=SIMULATORS, default="verilator")
    parser.add_argument("--target", choices=sorted(SYSTEM_TARGETS), default="system")
    args = parser.parse_args(argv)
    start = time.monotonic()
    outcome = run(args.simulator, args.target)
    cases = sum(1 for c in CASES if case_config(c.bits, c.single) == FAULT_CONFIGS[args.target])
    ok = not outcome[0][1]
    for name, failures in outcome:
        caught = bool(failures)
        verdict = ("passes" if not caught else f"FAILS: {failures[0]}") if name == "baseline" else \
            (f"caught by {len(failures)} of {cases} cases; first: {failures[0]}" if caught else "NOT caught")
        print(f"{name:<32} {verdict}")
        ok &= name == "baseline" or caught
    print(f"{sum(bool(f) for n, f in outcome[1:])} of {len(outcome) - 1} faults caught on {args.simulator} "
          f"in {time.monotonic() - start:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
