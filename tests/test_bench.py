"""Benchmark plumbing on tiny inputs: the baselines are right and the summary holds every section."""

import json

import numpy as np

from model.benchmarks import bench_quality, conv2d_blas, scale_to_fit
from model.config import AcceleratorConfig
from model.conv import conv2d_loops
from model.data import random_operands
from model.layer import NAMED_LAYERS, ConvLayer, parse_layer
from model.tiling import plan
from sim.bench import run_bench

TINY = AcceleratorConfig.preset("tiny")


def test_blas_baseline_equals_the_loop_nest():
    layer = ConvLayer(C=3, H=7, W=6, M=4, R=3, S=2, stride=2, pad=1)
    x, w = random_operands(layer, 8, np.random.default_rng(3))
    ref = conv2d_blas(x, w, layer.stride, layer.pad)
    assert ref.dtype == np.float64 and ref.shape == layer.output_shape
    assert np.array_equal(ref.astype(np.int64), conv2d_loops(x, w, layer.stride, layer.pad))


def test_scale_to_fit_keeps_fitting_layers_and_shrinks_others():
    configs = [TINY.replace(dataflow=d) for d in ("os", "ws")]
    small = ConvLayer(C=2, H=6, W=6, M=4, R=3, S=3)
    assert scale_to_fit(configs, small) is small
    assert scale_to_fit(configs, NAMED_LAYERS["resnet18_conv4"]) is NAMED_LAYERS["resnet18_conv4"]  # tiled
    big = scale_to_fit(configs, ConvLayer(C=1000, H=8, W=8, M=4, R=3, S=3))  # C*R*S = 9000 > max_reduction 8192
    assert big.R == 3 and big.C * 9 <= TINY.max_reduction
    whole = scale_to_fit(configs, NAMED_LAYERS["resnet18_conv4"], whole_images=True)  # 2304 > 128 weight lines
    assert whole.C * 9 <= TINY.weight_depth
    for c in configs:
        plan(c, big)
        assert plan(c, whole).whole_images


def test_quality_section_never_beats_the_ideal_bound():
    row = bench_quality(TINY, ("lenet5_conv2",))["lenet5_conv2"]
    layer = parse_layer(row["layer"])  # scaled to fit the tiny buffers
    ideal = -(-layer.M * layer.E * layer.F * layer.C * layer.R * layer.S // 4)  # 4 PEs, hand-derived
    assert row["ideal_cycles"] == ideal
    for df in ("os", "ws"):
        assert row[df]["cycles"] >= ideal and 0 < row[df]["utilization"] <= 1


def test_quick_run_writes_every_section(tmp_path):
    run_bench(tmp_path, quick=True, progress=lambda line: None)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert set(data["sim_cycles_per_s"]) == {"amaranth"} and data["sim_cycles_per_s"]["amaranth"] > 0
    assert data["sim_speed"]["pass_cycles"]["amaranth"] > 0
    assert data["golden_speedup_vs_loops"] > 0  # a ratio measured (its size is the benchmark's, not a test's)
    assert set(data["utilization"]["lenet5_conv1"]) == {"os", "ws"}
    assert data["reuse_accesses_per_s"] > 0 and data["reuse"]["speedup"] > 0
    assert set(data["energy"]["bits"]) == {"8", "4", "1"}
    assert data["energy"]["bits"]["1"]["total"] < data["energy"]["bits"]["8"]["total"]
    md = (tmp_path / "summary.md").read_text()
    for heading in ("Golden model", "Reuse distances", "RTL simulation speed", "Accelerator quality", "Energy"):
        assert heading in md


def test_passes_alone_take_the_cycles_the_model_gives_the_whole_layer():
    """The speed benchmark runs a layer's passes without transfers: the counters read after the last
    pass must still hold its final cycle (the one ``done`` rises in), so cycles equal the model's."""
    from model.perf import pass_cycles
    from sim.amaranth_port import simulate
    from sim.jobs import random_job

    config = TINY
    layer = ConvLayer(C=2, H=5, W=5, M=4, R=3, S=3)
    job = random_job(config, layer, 1, transfers=False)
    (run,) = simulate(config, [job.program])
    by_formula = sum(pass_cycles(config, p.tile) for p in plan(config, layer).passes)
    assert run.error is None
    assert run.counters["cycles"] == by_formula
