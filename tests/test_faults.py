"""Fault injection: every fault edits the Verilog exactly where intended, and representative faults are caught.

The full list runs in ``make faults``; here every fault is only applied to the
text (no simulation), and three faults of the weight-stationary target, one
per kind of check, are built together and simulated on Icarus with the baseline.
"""

import pytest

from model.tiling import plan
from sim.fault_catalogue import FAULT_CONFIGS, FAULT_JOBS, FAULTS, SYSTEM_TARGETS, Fault
from sim.fanout import Engine, FanOut
from sim.faults import (
    FAULT_SELECT, FaultNotApplied, apply_fault, build_target, checks_fired, format_summary, golden_verilog, multiplex,
    normalise, run_fault, run_faults,
)


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """Normalised Verilog of each fault target."""
    root = tmp_path_factory.mktemp("golden")
    return {target: normalise(golden_verilog(target, root)) for target in FAULT_CONFIGS}


def test_at_least_two_depthwise_faults_in_the_systems_accelerator():
    """Issue 14: faults of the grouped path (the System's accelerator, where depthwise layers run)."""
    depthwise = [f for f in FAULTS if f.name.startswith("depthwise_")]
    assert len(depthwise) >= 2 and all(f.target in SYSTEM_TARGETS and f.module.startswith("qconv_system.acc.")
                                       for f in depthwise)


def test_at_least_five_memory_system_faults_on_the_system_target():
    system = [f for f in FAULTS if f.target in SYSTEM_TARGETS and not f.name.startswith("depthwise_")]
    assert len(system) >= 5
    # none edits the command processor's or the System's own logic: only the DMA engines (and their
    # burst walkers), the loaders and the packer, and the System's counters
    parts = ("qconv_system.proc.rdma", "qconv_system.proc.wdma", "qconv_system.proc.unpack", "qconv_system.proc.pack",
             "qconv_system.proc.rqload", "qconv_system.counters")
    assert all(any(f.module == p or f.module.startswith(p + ".") for p in parts) for f in system)


def test_at_least_15_distinct_faults_on_every_target():
    assert len(FAULTS) >= 15
    assert len({f.name for f in FAULTS}) == len(FAULTS)
    assert len({(f.module, f.pattern, f.replacement) for f in FAULTS}) == len(FAULTS)
    assert {f.target for f in FAULTS} == set(FAULT_CONFIGS)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_applies_exactly_where_intended(golden, fault):
    mutated = apply_fault(fault, golden[fault.target])
    changed = [(a, b) for a, b in zip(golden[fault.target].splitlines(), mutated.splitlines()) if a != b]
    assert len(changed) == fault.count  # one edited line per expected match, nothing else


def test_fault_that_no_longer_matches_fails_loudly(golden):
    gone = Fault("gone", "a pattern the RTL no longer has", "ws", "qconv_top.controller.issue", r"no_such_signal", "x")
    with pytest.raises(FaultNotApplied,
                       match=r"fault gone: pattern .* matched 0 time\(s\) in module qconv_top.controller.issue, expected 1"):
        apply_fault(gone, golden["ws"])
    too_many = Fault("wide", "matches more places than intended", "ws", "qconv_top.controller.issue", r"assign", "assign")
    with pytest.raises(FaultNotApplied, match=r"expected 1: the generated RTL changed"):
        apply_fault(too_many, golden["ws"])
    no_module = Fault("nomod", "a module that is not there", "ws", "qconv_top.nothing", r"x", "y")
    with pytest.raises(FaultNotApplied, match=r"module 'qconv_top.nothing' is not in the Verilog"):
        apply_fault(no_module, golden["ws"])


def test_job_lists_exercise_the_shapes_the_faults_need():
    for target, jobs in FAULT_JOBS.items():
        config = FAULT_CONFIGS[target]
        layers = [layer for layer, *_ in jobs]
        assert any(layer.pad for layer in layers) and any(layer.stride > 1 for layer in layers)
        assert any(layer.N > 1 for layer in layers) and any(layer.M % config.cols for layer in layers)
        assert any(len(plan(config, layer).passes) > 1 for layer in layers)
        # a pass with several filter groups (without one, skip_last_filter_group survived)
        assert any(p.m_count > config.cols for layer in layers for p in plan(config, layer).passes)
        if config.binary:
            assert any(layer.C % config.pack for layer in layers)


def test_checks_fired_names_every_check():
    records = [
        {"pass": False, "outputs_match": False, "counter_mismatches": ["glb_psum_reads", "cycles"], "error_kind": None},
        {"pass": False, "outputs_match": False, "error_kind": "timeout"},
        {"pass": True, "outputs_match": True, "counter_mismatches": [], "error_kind": None},
        {"pass": False, "outputs_match": False, "error_kind": "x_values"},
        {"pass": False, "outputs_match": False, "error_kind": "crash"},
    ]
    assert checks_fired(records) == ["outputs", "cycles", "counter:glb_psum_reads", "timeout", "x_values", "crash"]
    assert checks_fired(records[2:3]) == []


def test_multiplexed_design_guards_every_edit(golden):
    faults = tuple(f for f in FAULTS if f.target == "ws")
    text = multiplex(faults, golden["ws"])
    for index, fault in enumerate(faults, start=1):
        assert text.count(f"({FAULT_SELECT} == {index}) ?") == fault.count
    assert text.count(f"integer {FAULT_SELECT};") == len({f.module for f in faults})
    lines = golden["ws"].splitlines()
    edited = {i for f in faults for i, (a, b) in enumerate(zip(lines, apply_fault(f, golden["ws"]).splitlines())) if a != b}
    # every other line is unchanged and in place
    assert [line for line in text.splitlines() if FAULT_SELECT not in line] == [
        line for i, line in enumerate(lines) if i not in edited]


REPRESENTATIVE = ("pe_swapped_operand", "glb_ifmap_reads_miscounted", "done_never_rises")


@pytest.mark.cosim
def test_baseline_passes_and_representative_faults_are_caught(require_simulator, tmp_path):
    # Icarus: a build takes seconds (Verilator: minutes on a busy machine); `make faults` uses Verilator.
    # Fanned out on a real two-worker local Dask cluster, as `qconv faults --dask local` does.
    require_simulator("icarus")
    faults = tuple(f for f in FAULTS if f.name in REPRESENTATIVE)
    summary = run_faults(faults, FanOut(engine=Engine.DASK_LOCAL, workers=2), "icarus", tmp_path)
    assert summary["baseline_pass"] and [b["name"] for b in summary["baselines"]] == ["baseline_ws"]
    assert summary["caught"] == summary["faults"] == 3, format_summary(summary)
    results = {r["name"]: r for r in summary["results"]}
    assert "outputs" in results["pe_swapped_operand"]["caught_by"]
    # a miscounted buffer access leaves outputs and cycles right: only its counter catches it
    assert results["glb_ifmap_reads_miscounted"]["caught_by"] == ["counter:glb_ifmap_reads"]
    # a DUT that never signals done: the bounded wait gives up and reports how many cycles it waited
    stuck = results["done_never_rises"]
    assert stuck["caught_by"] == ["timeout"]
    assert "did not raise done within" in stuck["first_error"] and "cycles" in stuck["first_error"]


#: One System fault in CI (each run of the target is seven simulations); `make faults` runs all eight.
SYSTEM_REPRESENTATIVE = ("wdma_strobe_ignores_run_end",)


@pytest.mark.cosim
def test_system_baseline_passes_and_memory_system_faults_are_caught(require_simulator, tmp_path):
    # the System target on Icarus: its jobs run from the Verilog DRAM, judged on the golden conv, the
    # output rows' padding and every counter of model/system_perf.py
    require_simulator("icarus")
    faults = tuple(f for f in FAULTS if f.name in SYSTEM_REPRESENTATIVE)
    summary = run_faults(faults, FanOut(), "icarus", tmp_path)
    assert summary["baseline_pass"] and [b["name"] for b in summary["baselines"]] == ["baseline_system"]
    assert summary["caught"] == summary["faults"] == 1, format_summary(summary)
    # a strobe past the run's end keeps every counter right: only the untouched padding catches it
    assert summary["results"][0]["caught_by"] == ["outputs"]


@pytest.mark.cosim
def test_an_x_read_on_icarus_is_reported_as_x_values(require_simulator, tmp_path):
    """An unknown value on the read path reaches the testbench as X on Icarus (four-state) and is classified so."""
    require_simulator("icarus")
    faults = tuple(f for f in FAULTS if f.name == "psum_read_lane_unknown")
    built = build_target("ws", faults, "icarus", tmp_path)
    result = run_fault(built, "ws", 1, faults[0])
    assert result["caught_by"] == ["x_values"], result
    assert "X/Z bits" in result["first_error"]


@pytest.mark.cosim
def test_a_run_whose_build_is_on_another_machine_builds_it_here(require_simulator, tmp_path, monkeypatch):
    """A remote worker that does not share the build cache gets a Build naming folders it does not have."""
    import dataclasses

    from sim.build_cache import CACHE_ENV
    from sim.faults import _run_item

    require_simulator("icarus")
    faults = tuple(f for f in FAULTS if f.name == "pe_swapped_operand")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "other_machine"))
    elsewhere = build_target("ws", faults, "icarus", tmp_path / "builder")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "this_machine"))
    result = _run_item((elsewhere, "ws", 1, faults[0], faults, tmp_path / "here"))  # its folder is here: used
    assert result["caught"] and "outputs" in result["caught_by"]
    assert not (tmp_path / "this_machine").exists()
    moved = dataclasses.replace(elsewhere, objects=tmp_path / "gone" / "obj")  # its folder is not: built here
    assert not _run_item((moved, "ws", 0, None, faults, tmp_path / "here"))["caught"]
    assert _run_item((moved, "ws", 1, faults[0], faults, tmp_path / "here"))["caught"]
    assert len(list((tmp_path / "this_machine" / "icarus").glob("*/key.json"))) == 1  # once
