"""A quantized network on the RTL: every accelerator stage co-simulated in one simulation, checked per stage.

The parent prepares every stage's job at once (:func:`sim.jobs.make_job`):
stage ``k``'s input is the golden model's output of stage ``k-1``, so a stage
that differs is reported where it first differs, not smeared over the stages
after it. Each stage is then checked twice: its requantized outputs against
the golden integer model (and its cycles and counters against the model), and
the host's finishing of the RTL's outputs (pooling, logits) against the golden
host output.
"""

from __future__ import annotations

import numpy as np

from model.config import AcceleratorConfig
from model.infer import accelerator_stages, golden_stage_outputs
from model.program import HostRead, HostRun, HostWrite
from sim.jobs import make_job, read_outputs, score
from sim.runner import Build, run_programs

__all__ = ["network_input", "cosimulate_network"]


def network_input(network, images: np.ndarray) -> np.ndarray:
    """The network's integer input for ``images``: thresholded bits (binary) or quantized codes."""
    return network.input_bits(images) if hasattr(network, "input_bits") else network.quantize_input(images)


def _first_mismatch(a: np.ndarray, b: np.ndarray):
    bad = np.argwhere(a != b)
    return None if not bad.size else {"index": [int(i) for i in bad[0]], "rtl": int(a[tuple(bad[0])]),
                                      "model": int(b[tuple(bad[0])])}


def cosimulate_network(built: Build, network, images: np.ndarray) -> dict:
    """Run every stage of ``network`` on ``built``; per stage the checks, then the classes.

    Returns
    -------
    dict
        ``stages`` (per stage ``layer``, ``shape``, ``requantized_match``, ``first_mismatch``,
        ``host_output_match``, ``host_ops`` and ``counters`` {rtl, model}), ``rtl_classes``
        and ``model_classes``.
    """
    config: AcceleratorConfig = built.config
    stages = accelerator_stages(network, len(images))
    golden = golden_stage_outputs(network, images)
    inputs = [network_input(network, images), *golden[:-1]]
    jobs = [make_job(config, stage.layer, stage.prepare(host), stage.weights, stage.requant)
            for stage, host in zip(stages, inputs)]
    runs = run_programs(built, [job.program for job in jobs])
    results, host = [], None
    for stage, job, run, want_host in zip(stages, jobs, runs, golden):
        record = score(job, run)
        out = read_outputs(job, run)
        host = stage.finish(out if out is not None else np.zeros_like(job.expected))
        ops = job.program.ops
        results.append({
            "layer": stage.name, "shape": str(stage.layer),
            "requantized_match": bool(record["outputs_match"]),
            "first_mismatch": record["first_mismatch"] or ({"error": record["error"]} if record["error"] else None),
            "host_output_match": bool(np.array_equal(host, want_host)),
            "host_ops": {"writes": sum(isinstance(o, HostWrite) for o in ops),
                         "reads": sum(isinstance(o, HostRead) for o in ops),
                         "runs": sum(isinstance(o, HostRun) for o in ops)},
            "counters": record["counters"],
        })
    return {"stages": results, "rtl_classes": [int(c) for c in host.argmax(axis=1)],
            "model_classes": [int(c) for c in golden[-1].argmax(axis=1)]}
