"""The run report of a network: per node where it ran, its figures, and how it compares with a reference.

Differences are counted in *output steps*: the integers of a quantized tensor
differ by ``k`` steps when they differ by ``k`` (one step is the tensor's
scale in real terms). The reference is ONNX Runtime's value of every tensor
(:mod:`sim.onnx_reference` computes it); these functions only compare arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from model.network.executor import Execution
from model.network.graph import ConvKind, ConvNode, Graph, Where
from model.network.host_ops import requantize_accumulators
from model.network.lowering import ConvPlan, RequantRule
from model.network.performance import LayerPerformance

__all__ = ["Divergence", "TensorComparison", "compare_tensor", "compare", "quantized_output", "first_divergence",
           "top1_agreement",
           "rounding_explanations", "node_rows", "totals"]


@dataclass(frozen=True)
class Divergence:
    """The first differing value of a node's output: node name, op, tensor, index and both values."""

    node: str
    op: str
    tensor: str
    index: tuple[int, ...]
    ours: int
    reference: int


@dataclass(frozen=True)
class TensorComparison:
    """One tensor against its reference: largest difference in steps, share of equal values, first difference."""

    max_abs_diff_steps: int
    exact_fraction: float
    values: int
    first: tuple[tuple[int, ...], int, int] | None


def compare_tensor(ours: np.ndarray, reference: np.ndarray, name: str) -> TensorComparison:
    """Compare two integer tensors of one shape.

    Raises
    ------
    ValueError
        If the shapes differ (the report would otherwise compare the wrong values).
    """
    ours, reference = np.asarray(ours), np.asarray(reference)
    if ours.shape != reference.shape:
        raise ValueError(f"tensor {name!r}: ours has shape {ours.shape}, the reference {reference.shape}")
    diff = ours.astype(np.int64) - reference.astype(np.int64)
    differ = diff != 0
    first = None
    if differ.any():
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(differ)), diff.shape))
        first = (index, int(ours[index]), int(reference[index]))
    return TensorComparison(int(np.abs(diff).max(initial=0)), float(1.0 - differ.mean()) if diff.size else 1.0,
                            int(diff.size), first)


def compare(graph: Graph, execution: Execution, reference: dict[str, np.ndarray]) -> dict[str, TensorComparison]:
    """Every node's output tensor that ``reference`` (tensor name -> array) holds, by tensor name."""
    return {n.output: compare_tensor(execution.tensors[n.output], reference[n.output], n.output)
            for n in graph.nodes if n.output in reference}


def quantized_output(graph: Graph, values: np.ndarray) -> np.ndarray:
    """The integers of the network output from its values as ONNX Runtime returns them.

    A dequantized output ``fl(float(q - z) * s)`` gives back ``q = z + rne(y / s)`` exactly (``|q - z| <= 255``
    is far inside float32's exact range, and the float32 error of the product is far below half a step).
    """
    g = graph.grids[graph.output.tensor]
    if not graph.output.dequantized:
        return np.asarray(values)
    steps = np.rint(np.asarray(values, dtype=np.float64) / np.float64(np.float32(g.scale))).astype(np.int64)
    return (steps + g.zero_point).astype(g.qtype.dtype)


def first_divergence(graph: Graph, comparisons: dict[str, TensorComparison]) -> Divergence | None:
    """The first compared node, in execution order, whose output differs from the reference."""
    for n in graph.nodes:
        if n.output not in comparisons:
            continue
        first = comparisons[n.output].first
        if first is not None:
            return Divergence(n.name, n.op, n.output, *first)
    return None


def _accumulator(plan: ConvPlan, x: np.ndarray, index: tuple[int, ...]) -> int:
    """``acc_hw + bias_hw`` of one output (n, m, e, f) -- ONNX Runtime's ``acc + bias`` -- by a direct dot product."""
    node = plan.node
    x_hw = plan.accelerator_input(x)
    layer = plan.layer(x_hw)
    if layer.pad:
        x_hw = np.pad(x_hw, ((0, 0), (0, 0), (layer.pad,) * 2, (layer.pad,) * 2), constant_values=plan.pad_value)
    n, m, e, f = index if node.kind is ConvKind.CONV else (*index, 0, 0)
    g = m // layer.group_filters
    c0, h0, w0 = g * layer.group_channels, e * layer.stride, f * layer.stride
    window = x_hw[n, c0:c0 + layer.group_channels, h0:h0 + layer.R, w0:w0 + layer.S]
    return int((window * plan.weights[m]).sum()) + int(plan.bias[m])


def rounding_explanations(graph: Graph, plans: dict[str, ConvPlan], execution: Execution,
                          reference: dict[str, np.ndarray]) -> dict[str, dict]:
    """Why an accelerator node whose input equals the reference still differs: the requantization rule.

    For every differing value of such a node the accumulator is recomputed
    and requantized both ways: by the hardware stage (exact product, one
    rounding) and by ONNX Runtime's rule (the product rounded to float32
    first). A difference is *explained* when the stage's result is ours and
    ONNX Runtime's rule gives ONNX Runtime's value. Returns, by output tensor,
    ``{"differences", "explained", "example"}`` (the example: accumulator,
    float32 scale, exact product, its float32 rounding, both results).
    """
    out = {}
    for node in graph.nodes:
        plan = plans.get(node.output)
        if not isinstance(node, ConvNode) or plan.rule is not RequantRule.ACCELERATOR:
            continue
        x = execution.tensors[node.inputs[0]]
        if node.inputs[0] not in reference or node.output not in reference or not np.array_equal(
                x, reference[node.inputs[0]]):
            continue
        ours, ref = execution.tensors[node.output].astype(np.int64), reference[node.output].astype(np.int64)
        positions = np.argwhere(ours != ref)
        explained, example = 0, None
        for position in positions:
            index = tuple(int(i) for i in position)
            m = index[1]
            v = _accumulator(plan, x, index)
            raw = np.zeros((1, len(plan.bias), 1, 1), np.int64)
            raw[0, m] = v - plan.bias[m]  # the stage adds the bias itself
            stage = int(np.clip(plan.requant.apply(raw)[0, m, 0, 0] + plan.output_offset, *node.clamp))
            scale = plan.scale[m]
            rule = int(np.clip(requantize_accumulators(np.array([v]), scale, node.grid.zero_point, node.grid.qtype)[0],
                               *node.clamp))
            explained += stage == ours[index] and rule == ref[index]
            if example is None:
                example = {"index": list(index), "accumulator": v, "scale": float(scale),
                           "exact_product": float(np.float64(v) * np.float64(scale)),
                           "float32_product": float(np.float32(v) * scale), "stage": stage, "onnxruntime_rule": rule}
        if len(positions):
            out[node.output] = {"differences": int(len(positions)), "explained": int(explained), "example": example}
    return out


def top1_agreement(ours: np.ndarray, reference: np.ndarray) -> float | None:
    """Share of rows whose arg-max class agrees, for (N, classes) outputs; None for other shapes."""
    if np.ndim(ours) != 2 or np.shape(ours) != np.shape(reference):
        return None
    return float(np.mean(np.argmax(ours, axis=1) == np.argmax(reference, axis=1)))


def node_rows(graph: Graph, execution: Execution, plans: dict[str, ConvPlan], figures: dict[str, LayerPerformance],
              comparisons: dict[str, TensorComparison] | None) -> list[dict]:
    """The report's per-node entries (the keys of issue 13, plus the tensor, the lowering and the wall time)."""
    rows = []
    for run in execution.runs:
        n = run.node
        perf = figures.get(n.output)
        accelerator = n.where is Where.ACCELERATOR
        cmp = comparisons.get(n.output) if comparisons else None
        rows.append({
            "name": n.name, "op": n.op, "where": n.where.value, "shape": list(run.shape), "tensor": n.output,
            "cycles": perf.cycles if perf else None, "stall_cycles": perf.stall_cycles if perf else None,
            "dram_bytes": perf.dram_bytes if perf else None, "energy": perf.energy_pj if perf else None,
            "max_abs_diff_steps": cmp.max_abs_diff_steps if cmp else None,
            "exact_fraction": cmp.exact_fraction if cmp else None,
            "accelerator_layers": len(run.layers),
            "lowering": list(plans[n.output].notes) if accelerator else [],
            "perf_unavailable": perf.unavailable if perf else None,
            "seconds": run.seconds,
        })
    return rows


def totals(rows: list[dict], comparisons: dict[str, TensorComparison] | None, top1: float | None,
           divergence: Divergence | None) -> dict:
    """Network totals: figures summed over the accelerator nodes whose figures are available, and the comparison."""
    accelerator = [r for r in rows if r["where"] == Where.ACCELERATOR.value]
    available = [r for r in accelerator if r["perf_unavailable"] is None]
    out = {
        "cycles": sum(r["cycles"] for r in available), "stall_cycles": sum(r["stall_cycles"] for r in available),
        "dram_bytes": sum(r["dram_bytes"] for r in available), "energy": sum(r["energy"] for r in available),
        "accelerator_nodes": len(accelerator), "perf_unavailable_nodes": len(accelerator) - len(available),
        "top1_match": top1, "max_abs_diff_steps": None, "exact_fraction": None, "first_divergence": None,
    }
    if comparisons:
        values = sum(c.values for c in comparisons.values())
        exact = sum(c.exact_fraction * c.values for c in comparisons.values())
        out["max_abs_diff_steps"] = max(c.max_abs_diff_steps for c in comparisons.values())
        out["exact_fraction"] = exact / values if values else 1.0
        out["first_divergence"] = asdict(divergence) if divergence else None
    return out
