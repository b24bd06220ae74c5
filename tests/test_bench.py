"""Benchmark plumbing on tiny inputs: each section's figures and the summary files (not the speeds)."""

import json

import numpy as np

from model.config import AcceleratorConfig
from model.conv import conv2d_int
from model.data import random_operands
from model.layer import NAMED_LAYERS, ConvLayer
from model.tiling import plan
from sim.bench import bench_golden, bench_quality, conv2d_blas, run_bench, scale_to_fit, summary_markdown

TINY = AcceleratorConfig.preset("tiny")


def test_blas_baseline_equals_the_golden_model():
    layer = ConvLayer(C=3, H=7, W=6, M=4, R=3, S=2, stride=2, pad=1)
    x, w = random_operands(layer, 8, np.random.default_rng(3))
    ref = conv2d_blas(x, w, layer.stride, layer.pad)
    assert ref.dtype == np.float64 and ref.shape == layer.output_shape
    assert np.array_equal(ref.astype(np.int64), conv2d_int(x, w, layer.stride, layer.pad))


def test_golden_section_reports_ratios():
    small = ConvLayer(C=2, H=4, W=4, M=2, R=3, S=3)
    r = bench_golden(small, small, repeat=1)
    assert r["vs_loops"]["speedup"] == r["vs_loops"]["conv2d_loops_s"] / r["vs_loops"]["conv2d_int_s"]
    assert r["vs_blas"]["macs"] == small.macs and r["vs_blas"]["speedup"] > 0


def test_scale_to_fit_keeps_fitting_layers_and_shrinks_others():
    configs = [TINY.replace(dataflow=d) for d in ("os", "ws")]
    small = ConvLayer(C=2, H=6, W=6, M=4, R=3, S=3)
    assert scale_to_fit(configs, small) is small
    big = scale_to_fit(configs, NAMED_LAYERS["resnet18_conv4"])  # C*R*S = 2304 > max_reduction 128
    assert big.R == 3 and big.C * 9 <= TINY.max_reduction
    for c in configs:
        plan(c, big)


def test_quality_section_compares_with_the_ideal_bound():
    q = bench_quality(TINY, ("lenet5_conv2",), spot_check=())
    row = q["lenet5_conv2"]
    assert row["ideal_cycles"] == -(-row["macs"] // TINY.pes)
    for df in ("os", "ws"):
        assert row[df]["cycles"] >= row["ideal_cycles"] and 0 < row[df]["utilization"] <= 1
        assert row[df]["vs_ideal"] == row[df]["cycles"] / row["ideal_cycles"]


def test_quick_run_writes_summary(tmp_path):
    summary = run_bench(tmp_path, quick=True, progress=lambda line: None)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert set(data["sim_cycles_per_s"]) == {"amaranth"} and data["sim_cycles_per_s"]["amaranth"] > 0
    assert data["golden_speedup_vs_loops"] > 0
    assert set(data["utilization"]["lenet5_conv1"]) == {"os", "ws"}
    assert data["reuse_accesses_per_s"] > 0 and data["reuse"]["speedup"] > 0
    assert set(data["energy"]["bits"]) == {"8", "4", "1"} and data["energy"]["bits"]["8"]["relative_to_8bit"] == 1
    md = (tmp_path / "summary.md").read_text()
    assert md == summary_markdown(summary) and "RTL simulation speed" in md
