"""``qconv run``: exit statuses, the JSON report and plot, ``--output`` exactly as ONNX Runtime returns it."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sim.cli import main
from sim.onnx_reference import session
from tests.onnx_graphs import float_model, init, quantize

RNG = np.random.default_rng(11)
NODE_KEYS = {"name", "op", "where", "shape", "cycles", "stall_cycles", "dram_bytes", "energy", "max_abs_diff_steps",
             "exact_fraction"}
TOTAL_KEYS = {"cycles", "dram_bytes", "energy", "top1_match", "max_abs_diff_steps"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A quantized conv + ReLU + max-pool + Gemm classifier and an input batch, as files."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = [init("w", RNG.normal(0, 0.4, (4, 2, 3, 3))), init("b", RNG.normal(0, 0.1, 4)),
             init("fw", RNG.normal(0, 0.2, (5, 4 * 3 * 3))), init("fb", RNG.normal(0, 0.1, 5))]
    model = quantize(float_model(nodes, inits, ["N", 2, 6, 6]), "qdq", RNG.uniform(0, 1, (8, 2, 6, 6)))
    folder = tmp_path_factory.mktemp("small")
    onnx.save(model, folder / "small.onnx")
    np.save(folder / "x.npy", RNG.uniform(0, 1, (3, 2, 6, 6)).astype(np.float32))
    return folder


def test_run_compare_writes_the_report_plot_and_output(small, capsys):
    report, out = small / "report.json", small / "y.npy"
    status = main(["run", str(small / "small.onnx"), "--input", str(small / "x.npy"), "--compare", "--json", str(report),
                   "--output", str(out), "--requant", "onnxruntime"])
    assert status == 0
    data = json.loads(report.read_text())
    assert [n["op"] for n in data["nodes"]] == ["QuantizeLinear", "Conv", "MaxPool", "Flatten", "Gemm"]
    assert all(NODE_KEYS <= set(n) for n in data["nodes"])
    assert TOTAL_KEYS <= set(data["totals"])
    assert data["totals"]["max_abs_diff_steps"] == 0 and data["totals"]["top1_match"] == 1.0
    assert [n["where"] for n in data["nodes"]].count("accelerator") == 2
    assert data["totals"]["cycles"] == sum(n["cycles"] for n in data["nodes"] if n["where"] == "accelerator") > 0
    assert (small / "report.png").stat().st_size > 0
    y = np.load(out)
    reference = session(onnx.load(small / "small.onnx")).run(None, {"x": np.load(small / "x.npy")})[0]
    assert y.dtype == reference.dtype and y.shape == reference.shape and np.array_equal(y, reference)
    assert "no node differs" in capsys.readouterr().out


def test_images_of_the_data_set_the_model_names(tmp_path):
    """A model whose metadata names the digits gets the held-out digits (and an accuracy against their labels)."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
             helper.make_node("Flatten", ["c"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = [init("w", np.ones((1, 1, 1, 1))), init("fw", RNG.normal(0, 0.3, (10, 64))), init("fb", np.zeros(10))]
    model = quantize(float_model(nodes, inits, ["N", 1, 8, 8]), "qdq", RNG.uniform(0, 1, (8, 1, 8, 8)))
    helper.set_model_props(model, {"qconv.dataset": "sklearn-digits"})
    onnx.save(model, tmp_path / "digits_like.onnx")
    assert main(["run", str(tmp_path / "digits_like.onnx"), "--images", "4", "--compare", "--json",
                 str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["images"] == 4 and 0.0 <= report["totals"]["accuracy"] <= 1.0
    assert report["totals"]["accuracy"] == report["totals"]["reference_accuracy"]


def _rounding_case(folder):
    """One QLinearConv whose accumulator 23590 times the float32 scale 0.00201356504 is 47.4999993 exactly but
    47.5 in float32: the accelerator's stage gives 47, ONNX Runtime 48."""
    inits = {"s1": np.float32(1.0), "z0": np.uint8(0), "w": np.ones((1, 1, 1, 1), np.int8),
             "sw": np.array([0.00201356504], np.float32), "zw": np.zeros(1, np.int8), "b": np.array([23590], np.int32)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s1", "z0"], ["xq"], name="q"),
             helper.make_node("QLinearConv", ["xq", "s1", "z0", "w", "sw", "zw", "s1", "z0", "b"], ["yq"], name="conv"),
             helper.make_node("DequantizeLinear", ["yq", "s1", "z0"], ["y"], name="dq")]
    graph = helper.make_graph(nodes, "rounding", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "rounding.onnx")
    np.save(folder / "zero.npy", np.zeros((1, 1, 1, 1), np.float32))
    return [str(folder / "rounding.onnx"), "--input", str(folder / "zero.npy"), "--compare", "--json",
            str(folder / "rounding.json")]


@pytest.mark.parametrize("extra, status", [([], 0), (["--tolerance", "0"], 1),
                                           (["--tolerance", "0", "--requant", "onnxruntime"], 0)])
def test_exit_status_follows_the_tolerance(tmp_path, extra, status, capsys):
    assert main(["run", *_rounding_case(tmp_path), *extra]) == status
    report = json.loads((tmp_path / "rounding.json").read_text())
    if "onnxruntime" in extra:
        assert report["totals"]["max_abs_diff_steps"] == 0
    else:
        d = report["totals"]["first_divergence"]
        assert (d["node"], d["op"], d["ours"], d["reference"]) == ("conv", "QLinearConv", 47, 48)
        assert report["rounding_differences"]["yq"]["explained"] == 1
        assert "explained by the requantization rule" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("float", "this is a float model"),
    ("corrupt", "is not a valid ONNX file"),
    ("shape", "input 'x' has shape 3x2x5x6; the model takes Nx2x6x6"),
    ("backend", "2 of 2 accelerator nodes do not fit the build"),
    ("images", "the model names no data set qconv knows"),
    ("missing_input", "cannot read --input"),
])
def test_bad_input_is_one_line_and_exit_status_2(small, tmp_path, case, message, capsys):
    model, args = small / "small.onnx", ["--input", str(small / "x.npy")]
    if case == "float":
        model = tmp_path / "float.onnx"
        onnx.save(float_model([helper.make_node("Relu", ["x"], ["y"])], [], ["N", 2, 6, 6]), model)
    elif case == "corrupt":
        model = tmp_path / "corrupt.onnx"
        model.write_bytes(b"\x08\x01not a protobuf at all")
    elif case == "shape":
        np.save(tmp_path / "bad.npy", np.zeros((3, 2, 5, 6), np.float32))
        args = ["--input", str(tmp_path / "bad.npy")]
    elif case == "backend":
        args += ["--backend", "verilator", "--max-reduction", "16"]  # C*R*S 18 and 36 exceed max_reduction 16
    elif case == "images":
        args = ["--images", "2"]
    else:
        args = ["--input", str(tmp_path / "none.npy")]
    assert main(["run", str(model), *args, "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qconv run: error: ") and message in err and "\n" not in err and "Traceback" not in err
