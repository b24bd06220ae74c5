"""``qconv run MODEL.onnx``: a quantized ONNX network on the accelerator, compared tensor by tensor with ONNX Runtime.

The model is imported and every accelerator layer planned on the chosen
build before anything runs (an unsupported op, a float model, an input of the
wrong shape or dtype, a corrupt file, accumulators that could overflow the
build or, on an RTL backend, a layer that does not fit the build's buffers are
each a one-line error, exit status 2). Convolutions run through
:func:`sim.network_backend.run_network` (``--backend model``: the golden
integer model; ``verilator``/``icarus``: every layer co-simulated on the RTL in
one simulation and checked bit for bit, cycles and counters against the model,
exit status 1 naming the node and the layer on any mismatch), the other nodes
on the host with ONNX Runtime's integer semantics; each accelerator layer's
cycles and energy come from :func:`model.network.performance.layer_performance`
(and, on an RTL backend, the RTL's cycles beside them). ``--compare`` runs ONNX
Runtime on the same input with every tensor exposed and reports per node the
largest difference in output steps, the share of exact values and the first
diverging node; the exit status is 1 when the final output differs by more
than ``--tolerance`` steps.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx

from model.network import RequantRule, import_model, prepare
from model.network.lowering import OUT_BITS
from model.network.performance import ENERGY_TABLE, combine, layer_performance
from model.network.report import (compare, first_divergence, node_rows, quantized_output, rounding_explanations,
                                  top1_agreement, totals)
from sim.cli import add_config_args, config_from_args
from sim.network_backend import Backend, NetworkRun, run_network
from sim.progress import StageProgress
from sim.network_models import dataset_images
from sim.network_report import format_table, write_report

#: Default report folder.
RUN_ROOT = Path("build/run")


def register(subparsers) -> None:
    """Add the ``run`` sub-command."""
    p = subparsers.add_parser("run", help="run a quantized ONNX model on the accelerator, compare with ONNX Runtime")
    p.add_argument("model", type=Path, help="quantized ONNX model (QDQ or QOperator)")
    add_config_args(p)
    p.add_argument("--backend", default=Backend.MODEL.value, choices=[b.value for b in Backend],
                   help="where accelerator layers run (default: %(default)s)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="input batch, a .npy file (float32, the model's input shape)")
    source.add_argument("--images", type=int, help="the first N images of the data set the model names")
    p.add_argument("--seed", type=int, default=0, help="seed of generated images (default 0)")
    p.add_argument("--compare", action="store_true", help="run ONNX Runtime too and compare every tensor")
    p.add_argument("--tolerance", type=int, default=1,
                   help="largest difference of the final output, in output steps, that still passes (default 1)")
    p.add_argument("--requant", default=RequantRule.ACCELERATOR.value, choices=[r.value for r in RequantRule],
                   help="requantization of convolutions: the accelerator's stage, or raw accumulators with ONNX "
                        "Runtime's float rule on the host (default: %(default)s)")
    p.add_argument("--output", type=Path, help="save the network output (as ONNX Runtime returns it) as .npy")
    p.add_argument("--json", type=Path, help="report path (default build/run/<model>.json; a .png plot beside it)")
    p.set_defaults(func=run_command)


def _load_input(args, graph) -> tuple[np.ndarray, np.ndarray | None]:
    if args.input is None:
        return dataset_images(graph, args.images, args.seed)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read --input {args.input}: {err}") from None
    return x, None


def run_command(args) -> int:
    """Import, plan, run, compare, report; exit status 1 when the output is beyond the tolerance."""
    if args.tolerance < 0:
        raise ValueError(f"--tolerance must be >= 0, not {args.tolerance}")
    config = config_from_args(args)
    backend, rule = Backend(args.backend), RequantRule(args.requant)
    graph = import_model(args.model)
    plans = prepare(graph, config, rule)
    x, labels = _load_input(args, graph)
    with StageProgress() as progress:
        network = run_network(graph, x, plans, config, backend, progress=progress)
    execution, seconds = network.execution, network.seconds["total"]
    out_bits = OUT_BITS if rule is RequantRule.ACCELERATOR else config.acc_bits
    figures = {run.node.output: combine([layer_performance(config, layer, out_bits) for layer in run.layers])
               for run in execution.runs if run.layers}
    comparisons = divergence = top1 = reference_output = None
    explanations: dict = {}
    consistent = reference_seconds = None
    if args.compare and network.passed:
        from sim.onnx_reference import reference_tensors

        start = time.perf_counter()
        ref = reference_tensors(onnx.load(args.model), x, [n.output for n in graph.nodes])
        reference_seconds = time.perf_counter() - start
        consistent, reference_output = ref.consistent, ref.output
        # exposing the tensors changed ONNX Runtime's fusions: compare the output of the model as given only
        reference = ref.tensors if consistent else {graph.output.tensor: quantized_output(graph, ref.output)}
        comparisons = compare(graph, execution, reference)
        divergence = first_divergence(graph, comparisons)
        top1 = top1_agreement(execution.output, reference_output)
        explanations = rounding_explanations(graph, plans, execution, reference)
    rows = node_rows(graph, execution, plans, figures, comparisons)
    if backend is not Backend.MODEL:
        _add_rtl(rows, network)
    report = {
        "model": str(args.model), "form": graph.form.value, "backend": backend.value, "requant": rule.value,
        "config": config.to_dict(), "images": int(x.shape[0]), "energy_unit": "pJ", "energy_table": ENERGY_TABLE,
        "seconds": seconds, "reference_seconds": reference_seconds, "reference_consistent": consistent,
        "nodes": rows, "totals": totals(rows, comparisons, top1, divergence),
        "rounding_differences": explanations,
    }
    if backend is not Backend.MODEL:
        report["rtl"] = {"simulator": backend.value, "pass": network.passed, "programs": network.programs,
                         "seconds": network.seconds, "failures": network.failures}
        report["totals"]["rtl_cycles"] = sum(c.rtl_cycles for c in network.checks.values())
        report["totals"]["rtl_pass"] = network.passed
    if labels is not None and network.passed:
        report["totals"]["accuracy"] = float(np.mean(np.argmax(execution.output, axis=1) == labels))
        if reference_output is not None:
            report["totals"]["reference_accuracy"] = float(np.mean(np.argmax(reference_output, axis=1) == labels))
    if args.output and network.passed:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.output, execution.output)
    path, plot = write_report(report, args.json or RUN_ROOT / f"{args.model.stem}.json")
    print(format_table(report))
    print(f"ran {report['images']} input(s) in {seconds:.2f} s ({backend}{_rtl_times(network)}); "
          f"report {path}, plot {plot}")
    if not network.passed:
        print(f"FAIL: {len(network.failures)} layer(s) differ between the {backend} RTL and the model "
              f"(no output saved, no comparison made):")
        print("\n".join(f"  {line}" for line in network.failures))
        return 1
    if comparisons is None:
        return 0
    final = comparisons[graph.output.tensor].max_abs_diff_steps
    if final > args.tolerance:
        print(f"FAIL: the output differs from ONNX Runtime by {final} steps (tolerance {args.tolerance})")
        return 1
    return 0


def _add_rtl(rows: list[dict], network: NetworkRun) -> None:
    """Each accelerator row gains ``rtl_cycles``, ``model_cycles`` (the sum of ``model.perf``'s), ``rtl_pass`` and
    ``rtl_failures``; host rows get None."""
    for row in rows:
        check = network.checks.get(row["tensor"])
        if check is None:
            row |= {"rtl_cycles": None, "model_cycles": None, "rtl_pass": None, "rtl_failures": None}
        else:
            row |= {"rtl_cycles": check.rtl_cycles, "model_cycles": check.model_cycles, "rtl_pass": check.passed,
                    "rtl_failures": list(check.failures)}


def _rtl_times(network: NetworkRun) -> str:
    s = network.seconds
    if not network.programs:
        return ""
    return (f": {network.programs} layer programs in one simulation, build {s['build']:.2f} s, "
            f"simulation {s['simulation']:.2f} s")
