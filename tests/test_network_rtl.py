"""``qconv run --backend verilator|icarus``: whole quantized networks co-simulated on the RTL.

References: ONNX Runtime (every tensor, within the one step the model
backend's tolerance allows), the golden model backend (every tensor equal),
and :func:`model.perf.predict` (each node's RTL cycles). A corrupted RTL
result must fail the run naming the node and the layer; a layer too large for
the build must be refused before anything is built or simulated.

Builds are not shared between tests that pytest-xdist may run at once: each
Icarus test builds in its own folder (cheap), and the one Verilator test runs
both its networks on one build (in ``build/sim``, reused by later sessions).
"""

import json
from functools import partial

import numpy as np
import onnx
import pytest
from onnx import helper

import sim.network_backend as network_backend
import sim.runner as runner
from model.config import AcceleratorConfig
from model.network import import_model, prepare
from model.network.builders import digits_cnn
from model.network.report import compare
from model.perf import predict
from model.quant.network import init_parameters
from sim.cli import main
from sim.network_backend import Backend, run_network
from sim.network_models import dataset_images
from sim.onnx_reference import reference_tensors
from tests.onnx_graphs import float_model, init, quantize

pytestmark = pytest.mark.cosim

RNG = np.random.default_rng(5)
#: A small build of its own (one cold build per simulator), fast to compile and simulate.
CONFIG = AcceleratorConfig(rows=4, cols=4, ifmap_depth=1024, weight_depth=256, psum_depth=512)
CONFIG_ARGS = ["--rows", "4", "--cols", "4", "--ifmap-depth", "1024", "--weight-depth", "256", "--psum-depth", "512"]
#: The test build's C++ optimisation: compiles fastest (the simulations are short).
CXX_OPT = "-O0"
C, K, H = 3, 4, 5


def _residual_depthwise_model() -> onnx.ModelProto:
    """conv 3x3 + ReLU, depthwise 3x3 + ReLU, pointwise 1x1, residual Add + ReLU, global pool, Gemm; quantized."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "wd", "bd"], ["d"], name="dw", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              group=K),
             helper.make_node("Relu", ["d"], ["rd"], name="relu_dw"),
             helper.make_node("Conv", ["rd", "wp", "bp"], ["p"], name="pw", kernel_shape=[1, 1]),
             helper.make_node("Add", ["r1", "p"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["rs"], name="relu_add"),
             helper.make_node("GlobalAveragePool", ["rs"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = [init("w1", RNG.normal(0, 0.4, (K, C, 3, 3))), init("b1", RNG.normal(0, 0.1, K)),
             init("wd", RNG.normal(0, 0.4, (K, 1, 3, 3))), init("bd", RNG.normal(0, 0.1, K)),
             init("wp", RNG.normal(0, 0.4, (K, K, 1, 1))), init("bp", RNG.normal(0, 0.1, K)),
             init("fw", RNG.normal(0, 0.4, (5, K))), init("fb", RNG.normal(0, 0.1, 5))]
    return quantize(float_model(nodes, inits, ["N", C, H, H]), "qdq", RNG.uniform(0, 1, (8, C, H, H)))


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """The quantized network, its graph and plans on :data:`CONFIG`, an input, and both as files."""
    model = _residual_depthwise_model()
    folder = tmp_path_factory.mktemp("netrtl")
    onnx.save(model, folder / "net.onnx")
    x = RNG.uniform(0, 1, (1, C, H, H)).astype(np.float32)
    np.save(folder / "x.npy", x)
    graph = import_model(model)
    return {"model": model, "graph": graph, "plans": prepare(graph, CONFIG), "x": x, "folder": folder}


@pytest.fixture
def own_build_folder(monkeypatch, tmp_path):
    """Builds of this test go into its own folder (xdist may run another test of this build at the same time)."""
    monkeypatch.setattr(network_backend, "build", partial(runner.build, root=tmp_path / "sim"))


def _check_small_network(net, simulator: str) -> None:
    graph, x = net["graph"], net["x"]
    told = []
    rtl = run_network(graph, x, net["plans"], CONFIG, Backend(simulator), cxx_opt=CXX_OPT,
                      progress=lambda *stage: told.append(stage))
    assert rtl.passed, rtl.failures
    # progress: each node announced as its first layer starts, then each of its layers' ends, in order
    stages = {n: f"RTL node {k}/4 {n}" for k, n in enumerate(["conv1", "dw", "pw", "fc"], 1)}
    assert told == [(stages["conv1"], 0, 1), (stages["conv1"], 1, 1), (stages["dw"], 0, K),
                    *[(stages["dw"], i, K) for i in range(1, K + 1)], (stages["pw"], 0, 1), (stages["pw"], 1, 1),
                    (stages["fc"], 0, 1), (stages["fc"], 1, 1)]
    model = run_network(graph, x, net["plans"], CONFIG, Backend.MODEL)
    assert rtl.execution.tensors.keys() == model.execution.tensors.keys()
    for name, value in model.execution.tensors.items():
        assert np.array_equal(rtl.execution.tensors[name], value), name
    assert np.array_equal(rtl.execution.output, model.execution.output)
    ref = reference_tensors(net["model"], x, [n.output for n in graph.nodes])
    assert ref.consistent
    comparisons = compare(graph, rtl.execution, ref.tensors)
    assert comparisons.keys() == {n.output for n in graph.nodes}
    assert max(c.max_abs_diff_steps for c in comparisons.values()) <= 1
    # one program per ungrouped layer (the depthwise node: one per channel), all in one simulation
    dw = next(n for n in graph.nodes if n.name == "dw")
    assert rtl.checks[dw.output].layers == K and rtl.programs == 1 + K + 1 + 1
    for run in rtl.execution.runs:
        if run.layers:
            check = rtl.checks[run.node.output]
            assert check.rtl_cycles == check.model_cycles == sum(predict(CONFIG, la).cycles for la in run.layers)


def test_small_network_on_icarus_equals_the_model_and_onnxruntime(net, own_build_folder, require_simulator):
    require_simulator("icarus")
    _check_small_network(net, "icarus")


def test_small_network_and_digits_cnn_on_verilator(net, require_simulator):
    """The small network as on Icarus; then the digits CNN (untrained weights: the co-simulation checks arithmetic,
    not accuracy) on two held-out digits, every tensor equal to the model backend's."""
    require_simulator("verilator")
    _check_small_network(net, "verilator")
    params = init_parameters(np.random.default_rng(1))
    graph = import_model(quantize(digits_cnn(params), "qdq", RNG.uniform(0, 1, (16, 1, 8, 8))))
    x, labels = dataset_images(graph, 2, 0)
    assert labels is not None and x.shape == (2, 1, 8, 8)
    plans = prepare(graph, CONFIG)
    rtl = run_network(graph, x, plans, CONFIG, Backend.VERILATOR, cxx_opt=CXX_OPT)
    assert rtl.passed, rtl.failures
    model = run_network(graph, x, plans, CONFIG, Backend.MODEL)
    assert rtl.programs == 3
    assert np.array_equal(rtl.execution.output, model.execution.output)
    assert all(np.array_equal(rtl.execution.tensors[k], v) for k, v in model.execution.tensors.items())


def test_run_reports_rtl_cycles_and_the_verdict_per_node(net, tmp_path, own_build_folder, require_simulator, capsys):
    require_simulator("icarus")
    report = tmp_path / "r.json"
    status = main(["run", str(net["folder"] / "net.onnx"), "--input", str(net["folder"] / "x.npy"), "--backend",
                   "icarus", "--compare", "--json", str(report), "--output", str(tmp_path / "y.npy"), *CONFIG_ARGS])
    assert status == 0
    data = json.loads(report.read_text())
    assert data["backend"] == "icarus" and data["rtl"]["pass"] and data["totals"]["rtl_pass"]
    accelerator = [r for r in data["nodes"] if r["where"] == "accelerator"]
    assert [r["name"] for r in accelerator] == ["conv1", "dw", "pw", "fc"]
    for row in accelerator:
        assert row["rtl_pass"] and row["rtl_failures"] == []
        assert row["rtl_cycles"] == row["model_cycles"] == row["cycles"] > 0
    assert all(r["rtl_cycles"] is None for r in data["nodes"] if r["where"] == "host")
    assert data["totals"]["rtl_cycles"] == data["totals"]["cycles"]
    assert {"build", "simulation", "total"} <= set(data["rtl"]["seconds"])
    assert data["totals"]["max_abs_diff_steps"] <= 1 and (tmp_path / "y.npy").exists()
    assert "RTL cycles" in capsys.readouterr().out


def test_a_corrupt_rtl_result_fails_the_run_naming_the_node_and_layer(net, tmp_path, monkeypatch, own_build_folder,
                                                                     require_simulator, capsys):
    """A test double of the runner adds 1 to one word the third depthwise layer read back."""
    require_simulator("icarus")
    real = network_backend.run_programs

    def corrupting(built, programs, **kwargs):
        runs = real(built, programs, **kwargs)
        runs[1 + 2].values[5] += 1  # programs: conv1, then the depthwise node's four layers
        return runs

    monkeypatch.setattr(network_backend, "run_programs", corrupting)
    report, out = tmp_path / "r.json", tmp_path / "y.npy"
    status = main(["run", str(net["folder"] / "net.onnx"), "--input", str(net["folder"] / "x.npy"), "--backend",
                   "icarus", "--compare", "--json", str(report), "--output", str(out), *CONFIG_ARGS])
    assert status == 1
    text = capsys.readouterr().out
    assert "FAIL" in text and "node 'dw' (Conv), layer 3 of 4" in text and "RTL" in text
    data = json.loads(report.read_text())
    verdicts = {r["name"]: r["rtl_pass"] for r in data["nodes"] if r["where"] == "accelerator"}
    assert verdicts == {"conv1": True, "dw": False, "pw": True, "fc": True}
    assert not data["rtl"]["pass"] and len(data["rtl"]["failures"]) == 1
    assert not out.exists()  # no output from a failed run


def test_a_layer_that_does_not_fit_is_refused_before_anything_runs(net, monkeypatch, capsys):
    """With max reduction 16 conv1's C*R*S = 27 does not fit; dw (9), pw and fc (4) do."""
    def never(*args, **kwargs):
        raise AssertionError("built or simulated although a layer does not fit")

    monkeypatch.setattr(network_backend, "build", never)
    monkeypatch.setattr(network_backend, "run_programs", never)
    status = main(["run", str(net["folder"] / "net.onnx"), "--input", str(net["folder"] / "x.npy"), "--backend",
                   "verilator", "--rows", "4", "--cols", "4", "--max-reduction", "16"])
    assert status == 2
    err = capsys.readouterr().err
    assert "1 of 4 accelerator nodes do not fit" in err and "node 'conv1' (Conv), layer 1 of 1" in err
    assert "max_reduction" in err and "nothing was run" in err
