"""Run layers on the whole accelerator in amaranth.sim through the one host executor (shared by the hw tests)."""

from __future__ import annotations

from sim.amaranth_port import simulate
from sim.jobs import make_job, read_outputs


def run_layers(config, jobs):
    """Every ``(layer, x, w)`` or ``(layer, x, w, requant)`` of ``jobs`` on one simulated build, in order.

    Returns ``(outputs NMEF int64, counters dict)`` per job; the counters are their increase over the job.
    """
    prepared = [make_job(config, *job) for job in jobs]
    runs = simulate(config, [job.program for job in prepared])
    for run in runs:
        assert run.error is None, run.error
    return [(read_outputs(job, run), run.counters) for job, run in zip(prepared, runs)]
