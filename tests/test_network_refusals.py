"""Refusing, before anything runs, every model or input qconv cannot run exactly -- with a message naming it."""

import numpy as np
import onnx
import pytest
from onnx import helper

from model.config import AcceleratorConfig
from model.network import ModelError, check_input, import_model, prepare
from tests.onnx_graphs import dq, float_model, init, q, qdq_model, quantize

RNG = np.random.default_rng(7)
CAL = RNG.uniform(0.0, 1.0, (4, 3, 6, 6)).astype(np.float32)


def _conv_float(**attrs):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inits = [init("w", RNG.normal(0, 0.5, (8, 3, 3, 3))), init("b", RNG.normal(0, 0.1, 8))]
    return float_model(nodes, inits, ["N", 3, 6, 6])


@pytest.fixture(scope="module")
def quantized():
    return quantize(_conv_float(), "qdq", CAL)


def test_a_float_model_gets_the_quantize_static_recipe():
    with pytest.raises(ModelError, match=r"float model .*quantize_static\('model.onnx', 'model_int8.onnx'.*"
                                         r"QuantFormat.QDQ, per_channel=True"):
        import_model(_conv_float())


@pytest.mark.parametrize("source, message", [
    (b"\x08\x01garbage that is not protobuf", "not a valid ONNX file"),
    ("/nonexistent/model.onnx", "cannot read the model"),
])
def test_a_corrupt_or_missing_file(source, message):
    with pytest.raises(ModelError, match=message):
        import_model(source)


def test_an_invalid_graph_is_rejected_by_the_checker(quantized):
    m = onnx.ModelProto()
    m.CopyFrom(quantized)
    m.graph.node[-1].input[0] = "no_such_tensor"
    with pytest.raises(ModelError, match="the ONNX checker rejects the model"):
        import_model(m)


@pytest.mark.parametrize("attrs, message", [
    ({"dilations": [2, 2], "pads": [2, 2, 2, 2]},
     r"node 'conv' \(Conv\): attribute dilations=\[2, 2\] is not supported; only dilation 1"),
    ({"auto_pad": "SAME_UPPER"}, r"attribute auto_pad=b'SAME_UPPER' is not supported; only NOTSET or VALID"),
])
def test_an_unsupported_attribute_names_node_op_attribute_and_what_is_supported(quantized, attrs, message):
    m = onnx.ModelProto()
    m.CopyFrom(quantized)
    (node,) = [n for n in m.graph.node if n.op_type == "Conv"]
    keep = [a for a in node.attribute if a.name != "pads"]  # pads are replaced (or, with auto_pad, left out)
    del node.attribute[:]
    node.attribute.extend(keep + [helper.make_attribute(k, v) for k, v in attrs.items()])
    with pytest.raises(ModelError, match=message):
        import_model(m)


def _qdq(core_nodes, core_inits, core_input="xf", core_output="a", extra_outputs=()):
    """Q(x) -> DQ -> core -> Q -> DQ -> y with uint8 grids."""
    nodes, inits = q("xq", "x", 1 / 255, np.uint8(0), "x_q")
    n, i = dq("dqx", "x_q", np.float32(1 / 255), np.uint8(0), core_input)
    n2, i2 = q("qa", core_output, np.float32(0.01), np.uint8(0), "a_q")
    n3, i3 = dq("dqa", "a_q", np.float32(0.01), np.uint8(0), "y")
    return qdq_model(nodes + n + core_nodes + n2 + n3, inits + i + core_inits + i2 + i3, ["N", 3, 6, 6])


def test_an_unsupported_op():
    with pytest.raises(ModelError, match=r"node 'soft' \(Softmax\): op Softmax is not supported; supported: "
                                         r"QuantizeLinear, DequantizeLinear, QLinearConv"):
        import_model(_qdq([helper.make_node("Softmax", ["xf"], ["a"], name="soft")], []))


@pytest.mark.parametrize("case, message", [
    ("avgpool_relu", r"node 'relu' \(Relu\): a Relu before QuantizeLinear must follow Conv, Gemm, MatMul or Add"),
    ("dq_q_pair", r"quantizes a DequantizeLinear output \('xf'\) directly"),
    ("float_bias", r"the bias \('b'\) must be a DequantizeLinear of an int32 constant"),
    ("unquantized", r"node 'relu' \(Relu\): its float output 'a' must feed exactly one node"),
    ("gemm_alpha", r"node 'fc' \(Gemm\): attribute alpha=2.0 is not supported; only alpha=1"),
])
def test_unsupported_patterns(case, message):
    if case == "avgpool_relu":
        model = _qdq([helper.make_node("AveragePool", ["xf"], ["p"], name="pool", kernel_shape=[2, 2]),
                      helper.make_node("Relu", ["p"], ["a"], name="relu")], [])
    elif case == "dq_q_pair":
        model = _qdq([], [], core_input="xf", core_output="xf")
    elif case == "float_bias":
        n, i = dq("dqw", "w", np.full(4, 0.01, np.float32), np.zeros(4, np.int8), "wf", axis=0)
        model = _qdq(n + [helper.make_node("Conv", ["xf", "wf", "b"], ["a"], name="conv", kernel_shape=[1, 1])],
                     i + [init("w", np.ones((4, 3, 1, 1), np.int8)), init("b", np.zeros(4))])
    elif case == "gemm_alpha":
        n, i = dq("dqw", "w", np.full(4, 0.01, np.float32), np.zeros(4, np.int8), "wf", axis=0)
        flat = [helper.make_node("Flatten", ["xf"], ["f"], name="flatten")]
        n2, i2 = q("qf", "f", np.float32(1 / 255), np.uint8(0), "f_q")
        n3, i3 = dq("dqf", "f_q", np.float32(1 / 255), np.uint8(0), "ff")
        gemm = helper.make_node("Gemm", ["ff", "wf"], ["a"], name="fc", transB=1, alpha=2.0)
        model = _qdq(flat + n2 + n3 + n + [gemm], i2 + i3 + i + [init("w", np.ones((4, 108), np.int8))])
    else:  # the Relu's float output also leaves the graph unquantized
        model = _qdq([helper.make_node("Relu", ["xf"], ["a"], name="relu")], [])
        model.graph.node.append(helper.make_node("Relu", ["a"], ["z"], name="again"))
        model.graph.output.append(helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, ["N", 3, 6, 6]))
        with pytest.raises(ModelError, match="exactly one output"):
            import_model(model)
        model.graph.output.pop()
    with pytest.raises(ModelError, match=message):
        import_model(model)


def test_per_channel_activations_are_refused():
    nodes, inits = q("xq", "x", 1 / 255, np.uint8(0), "x_q")
    nodes[0].input[1], nodes[0].input[2] = "s3", "z3"
    inits += [init("s3", np.full(3, 0.01, np.float32)), onnx.numpy_helper.from_array(np.zeros(3, np.uint8), "z3")]
    nodes[0].attribute.append(helper.make_attribute("axis", 1))
    n, i = dq("dqx", "x_q", np.float32(1 / 255), np.uint8(0), "y")
    with pytest.raises(ModelError, match="activations must be quantized per tensor"):
        import_model(qdq_model(nodes + n, inits + i, ["N", 3, 6, 6]))


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((1, 3, 7, 6), np.float32), ValueError, r"input 'x' has shape 1x3x7x6; the model takes Nx3x6x6"),
    (np.zeros((1, 3, 6, 6), np.float64), TypeError, "has dtype float64; the model takes float32"),
    (np.zeros((3, 6, 6), np.float32), ValueError, "the model takes Nx3x6x6"),
    ([[0.0]], TypeError, "must be a numpy array"),
])
def test_wrong_input_shape_or_dtype(quantized, x, error, message):
    with pytest.raises(error, match=message):
        check_input(import_model(quantized), x)


@pytest.mark.parametrize("config, message", [
    (AcceleratorConfig(max_reduction=1), r"node 'conv' \(Conv\): its accumulators could reach \d+ .* beyond the "
                                        r"accelerator's acc_bits=16"),
    (AcceleratorConfig(bits=4), "does not fit the accelerator's signed 4-bit operands"),
    (AcceleratorConfig(bits=1), "needs a multi-bit accelerator"),
])
def test_builds_the_model_cannot_run_on_exactly(quantized, config, message):
    with pytest.raises(ValueError, match=message):
        prepare(import_model(quantized), config)


def test_asymmetric_uint8_weights_need_a_wider_accelerator():
    n, i = dq("dqw", "w", np.full(4, 0.01, np.float32), np.full(4, 3, np.uint8), "wf", axis=0)
    weights = np.full((4, 3, 1, 1), 250, np.uint8)  # 250 - 3 does not fit 8 signed bits
    model = _qdq(n + [helper.make_node("Conv", ["xf", "wf"], ["a"], name="conv", kernel_shape=[1, 1])],
                 i + [onnx.numpy_helper.from_array(weights, "w")])
    graph = import_model(model)
    with pytest.raises(ValueError, match=r"weights minus their zero points span 247..247, beyond .* signed 8-bit"):
        prepare(graph, AcceleratorConfig())
    assert prepare(graph, AcceleratorConfig(bits=9))  # fits 9 bits: runs exactly
