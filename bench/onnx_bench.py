"""Quantized ONNX networks against ONNX Runtime: exactness of every tensor, top-1, and wall time side by side.

Run ``python bench/onnx_bench.py [--images-digits 359]``; writes
``build/bench/onnx_networks.json`` and ``.md``. For the digits CNN (all held-out
test images), ResNet-18 and MobileNet-v1 (one 224x224 image each), built into
``build/models/`` first if missing (``qconv models``):

* every tensor against ONNX Runtime with each requantization rule (the
  accelerator's stage, and ONNX Runtime's float rule on raw accumulators):
  largest difference in output steps, share of exact values, first divergence,
  and how many differences the rule explains;
* top-1 of qconv and of ONNX Runtime (and accuracy on the digits' labels);
* wall time of ``--backend model`` (the golden integer model; import and
  planning excluded) beside ONNX Runtime's ``session.run`` on the same input
  in the same process, medians of 3, each with one thread (BLAS limited by
  threadpoolctl, ONNX Runtime's intra-op pool 1) and with the default threads.

Opt-in, ``--rtl verilator|icarus [--rtl-models digits,resnet18]``: each named model
also runs with every accelerator layer co-simulated on the RTL of the default
build (:func:`sim.network_backend.run_network`; one image, the digits
``--rtl-digits-images``), recording the verdict (every layer bit-exact, cycles
and every counter equal to the model), RTL and model cycles, whether every
tensor equals ``--backend model``'s, the layer programs and the wall times
(golden run, build, simulation, replay). ResNet-18 takes tens of minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from threadpoolctl import threadpool_limits

from model.config import AcceleratorConfig
from model.network import RequantRule, execute, golden_accelerator, import_model, prepare
from model.network.report import compare, first_divergence, rounding_explanations, top1_agreement
from sim.network_backend import Backend, run_network
from sim.network_models import MODELS_ROOT, ModelName, build_model, dataset_images
from sim.onnx_reference import reference_tensors
from sim.progress import StageProgress

OUT = Path("build/bench")
REPEATS = 3


def _median_seconds(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _ort_session(model: onnx.ModelProto, threads: int | None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _timings(graph, model, x, plans, accelerator) -> dict:
    out = {}
    for label, threads in (("one_thread", 1), ("default_threads", None)):
        s = _ort_session(model, threads)
        feed = {model.graph.input[0].name: x}
        s.run(None, feed)
        with threadpool_limits(limits=threads):
            ours = _median_seconds(lambda: execute(graph, x, plans, accelerator))
        theirs = _median_seconds(lambda: s.run(None, feed))
        out[label] = {"qconv_model_s": ours, "onnxruntime_s": theirs, "ratio": ours / theirs}
    return out


def measure(name: ModelName, images: int, config: AcceleratorConfig) -> dict:
    """Exactness under both rules, top-1 and timings of one bundled model."""
    path = MODELS_ROOT / f"{name}.onnx"
    if not path.exists():
        build_model(name)
    model, graph = onnx.load(path), import_model(path)
    x, labels = dataset_images(graph, images)
    accelerator = golden_accelerator(config)
    result = {"model": str(path), "images": int(len(x)), "nodes": len(graph.nodes),
              "accelerator_nodes": len(graph.accelerator_nodes)}
    for rule in RequantRule:
        plans = prepare(graph, config, rule)
        execution = execute(graph, x, plans, accelerator)
        ref = reference_tensors(model, x, [n.output for n in graph.nodes])
        cmp = compare(graph, execution, ref.tensors)
        values = sum(c.values for c in cmp.values())
        divergence = first_divergence(graph, cmp)
        explained = rounding_explanations(graph, plans, execution, ref.tensors)
        entry = {
            "reference_consistent": ref.consistent,
            "max_abs_diff_steps": max(c.max_abs_diff_steps for c in cmp.values()),
            "exact_fraction": sum(c.exact_fraction * c.values for c in cmp.values()) / values,
            "differing_values": int(round(sum((1 - c.exact_fraction) * c.values for c in cmp.values()))),
            "values": values,
            "output_max_abs_diff_steps": cmp[graph.output.tensor].max_abs_diff_steps,
            "top1_agreement": top1_agreement(execution.output, ref.output),
            "first_divergence": None if divergence is None else divergence.__dict__,
            "rounding_explained": {k: {"differences": v["differences"], "explained": v["explained"]}
                                   for k, v in explained.items()},
            "per_node": {n.name: {"max_abs_diff_steps": cmp[n.output].max_abs_diff_steps,
                                  "exact_fraction": cmp[n.output].exact_fraction} for n in graph.nodes},
        }
        if labels is not None:
            entry["accuracy_qconv"] = float(np.mean(np.argmax(execution.output, axis=1) == labels))
            entry["accuracy_onnxruntime"] = float(np.mean(np.argmax(ref.output, axis=1) == labels))
        result[rule.value] = entry
        if rule is RequantRule.ACCELERATOR:
            result["wall_time"] = _timings(graph, model, x, plans, accelerator)
    return result


def measure_rtl(name: ModelName, images: int, config: AcceleratorConfig, simulator: Backend) -> dict:
    """One bundled model with its accelerator layers co-simulated on ``simulator``: verdict, cycles, wall times."""
    path = MODELS_ROOT / f"{name}.onnx"
    if not path.exists():
        build_model(name)
    graph = import_model(path)
    x, _ = dataset_images(graph, images)
    plans = prepare(graph, config)
    with StageProgress() as progress:
        rtl = run_network(graph, x, plans, config, simulator, progress=progress)
    model = execute(graph, x, plans, golden_accelerator(config))
    return {"simulator": simulator.value, "images": int(len(x)), "programs": rtl.programs, "pass": rtl.passed,
            "failures": rtl.failures, "rtl_cycles": sum(c.rtl_cycles for c in rtl.checks.values()),
            "model_cycles": sum(c.model_cycles for c in rtl.checks.values()),
            "tensors_equal_model": rtl.passed and all(np.array_equal(rtl.execution.tensors[k], v)
                                                      for k, v in model.tensors.items()),
            "seconds": rtl.seconds}


def _markdown(results: dict) -> str:
    lines = ["| model | images | rule | max diff (steps) | exact share | differing values | output max diff | "
             "top-1 agreement | first divergence |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for rule in RequantRule:
            e = r[rule.value]
            d = e["first_divergence"]
            where = "none" if d is None else f"{d['node']} ({d['op']}) {tuple(d['index'])}: {d['ours']} vs {d['reference']}"
            lines.append(f"| {name} | {r['images']} | {rule} | {e['max_abs_diff_steps']} | {e['exact_fraction']:.6%} | "
                         f"{e['differing_values']} of {e['values']} | {e['output_max_abs_diff_steps']} | "
                         f"{e['top1_agreement']:.2%} | {where} |")
    lines += ["", "| model | threads | qconv --backend model (s) | ONNX Runtime (s) | ratio |", "|---|---|---|---|---|"]
    for name, r in results.items():
        for label, t in r["wall_time"].items():
            lines.append(f"| {name} | {label} | {t['qconv_model_s']:.3f} | {t['onnxruntime_s']:.4f} | {t['ratio']:.1f}x |")
    rtl = {name: r["rtl"] for name, r in results.items() if "rtl" in r}
    if rtl:
        lines += ["", "| model | simulator | images | layer programs | verdict | RTL cycles | model cycles | "
                  "tensors = model backend | simulation (s) | build (s) | total (s) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in rtl.items():
            t = r["seconds"]
            lines.append(f"| {name} | {r['simulator']} | {r['images']} | {r['programs']} | "
                         f"{'PASS' if r['pass'] else 'FAIL'} | {r['rtl_cycles']:,} | {r['model_cycles']:,} | "
                         f"{r['tensors_equal_model']} | {t['simulation']:.1f} | {t['build']:.1f} | {t['total']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Measure the three models; write the JSON and Markdown summaries."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images-digits", type=int, default=359, help="digits test images (default all 359)")
    p.add_argument("--rtl", choices=[Backend.VERILATOR.value, Backend.ICARUS.value],
                   help="also co-simulate the --rtl-models on this simulator (opt-in: ResNet-18 takes tens of minutes)")
    p.add_argument("--rtl-models", default="digits,resnet18",
                   help="comma-separated bundled models for --rtl (default digits,resnet18)")
    p.add_argument("--rtl-digits-images", type=int, default=8, help="digits images co-simulated with --rtl (default 8)")
    args = p.parse_args(argv)
    config = AcceleratorConfig()
    counts = {ModelName.DIGITS: args.images_digits, ModelName.RESNET18: 1, ModelName.MOBILENET_V1: 1}
    try:
        rtl_models = [ModelName(n) for n in args.rtl_models.split(",")] if args.rtl else []
    except ValueError:
        p.error(f"--rtl-models {args.rtl_models!r}: each must be one of {', '.join(m.value for m in ModelName)}")
    results = {name.value: measure(name, count, config) for name, count in counts.items()}
    for name in rtl_models:
        images = args.rtl_digits_images if name is ModelName.DIGITS else 1
        results[name.value]["rtl"] = measure_rtl(name, images, config, Backend(args.rtl))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "onnx_networks.json").write_text(json.dumps(results, indent=1))
    (OUT / "onnx_networks.md").write_text(_markdown(results))
    print(_markdown(results))
    print(f"wrote {OUT / 'onnx_networks.json'} and {OUT / 'onnx_networks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
