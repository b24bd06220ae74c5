"""Fault injection: every fault edits the Verilog exactly where intended, and representative faults are caught.

The full list runs in ``make faults``; here every fault is only applied to the
text (no simulation), and three faults, one per kind of check, are simulated.
"""

import pytest

from hw.verilog import generate
from sim.faults import (
    FAULT_CONFIGS, FAULT_JOBS, FAULTS, Fault, FaultNotApplied, apply_fault, checks_fired, normalise, run_fault,
)
from model.tiling import plan


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """Normalised Verilog of each fault target."""
    root = tmp_path_factory.mktemp("golden")
    return {target: normalise(generate(config, root / target)[0].read_text()) for target, config in FAULT_CONFIGS.items()}


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
    gone = Fault("gone", "a pattern the RTL no longer has", "ws", "qconv_top.controller", r"no_such_signal", "x")
    with pytest.raises(FaultNotApplied, match=r"fault gone: pattern .* matched 0 time\(s\) in module qconv_top.controller, expected 1"):
        apply_fault(gone, golden["ws"])
    too_many = Fault("wide", "matches more places than intended", "ws", "qconv_top.controller", r"assign", "assign")
    with pytest.raises(FaultNotApplied, match=r"expected 1: the generated RTL changed"):
        apply_fault(too_many, golden["ws"])
    no_module = Fault("nomod", "a module that is not there", "ws", "qconv_top.nothing", r"x", "y")
    with pytest.raises(FaultNotApplied, match=r"module 'qconv_top.nothing' is not in the Verilog"):
        apply_fault(no_module, golden["ws"])


def test_job_lists_exercise_the_shapes_the_faults_need():
    for target, jobs in FAULT_JOBS.items():
        config = FAULT_CONFIGS[target]
        layers = [layer for layer, _ in jobs]
        assert any(layer.pad for layer in layers) and any(layer.stride > 1 for layer in layers)
        assert any(layer.N > 1 for layer in layers) and any(layer.M % config.cols for layer in layers)
        assert any(len(plan(config, layer).passes) > 1 for layer in layers)
        assert any(layer.M > config.cols for layer in layers)
        if config.binary:
            assert any(layer.C % config.pack for layer in layers)


def test_checks_fired_names_every_check():
    records = [
        {"pass": False, "outputs_match": False, "counter_mismatches": ["glb_psum_reads", "cycles"], "error": None},
        {"pass": False, "outputs_match": False, "error": "the accelerator did not raise done within 99 cycles of start"},
        {"pass": True, "outputs_match": True, "counter_mismatches": [], "error": None},
    ]
    assert checks_fired(records) == ["outputs", "cycles", "counter:glb_psum_reads", "timeout"]
    assert checks_fired(records[2:]) == []


@pytest.mark.cosim
@pytest.mark.parametrize("name, check", [
    ("pe_swapped_operand", "outputs"),
    ("cycles_miss_pipeline_tail", "cycles"),
    ("done_never_rises", "timeout"),
])
def test_representative_fault_is_caught(require_simulator, tmp_path, name, check):
    require_simulator("icarus")
    fault = next(f for f in FAULTS if f.name == name)
    result = run_fault(fault, fault.target, "icarus", tmp_path)
    assert result["caught"] and check in result["caught_by"], result
    if check == "timeout":  # the bounded wait reports the cycle count it waited
        assert "did not raise done within" in result["first_error"] and "cycles" in result["first_error"]
    if check == "cycles":
        assert result["caught_by"] == ["cycles"]  # outputs and the other counters still match
