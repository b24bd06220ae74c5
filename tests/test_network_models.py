"""The model builders, the lowering onto the accelerator, and whole small networks against ONNX Runtime.

References: the digits CNN's own float forward pass (:mod:`model.quant.network`),
MobileNet-v1's named layers, the golden grouped convolution, and ONNX Runtime
on test-sized ResNet and MobileNet networks (residual adds, depthwise layers,
ReLU6) quantized by ``quantize_static``.
"""

import json

import numpy as np
import onnx
import pytest

from model.config import AcceleratorConfig
from model.conv import conv2d_int
from model.layer import NAMED_LAYERS, ConvLayer
from model.network import RequantRule, golden_accelerator, import_model, prepare
from model.network.builders import MOBILENET_V1, digits_cnn, mobilenet_v1, resnet
from model.network.graph import ConvNode
from model.network.performance import combine, layer_performance
from model.network.report import rounding_explanations
from model.contract import REQUANT_CHANNELS
from model.quant.network import LAYERS, forward, init_parameters
from sim.cli import main
from sim.network_models import ModelName, build_model, dataset_images
from sim.onnx_reference import session
from tests.onnx_graphs import quantize, run_both

RNG = np.random.default_rng(3)


def test_digits_export_computes_the_float_network():
    params = init_parameters(np.random.default_rng(1))
    params.biases = [RNG.normal(0, 0.1, layer.M) for layer in LAYERS]
    x = RNG.uniform(0, 1, (5, 1, 8, 8))
    ours = session(digits_cnn(params)).run(None, {"input": x.astype(np.float32)})[0]
    np.testing.assert_allclose(ours, forward(params, x)[0], rtol=1e-4, atol=1e-5)


def test_mobilenet_builder_has_the_named_layer_shapes():
    graph = import_model(quantize(mobilenet_v1(size=224), "qdq", RNG.standard_normal((1, 3, 224, 224))))
    convs = [n for n in graph.nodes if isinstance(n, ConvNode)][:-1]  # the classifier last
    names = ["mobilenet_v1_conv1"] + [f"mobilenet_v1_{k}{i}" for i in range(1, 14) for k in ("dw", "pw")]
    for node, name in zip(convs, names, strict=True):
        layer = NAMED_LAYERS[name]
        assert (node.weights.shape, node.groups, node.stride[0], node.pads[0]) == (
            layer.weight_shape, layer.groups, layer.stride, layer.pad), name


@pytest.mark.parametrize("net", ["resnet", "mobilenet"])
def test_small_networks_match_onnxruntime(net):
    """Residual adds and depthwise ReLU6 layers: bit-exact with ONNX Runtime's rule, within a step with the stage's."""
    if net == "resnet":
        model = resnet(seed=2, size=32, widths=(8, 16), blocks=(1, 1), classes=10)
    else:
        model = mobilenet_v1(seed=2, size=32, alpha=0.25, blocks=MOBILENET_V1[:4], classes=10)
    quantized = quantize(model, "qdq", RNG.standard_normal((4, 3, 32, 32)))
    x = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    graph, execution, reference, cmp = run_both(quantized, x, RequantRule.ONNXRUNTIME)
    assert all(c.exact_fraction == 1.0 for c in cmp.values())
    assert any(n.groups > 1 for n in graph.accelerator_nodes) == (net == "mobilenet")
    graph, execution, reference, cmp = run_both(quantized, x, RequantRule.ACCELERATOR)
    assert cmp[graph.output.tensor].max_abs_diff_steps <= 1
    explained = rounding_explanations(graph, prepare(graph, AcceleratorConfig()), execution, reference)
    assert all(e["differences"] == e["explained"] for e in explained.values())


def _planned(groups: int, filters: int, rule=RequantRule.ACCELERATOR):
    model = mobilenet_v1(seed=4, size=16, alpha=1.0, blocks=((filters, 1),), classes=3)
    graph = import_model(quantize(model, "qdq", RNG.standard_normal((2, 3, 16, 16))))
    node = next(n for n in graph.accelerator_nodes if n.groups == groups and n.weights.shape[0] in (groups, filters))
    return graph, node, prepare(graph, AcceleratorConfig(), rule)[node.output]


def test_grouped_convolution_runs_as_one_ungrouped_layer_per_group():
    graph, node, plan = _planned(32, 64)
    x = RNG.integers(0, 256, (2, 32, 8, 8))
    x_hw = plan.accelerator_input(x)
    calls = plan.calls(x_hw)
    assert len(calls) == 32 and all(c.layer.groups == 1 and c.layer.C == 1 and c.layer.M == 1 for c in calls)
    run = golden_accelerator(AcceleratorConfig())
    out = np.empty(plan.layer(x_hw).output_shape, np.int64)
    for c in calls:
        out[:, c.channels] = run(c.layer, c.x, c.w, c.requant)
    layer = plan.layer(x_hw)
    whole = plan.requant.apply(conv2d_int(x_hw, plan.weights, layer.stride, layer.pad, layer.groups))
    assert np.array_equal(out, whole)
    assert any("one per group" in note for note in plan.notes)


def test_more_filters_than_the_stage_holds_run_in_chunks():
    graph, node, plan = _planned(1, 2 * REQUANT_CHANNELS + 8)
    x_hw = plan.accelerator_input(RNG.integers(0, 256, (1, 32, 8, 8)))
    sizes = [c.layer.M for c in plan.calls(x_hw)]
    assert sizes == [REQUANT_CHANNELS, REQUANT_CHANNELS, 8]
    raw = prepare(graph, AcceleratorConfig(), RequantRule.ONNXRUNTIME)[node.output]
    assert [c.layer.M for c in raw.calls(x_hw)] == [2 * REQUANT_CHANNELS + 8]  # raw accumulators: no stage limit


def test_layer_performance_is_unavailable_with_the_reason_when_a_layer_does_not_fit():
    config = AcceleratorConfig()
    fits = layer_performance(config, NAMED_LAYERS["small_3x3"], 8)
    assert fits.unavailable is None and fits.cycles > 0 and fits.energy_pj > 0 and fits.stall_cycles == 0
    big = layer_performance(config, ConvLayer(C=1024, H=3, W=3, M=8, R=3, S=3), 8)  # C*R*S = 9216 > 8192
    assert big.cycles is None and "exceeds max_reduction" in big.unavailable
    assert combine([fits, fits]).cycles == 2 * fits.cycles
    assert combine([fits, big]).unavailable == big.unavailable


def test_trained_digits_cnn_top1_on_all_359_test_images_equals_onnxruntime(tmp_path):
    """The bundled digits model (trained, quantized by ``quantize_static``) on the whole held-out set: every image's
    class from qconv's output equals ONNX Runtime's on the same images, every tensor within one step."""
    path = build_model(ModelName.DIGITS, tmp_path, log=lambda line: None)
    report, out = tmp_path / "r.json", tmp_path / "y.npy"
    assert main(["run", str(path), "--images", "359", "--compare", "--json", str(report), "--output", str(out)]) == 0
    x, labels = dataset_images(import_model(onnx.load(path)), 359)
    reference = session(onnx.load(path)).run(None, {"input": x})[0]
    ours = np.load(out)
    assert ours.shape == reference.shape == (359, 10)
    assert np.array_equal(np.argmax(ours, axis=1), np.argmax(reference, axis=1))
    totals = json.loads(report.read_text())["totals"]
    assert totals["top1_match"] == 1.0 and totals["max_abs_diff_steps"] <= 1
    assert totals["accuracy"] == totals["reference_accuracy"] == np.mean(np.argmax(reference, axis=1) == labels) > 0.9
