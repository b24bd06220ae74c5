"""Co-simulation jobs, prepared and scored in the parent process.

A :class:`Job` is a layer with its operands: the parent builds its host
program, expected outputs and prediction **once** (:func:`make_job`); a back
end only runs the program and returns what it saw (:class:`sim.executor.RawRun`);
:func:`score` turns that into the result record, comparing outputs bit for bit
and cycles and every counter exactly with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands, random_requant
from model.layer import ConvLayer
from model.perf import Prediction, predict
from model.program import HostRead, HostRun, RequantParams, build_program
from sim.executor import Program, RawRun, done_timeout
from sim.scoreboard import check

__all__ = ["Job", "make_job", "random_job", "read_outputs", "score"]


@dataclass(frozen=True)
class Job:
    """One layer to co-simulate: its program, the output index of each read, the golden outputs and
    the model's prediction. ``seed`` names the operands (None when they were given)."""

    layer: ConvLayer
    seed: int | None
    program: Program
    reads: tuple
    expected: np.ndarray
    prediction: Prediction


def make_job(config: AcceleratorConfig, layer: ConvLayer, x: np.ndarray, w: np.ndarray,
             requant: RequantParams | None = None, *, seed: int | None = None, transfers: bool = True) -> Job:
    """The job of ``layer`` with input ``x`` (NCHW) and weights ``w`` (MCRS) on ``config``.

    ``requant``: outputs through the requantization stage, expected ``requant.apply`` of the
    accumulators. ``transfers=False`` keeps only the passes (no buffer writes or reads: the
    simulator-speed benchmark times the computation alone).

    Raises
    ------
    ValueError
        If the layer does not fit the build or an operand is out of range.
    """
    prediction = predict(config, layer)
    ops = build_program(config, layer, x, w, requant)
    if not transfers:
        ops = [op for op in ops if isinstance(op, HostRun)]
    expected = conv2d_layer(x, w, layer, config.bits)
    if requant is not None:
        expected = requant.apply(expected)
    reads = tuple(op.index for op in ops if isinstance(op, HostRead))
    return Job(layer, seed, Program(tuple(ops), done_timeout(prediction.cycles)), reads, expected, prediction)


def random_job(config: AcceleratorConfig, layer: ConvLayer, seed: int, requant: bool = False,
               transfers: bool = True) -> Job:
    """A job with seeded uniform operands (:func:`model.data.random_operands`); ``requant`` adds
    seeded requantization parameters (:func:`model.data.random_requant`, ReLU for odd seeds)."""
    rng = np.random.default_rng(seed)
    x, w = random_operands(layer, config.bits, rng)
    rq = random_requant(layer, config.bits, rng, relu=seed % 2 == 1) if requant else None
    return make_job(config, layer, x, w, rq, seed=seed, transfers=transfers)


def read_outputs(job: Job, run: RawRun) -> np.ndarray | None:
    """The outputs the program read (NMEF int64), or None if it stopped before its last read."""
    if run.error_kind is not None or len(run.values) != len(job.reads):
        return None
    outputs = np.zeros(job.layer.output_shape, dtype=np.int64)
    if job.reads:
        outputs[tuple(np.array(job.reads).T)] = run.values
    return outputs


def score(job: Job, run: RawRun) -> dict:
    """The JSON-ready result record of ``job`` from what the back end saw (see
    :func:`sim.scoreboard.check`), plus ``error_kind``, ``error`` and ``seconds``.

    A program without reads (``transfers=False``) is judged on cycles and counters only.
    """
    outputs = read_outputs(job, run)
    rtl = {name: run.counters.get(name) for name in job.prediction.counters}
    got = outputs if outputs is not None else np.zeros_like(job.expected)
    record = check(job.layer, job.seed, job.expected if job.reads else got, got, job.prediction.counters, rtl)
    record |= {"error_kind": run.error_kind and str(run.error_kind), "error": run.error, "seconds": run.seconds}
    if outputs is None:  # stopped early: outputs and counters are incomplete, the error says why
        record |= {"pass": False, "outputs_match": False, "first_mismatch": None, "counter_mismatches": []}
    return record
