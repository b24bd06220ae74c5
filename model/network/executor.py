"""Run an imported integer graph: host nodes with ONNX Runtime's integer semantics, convolutions on an accelerator.

:func:`prepare` maps every accelerator node onto a build (and refuses, before
anything runs, what cannot run on it); :func:`execute` runs the graph on one
input batch. The accelerator is a callable ``(layer, x, w, requant) -> NMEF``
that runs one ungrouped layer: the golden model (:func:`golden_accelerator`)
or, from :mod:`sim`, the RTL. Every tensor is kept, as ONNX Runtime's values
and dtype, for the comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.layer import ConvLayer
from model.network.graph import (ActivationNode, AddNode, ConcatNode, ConvNode, Graph, Node, PoolKind, PoolNode,
                                 QuantizeNode, ReshapeNode)
from model.network.host_ops import (activation, average_pool, dequantize, float_add, global_average_pool, max_pool,
                                    qlinear_add, quantize, requantize_elementwise)
from model.network.lowering import ConvPlan, RequantRule, plan_conv
from model.program import RequantParams

__all__ = ["Accelerator", "NodeRun", "Execution", "prepare", "check_input", "golden_accelerator", "execute"]

#: Runs one ungrouped layer: ``(layer, x, w, requant)`` -> requantized outputs, or raw accumulators when
#: ``requant`` is None (NMEF int64).
Accelerator = Callable[[ConvLayer, np.ndarray, np.ndarray, RequantParams | None], np.ndarray]


@dataclass(frozen=True)
class NodeRun:
    """What one node did: its output shape, the accelerator layers it ran (none on the host), wall time."""

    node: Node
    shape: tuple[int, ...]
    layers: tuple[ConvLayer, ...]
    seconds: float


@dataclass(frozen=True)
class Execution:
    """A run of a graph: every integer tensor (ONNX Runtime's dtype), the output as ONNX Runtime returns it."""

    tensors: dict[str, np.ndarray]
    output: np.ndarray
    runs: tuple[NodeRun, ...]


def prepare(graph: Graph, config: AcceleratorConfig,
            rule: RequantRule = RequantRule.ACCELERATOR) -> dict[str, ConvPlan]:
    """Every accelerator node planned on ``config`` (:func:`model.network.lowering.plan_conv`), by output name.

    Raises
    ------
    ValueError
        Naming the first node that cannot run exactly on ``config``.
    """
    return {n.output: plan_conv(n, config, rule) for n in graph.accelerator_nodes}


def check_input(graph: Graph, x: object) -> np.ndarray:
    """The network input checked against the model: a float32 array of the model's shape (any batch if dynamic).

    Raises
    ------
    TypeError, ValueError
        Naming the input, the shape or dtype found and the one expected.
    """
    spec = graph.input
    if not isinstance(x, np.ndarray):
        raise TypeError(f"input {spec.name!r} must be a numpy array, not {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"input {spec.name!r} has dtype {x.dtype}; the model takes float32")
    expected = "x".join("N" if d is None else str(d) for d in spec.shape)
    if x.ndim != len(spec.shape) or any(d is not None and d != s for d, s in zip(spec.shape, x.shape)):
        raise ValueError(f"input {spec.name!r} has shape {'x'.join(map(str, x.shape))}; the model takes {expected}")
    if x.size == 0:
        raise ValueError(f"input {spec.name!r} is empty (shape {x.shape})")
    return x


def golden_accelerator(config: AcceleratorConfig) -> Accelerator:
    """The golden model of the accelerator: :func:`model.conv.conv2d_layer`, then the requantization stage."""
    def run(layer: ConvLayer, x: np.ndarray, w: np.ndarray, requant: RequantParams | None) -> np.ndarray:
        acc = conv2d_layer(x, w, layer, config.bits)
        return acc if requant is None else requant.apply(acc)
    return run


def _run_conv(plan: ConvPlan, x: np.ndarray, accelerator: Accelerator) -> tuple[np.ndarray, tuple[ConvLayer, ...]]:
    x_hw = plan.accelerator_input(x)
    calls = plan.calls(x_hw)
    layer = plan.layer(x_hw)
    out = np.empty(layer.output_shape, dtype=np.int64)
    for call in calls:
        out[:, call.channels] = accelerator(call.layer, call.x, call.w, call.requant)
    return plan.finish(out), tuple(c.layer for c in calls)


def _reshape(node: ReshapeNode, q: np.ndarray) -> np.ndarray:
    if node.flatten_axis is not None:
        axis = node.flatten_axis % q.ndim if node.flatten_axis < 0 else node.flatten_axis
        return q.reshape(int(np.prod(q.shape[:axis], dtype=np.int64)), -1)
    shape = [q.shape[i] if s == 0 and not node.allowzero else s for i, s in enumerate(node.shape)]
    try:
        return q.reshape(shape)
    except ValueError:
        raise ValueError(f"node {node.name!r} (Reshape): cannot reshape {q.shape} to {node.shape}") from None


def _host(node: Node, values: list[np.ndarray]) -> np.ndarray:
    """One host node on its input values (int64), ONNX Runtime's rules (:mod:`model.network.host_ops`)."""
    g = node.grid
    if isinstance(node, AddNode):
        (a, b), (ga, gb) = values, node.input_grids
        if a.shape != b.shape:
            raise ValueError(f"node {node.name!r} ({node.op}): inputs of shapes {a.shape} and {b.shape}; "
                             f"qconv adds tensors of one shape (no broadcasting)")
        if node.fused:
            out = qlinear_add(a, ga.scale, ga.zero_point, b, gb.scale, gb.zero_point, g.scale, g.zero_point, g.qtype)
            return np.clip(out, *node.clamp)
        v = float_add(a, ga.scale, ga.zero_point, b, gb.scale, gb.zero_point)
        return quantize(activation(v, *node.act) if node.act else v, g.scale, g.zero_point, g.qtype)
    if isinstance(node, ActivationNode):
        gi = node.input_grid
        return quantize(activation(dequantize(values[0], gi.scale, gi.zero_point), node.lo, node.hi),
                        g.scale, g.zero_point, g.qtype)
    if isinstance(node, PoolNode):
        gi, q = node.input_grid, values[0]
        if q.ndim != 4:
            raise ValueError(f"node {node.name!r} ({node.op}): input of shape {q.shape}; pooling needs NCHW")
        if node.kind is PoolKind.MAX:
            pooled = max_pool(q, node.kernel, node.stride, node.pads)
            return requantize_elementwise(pooled, gi.scale, gi.zero_point, g.scale, g.zero_point, g.qtype)
        if node.kind is PoolKind.AVERAGE:
            return average_pool(q, gi.scale, gi.zero_point, g.scale, g.zero_point, g.qtype, node.kernel, node.stride,
                                node.pads, node.count_include_pad)
        return global_average_pool(q, gi.scale, gi.zero_point, g.scale, g.zero_point, g.qtype)
    if isinstance(node, ReshapeNode):
        gi = node.input_grid
        return requantize_elementwise(_reshape(node, values[0]), gi.scale, gi.zero_point, g.scale, g.zero_point, g.qtype)
    if isinstance(node, ConcatNode):
        parts = [requantize_elementwise(v, gi.scale, gi.zero_point, g.scale, g.zero_point, g.qtype)
                 for v, gi in zip(values, node.input_grids)]
        return np.concatenate(parts, axis=node.axis)
    raise TypeError(f"no host rule for node {node.name!r} of type {type(node).__name__}")


def execute(graph: Graph, x: np.ndarray, plans: dict[str, ConvPlan], accelerator: Accelerator) -> Execution:
    """Run ``graph`` on the float32 input ``x`` (checked with :func:`check_input`).

    Parameters
    ----------
    graph : Graph
    x : ndarray
        The network input.
    plans : dict
        :func:`prepare`'s plans for the accelerator nodes.
    accelerator : Accelerator
        Runs each ungrouped layer.

    Returns
    -------
    Execution
    """
    x = check_input(graph, x)
    values: dict[str, np.ndarray] = {}
    runs = []
    for node in graph.nodes:
        start = time.perf_counter()
        layers: tuple[ConvLayer, ...] = ()
        if isinstance(node, QuantizeNode):
            out = quantize(x, node.grid.scale, node.grid.zero_point, node.grid.qtype)
        elif isinstance(node, ConvNode):
            out, layers = _run_conv(plans[node.output], values[node.inputs[0]], accelerator)
        else:
            out = _host(node, [values[i] for i in node.inputs])
        values[node.output] = out
        runs.append(NodeRun(node, tuple(out.shape), layers, time.perf_counter() - start))
    tensors = {name: v.astype(graph.grids[name].qtype.dtype) for name, v in values.items()}
    spec = graph.output
    result = tensors[spec.tensor]
    if spec.dequantized:
        g = graph.grids[spec.tensor]
        result = dequantize(result, g.scale, g.zero_point)
    return Execution(tensors, result, tuple(runs))
