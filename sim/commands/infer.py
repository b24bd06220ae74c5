"""``qconv infer``: the trained quantized digits CNN on the accelerator RTL, checked against the golden model.

Every conv layer (conv1, conv2 and the dense layer, a 2x2 convolution) runs on
the RTL with the requantization stage on; the host pads (8-bit: with the
input zero point), max-pools and passes the outputs on (:mod:`model.infer`).
Each layer's requantized outputs and pooled host outputs must be
bit-identical to the golden integer model, and the predicted classes equal.
Writes ``report.json`` (per-layer cycles, RTL vs model counters, per-inference
cycles and buffer accesses) in the output folder (``report_b1.json`` for the binary network).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from model.config import AcceleratorConfig
from model.infer import accelerator_stages
from model.contract import COUNTERS
from model.perf import predict
from model.quant.settings import StudySettings
from model.quant.trained import Network, TrainedNetworks, split_digits
from sim.cli import add_config_args, config_from_args
from sim.progress import track

#: Binary runs default to this weight depth and pack (acc_bits 16, room for the 16-bit logits).
BINARY_WEIGHT_DEPTH, BINARY_PACK, BINARY_MAX_REDUCTION = 1024, 16, 2**14
#: Buffer-access counters summed per inference in the report.
ACCESS_COUNTERS = tuple(n for n in COUNTERS if n.startswith(("glb_", "rf_", "dram_")))


def register(subparsers) -> None:
    """Add the ``infer`` sub-command."""
    p = subparsers.add_parser("infer", help="run the trained quantized digits CNN on the RTL, check it bit-exactly")
    add_config_args(p)
    p.add_argument("--images", type=int, default=8, help="test images in the batch (default 8)")
    p.add_argument("--sim", default="verilator", choices=("verilator", "icarus"), help="simulator")
    p.add_argument("--quant-dir", type=Path, default=Path("build/quant"),
                   help="where the study's networks are cached (those missing are trained there, as `qconv quant` does)")
    p.add_argument("--out", type=Path, default=Path("build/infer"), help="output folder (default build/infer)")
    p.add_argument("--seed", type=int, default=0, help="seed of the study's split and training (as `qconv quant`)")
    p.set_defaults(func=run)


def summarize(config: AcceleratorConfig, result: dict, images: int, labels: np.ndarray) -> dict:
    """The report: per-layer cycles and counters, per-inference totals, bit-exactness and classes."""
    stages = result["stages"]
    total = {k: sum(s["counters"][k]["rtl"] for s in stages) for k in COUNTERS}
    model_total = {k: sum(s["counters"][k]["model"] for s in stages) for k in COUNTERS}
    rtl, ref = np.array(result["rtl_classes"]), np.array(result["model_classes"])
    return {
        "config": config.to_dict(),
        "images": images,
        "layers": [{"layer": s["layer"], "shape": s["shape"], "cycles": s["counters"]["cycles"]["rtl"],
                    "model_cycles": s["counters"]["cycles"]["model"],
                    "counters_match": all(v["rtl"] == v["model"] for v in s["counters"].values()),
                    "requantized_match": s["requantized_match"], "host_output_match": s["host_output_match"],
                    "host_ops": s["host_ops"], "counters": s["counters"]} for s in stages],
        "batch": {"cycles": total["cycles"], "accesses": {k: total[k] for k in ACCESS_COUNTERS}},
        "per_inference": {"cycles": total["cycles"] / images,
                          "accesses": {k: total[k] / images for k in ACCESS_COUNTERS},
                          "buffer_accesses": sum(total[k] for k in ACCESS_COUNTERS if k.startswith("glb_")) / images},
        "counters_match_model": total == model_total,
        "bit_exact": all(s["requantized_match"] and s["host_output_match"] for s in stages),
        "rtl_classes": result["rtl_classes"], "model_classes": result["model_classes"],
        "classes_agree": bool(np.array_equal(rtl, ref)),
        "labels": [int(v) for v in labels],
        "accuracy_rtl": float(np.mean(rtl == labels)),
    }


def run(args) -> int:
    """Load (or train) the network, co-simulate it, check it, print and write the report."""
    from sim.infer import cosimulate_network
    from sim.runner import build

    start = time.perf_counter()
    config = config_from_args(args)
    if config.binary and args.weight_depth is None and args.pack is None and args.max_reduction is None:
        # the 16-bit logits need acc_bits >= 16: max_reduction 2**14 gives it (log2 K + 2 bits)
        config = config.replace(weight_depth=BINARY_WEIGHT_DEPTH, pack=BINARY_PACK, max_reduction=BINARY_MAX_REDUCTION)
    if config.bits not in (8, 1):
        raise ValueError(f"qconv infer runs the 8-bit (--bits 8) or the binary (--bits 1) network, not --bits {config.bits}")
    if args.images < 1:
        raise ValueError(f"--images must be at least 1, not {args.images}")
    from sklearn.datasets import load_digits  # slow to import: only once the arguments are good

    settings = StudySettings(seed=args.seed)
    digits = load_digits()
    networks = TrainedNetworks(split_digits(digits.images, digits.target, settings), settings, args.quant_dir,
                               track=track)
    network = networks.integer_network() if config.bits == 8 else networks.binary_network()
    source = str(networks.path(Network.FP32 if config.bits == 8 else Network.BINARY))
    images, labels = networks.data.x_test[:args.images], networks.data.y_test[:args.images]
    for stage in accelerator_stages(network, len(images)):
        predict(config, stage.layer)  # raises if a layer does not fit the build
    print(f"network {source}: {config.bits}-bit, {len(images)} images, {args.sim} on "
          f"{config.rows}x{config.cols} {config.dataflow} bits={config.bits}")
    built = build(config, args.sim)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "" if config.bits == 8 else f"_b{config.bits}"
    report_path = args.out / f"report{tag}.json"
    result = cosimulate_network(built, network, images)
    report = summarize(config, result, len(images), labels)
    report["network"] = source
    report_path.write_text(json.dumps(report, indent=1))
    print(f"{'layer':6} {'shape':48} {'cycles':>8} {'model':>8}  counters  bit-exact")
    for s in report["layers"]:
        print(f"{s['layer']:6} {s['shape']:48} {s['cycles']:8d} {s['model_cycles']:8d}  "
              f"{'match' if s['counters_match'] else 'DIFFER':8}  {s['requantized_match'] and s['host_output_match']}")
    per = report["per_inference"]
    print(f"per inference: {per['cycles']:.1f} cycles, {per['buffer_accesses']:.1f} global-buffer accesses "
          f"({', '.join(f'{k} {v:.1f}' for k, v in per['accesses'].items() if v)})")
    print(f"classes rtl {report['rtl_classes']} model {report['model_classes']} labels {report['labels']}: "
          f"{'agree' if report['classes_agree'] else 'DIFFER'}; bit-exact {report['bit_exact']}; "
          f"counters {'match' if report['counters_match_model'] else 'DIFFER'}")
    print(f"wrote {report_path} ({time.perf_counter() - start:.0f} s)")
    ok = report["bit_exact"] and report["classes_agree"] and report["counters_match_model"]
    return 0 if ok else 1
