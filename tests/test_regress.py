"""Random regression: the draw is deterministic, covers every layer kind, fits every build; a small sample co-simulates.

The full regression is ``make regress N=200``; CI runs the fixed-seed sample
below (a few cases on two small configurations, one also on Icarus).
"""

import json
import shlex

import numpy as np
import pytest

from model.perf import predict
from sim.build_cache import CACHE_ENV
from sim.fanout import Engine, FanOut
from sim.cli import build_parser, config_from_args, layer_from_args
from sim.regress import (
    ICARUS_MAX_CYCLES, KINDS, MAX_CYCLES, MAX_HOST_WORDS, draw_cases, draw_configs, draw_layer, format_summary,
    layer_features, regress, reproduce_command,
)


def test_same_seed_same_cases_other_seed_other_cases():
    assert draw_cases(30, seed=5) == draw_cases(30, seed=5)
    assert draw_cases(30, seed=5) != draw_cases(30, seed=6)


def test_regression_of_200_spans_the_space_and_every_case_fits():
    cases = draw_cases(200, seed=1)
    verilator = [c for c in cases if c.simulator == "verilator"]
    assert len(verilator) == 200
    configs = {c.config for c in verilator}
    assert len(configs) == 20
    assert {c.dataflow for c in configs} == {"ws", "os"}
    assert {c.bits for c in configs} == set(range(1, 17))
    assert any(c.rows != c.cols for c in configs) and max(max(c.rows, c.cols) for c in configs) == 16
    assert any(c.ifmap_depth == 16 and c.weight_depth == 1 and c.psum_depth == 1 for c in configs)
    assert {c.rf_depth for c in configs} >= {2, 4}
    for case in cases:
        prediction = predict(case.config, case.layer)  # raises if the layer does not fit the build
        c = prediction.counters
        assert c["dram_ifmap_reads"] + c["dram_weight_reads"] + c["dram_psum_writes"] <= MAX_HOST_WORDS
        assert prediction.cycles <= MAX_CYCLES
    icarus = [c for c in cases if c.simulator == "icarus"]
    assert len(icarus) == 20 and all(predict(c.config, c.layer).cycles <= ICARUS_MAX_CYCLES for c in icarus)
    covered = {f for c in verilator for f in layer_features(c.config, c.layer)}
    assert covered >= {"1x1", "kernel_as_input", "stride", "pad", "C=1", "M=1", "N>1", "multi_pass",
                       "partial_filter_group", "partial_word"}
    assert {c.kind for c in verilator} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_smallest_build_gets_a_fitting_layer_of_every_kind(kind):
    # 1x1 array, 16-word ifmap buffer, 1-line weight and psum buffers: few layers fit; a kind that cannot
    # (several passes need M > cols with 1 psum line...) falls back to an unconstrained layer and says so.
    config = draw_configs(1, np.random.default_rng(0))[0]
    assert (config.rows, config.cols, config.ifmap_depth, config.weight_depth, config.psum_depth) == (1, 1, 16, 1, 1)
    layer, got = draw_layer(config, kind, np.random.default_rng(1), tries=50)
    predict(config, layer)
    assert got in (kind, "any")
    if got == kind and kind != "any":
        assert kind in layer_features(config, layer)


def test_unknown_kind_is_a_clear_error():
    config = draw_configs(1, np.random.default_rng(0))[0]
    with pytest.raises(ValueError, match="kind must be one of any, 1x1, .*, not 'dilated'"):
        draw_layer(config, "dilated", np.random.default_rng(1))


@pytest.mark.parametrize("index", [0, 7, 33])
def test_reproduce_command_rebuilds_the_same_case(index):
    case = draw_cases(40, seed=3)[index]
    words = shlex.split(reproduce_command(case))
    assert words[:2] == ["qconv", "sim"]
    args = build_parser().parse_args(words[1:])
    assert config_from_args(args) == case.config
    assert layer_from_args(args) == case.layer
    assert args.seed == case.seed and args.sim == case.simulator


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="n must be in >= 1, not 0"):
        draw_cases(0, seed=1)
    with pytest.raises(ValueError, match="seed must be in >= 0, not -1"):
        draw_cases(5, seed=-1)


@pytest.mark.cosim
def test_fixed_seed_sample_has_no_mismatch_and_the_same_summary_on_a_local_cluster(require_simulator, tmp_path,
                                                                                     monkeypatch):
    require_simulator("verilator")
    require_simulator("icarus")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    summary = regress(4, seed=2026, how=FanOut(workers=2), root=tmp_path / "pool", max_side=4)
    assert summary["runs"] == 5 and summary["configs"] == 2 and summary["icarus_runs"] == 1
    assert summary["mismatches"] == 0, format_summary(summary)
    written = json.loads((tmp_path / "pool" / "summary.json").read_text())
    assert {"runs", "mismatches", "seed"} <= set(written) and written["seed"] == 2026
    builds = sorted((tmp_path / "cache").glob("*/*/key.json"))
    assert len(builds) == 3  # two Verilator designs, one Icarus
    stamps = [p.stat().st_mtime_ns for p in builds]
    # the same draw on a real two-worker Dask cluster: the same summary, every design taken from the cache
    again = regress(4, seed=2026, how=FanOut(engine=Engine.DASK_LOCAL, workers=2), root=tmp_path / "dask", max_side=4)
    how_it_ran = ("engine", "workers", "seconds")
    assert {k: v for k, v in again.items() if k not in how_it_ran} == {k: v for k, v in summary.items() if k not in how_it_ran}
    assert format_summary(again).splitlines()[:-1] == format_summary(summary).splitlines()[:-1]
    assert again["engine"] == "dask-local" and format_summary(again).endswith(f"in {again['seconds']} s")
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "cache").glob("*/*/key.json"))] == stamps
