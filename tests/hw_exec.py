"""A tiny executor of :mod:`model.program` ops on ``qconv_top`` in amaranth.sim (shared by the hw tests)."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from hw.accelerator import Accelerator
from model.perf import COUNTERS
from model.program import READ_LATENCY, HostRead, HostRun, HostWrite, build_program

MAX_PASS_CYCLES = 200_000


def run_layers(config, jobs):
    """Run every ``(layer, x, w)`` or ``(layer, x, w, requant)`` of ``jobs`` on one simulated build, in order.

    Returns a list of ``(outputs NMEF int64, counters dict)`` per job; counters are the
    differences of the ``count_<name>`` ports over that job.
    """
    dut = Accelerator(config)
    results = []

    async def bench(ctx):
        def counts():
            return {name: ctx.get(getattr(dut, f"count_{name}")) for name in COUNTERS}

        for job in jobs:
            layer, x, w = job[:3]
            out = np.zeros(layer.output_shape, dtype=np.int64)
            before = counts()
            for op in build_program(config, layer, x, w, *job[3:]):
                if isinstance(op, HostWrite):
                    ctx.set(dut.host_sel, op.sel)
                    ctx.set(dut.host_addr, op.addr)
                    ctx.set(dut.host_lane, op.lane)
                    ctx.set(dut.host_wdata, op.data)
                    ctx.set(dut.host_we, 1)
                    await ctx.tick()
                    ctx.set(dut.host_we, 0)
                elif isinstance(op, HostRun):
                    ctx.set(dut.desc.as_value(), op.desc)
                    ctx.set(dut.start, 1)
                    await ctx.tick()
                    ctx.set(dut.start, 0)
                    for _ in range(MAX_PASS_CYCLES):
                        if ctx.get(dut.done):
                            break
                        await ctx.tick()
                    else:
                        raise AssertionError(f"done never rose within {MAX_PASS_CYCLES} cycles ({op.fields})")
                elif isinstance(op, HostRead):
                    ctx.set(dut.host_sel, op.sel)
                    ctx.set(dut.host_addr, op.addr)
                    ctx.set(dut.host_lane, op.lane)
                    ctx.set(dut.host_chan, op.chan)
                    ctx.set(dut.host_re, 1)
                    await ctx.tick()
                    ctx.set(dut.host_re, 0)
                    for _ in range(READ_LATENCY - 1):
                        await ctx.tick()
                    value = ctx.get(dut.host_rdata)
                    bits = config.acc_bits
                    out[op.index] = value - (1 << bits) if value >> (bits - 1) else value
            after = counts()
            results.append((out, {name: after[name] - before[name] for name in COUNTERS}))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results
