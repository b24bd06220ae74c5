"""Importing quantized ONNX models: every supported op in both forms (QDQ and QOperator), against ONNX Runtime.

Each float graph is hand-built with ``onnx.helper``, quantized by ONNX
Runtime's ``quantize_static`` (QDQ, and QOperator: QLinearConv, QLinearMatMul,
QGemm, QLinearAdd, QLinear pools and concat, integer MaxPool/Flatten/Reshape),
imported and run with the golden accelerator; ONNX Runtime, on the same
input with every tensor exposed, is the reference. With ONNX Runtime's
requantization rule every tensor must be bit-exact; with the accelerator's
stage within one step, and every difference on an input that agrees explained
by the rule. Patterns ``quantize_static`` never writes (a Relu/Clip on its own,
a change of grid, int8 activations, asymmetric pads, uint8 weights, an Add
whose activation ONNX Runtime cannot drop) are written node by node.
"""

import numpy as np
import pytest
from onnx import helper

from model.config import AcceleratorConfig
from model.network import RequantRule, prepare
from model.network.graph import ConvNode, ModelForm
from model.network.report import rounding_explanations
from tests.onnx_graphs import dq, float_model, init, q, qdq_model, quantize, run_both

RNG = np.random.default_rng(20261201)
CAL = RNG.uniform(0.0, 1.0, (8, 3, 8, 8)).astype(np.float32)
X = RNG.uniform(0.0, 1.0, (2, 3, 8, 8)).astype(np.float32)


def _w(*shape, scale=0.4):
    return RNG.normal(0.0, scale, shape)


def _conv(name, x, c, m, k=3, stride=1, pad=1, group=1, out=None):
    inits = [init(f"{name}_w", _w(m, c // group, k, k)), init(f"{name}_b", _w(m, scale=0.1))]
    node = helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [out or name], name=name, kernel_shape=[k, k],
                            strides=[stride, stride], pads=[pad] * 4, group=group)
    return [node], inits


def _graph(case: str):
    """(nodes, initializers) of a small float graph exercising ``case``; input x (N, 3, 8, 8), output y."""
    n, i = _conv("c1", "x", 3, 8, stride=1)
    nodes, inits = list(n), list(i)

    def add(node, *extra):
        nodes.append(node)
        inits.extend(extra)

    if case == "conv_relu":
        n, i = _conv("c2", "c1", 8, 8, stride=2)
        nodes += n
        inits += i
        add(helper.make_node("Relu", ["c2"], ["y"]))
    elif case == "conv_relu6":
        add(helper.make_node("Clip", ["c1", "lo", "hi"], ["y"]), init("lo", 0.0), init("hi", 6.0))
    elif case in ("grouped", "depthwise"):
        group = 2 if case == "grouped" else 8
        n, i = _conv("c2", "c1", 8, 8 if case == "depthwise" else 6, stride=2, group=group, out="y")
        nodes += n
        inits += i
    elif case in ("gemm", "gemm_nt", "matmul"):
        add(helper.make_node("Flatten", ["c1"], ["f"], axis=1))
        w = _w(10, 8 * 8 * 8, scale=0.05)
        if case == "gemm":
            add(helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1), init("fw", w), init("fb", _w(10)))
        elif case == "gemm_nt":
            add(helper.make_node("Gemm", ["f", "fw", "fb"], ["y"]), init("fw", w.T), init("fb", _w(10)))
        else:
            add(helper.make_node("MatMul", ["f", "fw"], ["y"]), init("fw", w.T))
    elif case == "add":
        n, i = _conv("c2", "c1", 8, 8)
        nodes += n
        inits += i
        add(helper.make_node("Add", ["c2", "c1"], ["s"]))
        add(helper.make_node("Relu", ["s"], ["y"]))
    elif case == "maxpool":
        add(helper.make_node("MaxPool", ["c1"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    elif case in ("avgpool", "avgpool_pad"):
        add(helper.make_node("AveragePool", ["c1"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                             count_include_pad=int(case == "avgpool_pad")))
    elif case == "gap":
        add(helper.make_node("GlobalAveragePool", ["c1"], ["y"]))
    elif case == "reshape":
        add(helper.make_node("Reshape", ["c1", "shape"], ["r"]), init("shape", np.array([0, 4, -1], np.int64)))
        add(helper.make_node("Reshape", ["r", "shape2"], ["y"]), init("shape2", np.array([0, 8, 8, 8], np.int64)))
    elif case == "concat":
        n, i = _conv("c2", "x", 3, 4, k=1, pad=0)
        nodes += n
        inits += i
        add(helper.make_node("Concat", ["c1", "c2"], ["y"], axis=1))
    else:
        raise ValueError(case)
    return nodes, inits


CASES = ["conv_relu", "conv_relu6", "grouped", "depthwise", "gemm", "gemm_nt", "matmul", "add", "maxpool", "avgpool",
         "avgpool_pad", "gap", "reshape", "concat"]


@pytest.mark.parametrize("form", ["qdq", "qoperator"])
@pytest.mark.parametrize("case", CASES)
def test_each_op_matches_onnxruntime(case, form):
    nodes, inits = _graph(case)
    model = quantize(float_model(nodes, inits, ["N", 3, 8, 8]), form, CAL)
    graph, execution, reference, cmp = run_both(model, X, RequantRule.ONNXRUNTIME)
    assert graph.form in ((ModelForm.QDQ,) if form == "qdq" else (ModelForm.QOPERATOR, ModelForm.MIXED))
    assert all(c.exact_fraction == 1.0 for c in cmp.values()), {k: c for k, c in cmp.items() if c.exact_fraction < 1}
    assert np.array_equal(execution.output, reference[graph.output.name])
    assert execution.output.dtype == reference[graph.output.name].dtype
    # the accelerator's own requantization stage: within one step, every local difference explained
    graph, execution, reference, cmp = run_both(model, X, RequantRule.ACCELERATOR)
    assert max(c.max_abs_diff_steps for c in cmp.values()) <= 1
    plans = prepare(graph, AcceleratorConfig())
    assert all(e["differences"] == e["explained"] for e in rounding_explanations(graph, plans, execution, reference).values())


def test_qoperator_ops_are_imported_as_such():
    nodes, inits = _graph("add")
    graph = run_both(quantize(float_model(nodes, inits, ["N", 3, 8, 8]), "qoperator", CAL), X)[0]
    assert [n.op for n in graph.nodes] == ["QuantizeLinear", "QLinearConv", "QLinearConv", "QLinearAdd"]


# -- hand-written quantized graphs (patterns quantize_static does not write) ----------------------------------


def _input(zero=np.uint8(0), scale=1 / 255):
    return q("xq", "x", scale, zero, "x_q")


def _qconv(x, grid_in, w, w_zero, bias, grid_out, out, pads=(1, 1, 1, 1), relu=False):
    """DQ(x), DQ(w), DQ(b) -> Conv [-> Relu] -> Q, per-channel weights."""
    m = len(w)
    w_scale = np.full(m, 0.02, np.float32)
    nodes, inits = [], [init("w", w), init("b", bias.astype(np.int32))]
    for part in (dq("dqx", x, *grid_in, "xf"), dq("dqw", "w", w_scale, w_zero, "wf", axis=0),
                 dq("dqb", "b", (np.float32(grid_in[0]) * w_scale).astype(np.float32), np.zeros(m, np.int32), "bf",
                    axis=0)):
        nodes += part[0]
        inits += part[1]
    conv_out = "cr" if relu else "c"
    nodes.append(helper.make_node("Conv", ["xf", "wf", "bf"], ["c"], name="conv", kernel_shape=[3, 3],
                                  pads=list(pads)))
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["cr"], name="relu"))
    qn, qi = q("qc", conv_out, *grid_out, out)
    return nodes + qn, inits + qi


def _check_exact(nodes, inits, x=X, expose=True):
    model = qdq_model(nodes, inits, ["N", 3, 8, 8])
    graph, execution, reference, cmp = run_both(model, x, RequantRule.ONNXRUNTIME, expose=expose)
    assert all(c.exact_fraction == 1.0 for c in cmp.values()), cmp
    assert np.array_equal(execution.output, reference[graph.output.name])
    return graph


def _finish(nodes, inits, tensor, grid):
    n, i = dq("out", tensor, *grid, "y")
    return nodes + n, inits + i


@pytest.mark.parametrize("op", ["Relu", "Clip", "MaxPool"])
def test_float_path_ops_between_dequantize_and_quantize(op):
    """A Relu, Clip or MaxPool between DQ and Q with a change of grid: ONNX Runtime's float path."""
    nodes, inits = _input(np.uint8(40), 1 / 200)
    n, i = dq("dq1", "x_q", np.float32(1 / 200), np.uint8(40), "xf")
    nodes, inits = nodes + n, inits + i
    if op == "Relu":
        nodes.append(helper.make_node("Relu", ["xf"], ["a"], name="relu"))
    elif op == "Clip":
        nodes.append(helper.make_node("Clip", ["xf", "lo", "hi"], ["a"], name="clip"))
        inits += [init("lo", 0.1), init("hi", 0.7)]
    elif op == "MaxPool":
        nodes.append(helper.make_node("MaxPool", ["xf"], ["a"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    n, i = q("q2", "a", np.float32(1 / 97), np.uint8(3), "a_q")
    graph = _check_exact(*_finish(nodes + n, inits + i, "a_q", (np.float32(1 / 97), np.uint8(3))))
    assert len(graph.nodes) == 2


@pytest.mark.parametrize("variant", ["int8_input", "asymmetric_pads", "uint8_weights", "relu_before_q"])
def test_hand_written_convolutions(variant):
    """Signed activations (host padding with the zero point), asymmetric pads, uint8 weights (zero point 128),
    and a Relu between Conv and QuantizeLinear."""
    rng = np.random.default_rng(5)
    # 7-bit weights, as quantize_static's reduce_range writes them (sim/onnx_reference.py): the reference's
    # u8s8 kernel on an AVX2 CPU without VNNI sums pairs of products in int16 and saturates above that
    w = rng.integers(-64, 64, (6, 3, 3, 3))
    w_zero, w_dtype = np.zeros(6, np.int8), np.int8
    grid_in, grid_out = (np.float32(1 / 255), np.uint8(0)), (np.float32(0.05), np.uint8(0))
    pads = (1, 1, 1, 1)
    if variant == "int8_input":
        grid_in, grid_out = (np.float32(1 / 200), np.int8(-100)), (np.float32(0.05), np.int8(7))
    elif variant == "asymmetric_pads":
        pads = (0, 1, 2, 1)
    elif variant == "uint8_weights":
        w_zero, w_dtype = np.full(6, 128, np.uint8), np.uint8
        w = w + 128
    nodes, inits = _input(grid_in[1], grid_in[0])
    n, i = _qconv("x_q", grid_in, w.astype(w_dtype), w_zero, rng.integers(-500, 500, 6), grid_out, "c_q", pads,
                  relu=variant == "relu_before_q")
    # int8 activations: ONNX Runtime fuses the convolution only while no one else reads its int8 tensors
    graph = _check_exact(*_finish(nodes + n, inits + i, "c_q", grid_out), expose=variant != "int8_input")
    (conv,) = [n for n in graph.nodes if isinstance(n, ConvNode)]
    assert conv.pads == pads


@pytest.mark.parametrize("zero", [np.uint8(0), np.uint8(20)])
def test_add_with_relu_fused_or_float_as_onnxruntime_does(zero):
    """A Relu after Add is dropped by ONNX Runtime (QLinearAdd) only when the output zero point is 0 for uint8."""
    nodes, inits = _input()
    for name, s, z in (("a", 1 / 255, 0), ("b", 1 / 255, 0)):
        n, i = dq(f"dq{name}", "x_q", np.float32(s), np.uint8(z), f"{name}f")
        nodes, inits = nodes + n, inits + i
    nodes += [helper.make_node("Add", ["af", "bf"], ["s"], name="add"), helper.make_node("Relu", ["s"], ["r"], name="relu")]
    n, i = q("qs", "r", np.float32(3 / 255), zero, "s_q")
    graph = _check_exact(*_finish(nodes + n, inits + i, "s_q", (np.float32(3 / 255), zero)))
    assert graph.nodes[-1].fused == (zero == 0)
