"""The DMA engines in co-simulation against cocotbext-axi's AxiRam (code no one here wrote), on Icarus and
Verilator: a DRAM-to-DRAM copy (read DMA -> FIFO -> write DMA) with seeded pauses on AR, R, AW, W and B.

Each case's memory is judged against a numpy copy of its runs, its counters against the byte count and
model/bursts.py, its cycles against the no-stall bound; faults (SLVERR from the RAM) must end the copy
with a clear error and no hang, and the copy after a fault must be exact again.
"""

import numpy as np
import pytest

from sim.axi.copy_run import CopyCase, FaultSide, check_copy, no_stall_bound, run_copy
from sim.simulators import SIMULATORS

MEM_BYTES = 1 << 16

CASES = [
    # 8195 bytes = 1025 beats (the last one 3 bytes), crossing 4 KiB twice on each side, no pauses
    CopyCase("long", src=0x0F00, dst=0x8040, run_bytes=8195),
    CopyCase("strided", src=0x2000, dst=0xA000, run_bytes=300, count=6, src_stride=512, dst_stride=640,
             pause=0.3, seed=1),
    CopyCase("boundary", src=0x1F80, dst=0x5FF8, run_bytes=3000, pause=0.3, seed=2),
    CopyCase("read-fault", src=0x3000, dst=0xC000, run_bytes=4096, pause=0.2, seed=3,
             fault=FaultSide.READ, fault_window=(0x3800, 0x3808)),
    CopyCase("after-read-fault", src=0x0100, dst=0xE000, run_bytes=1000, count=2, src_stride=1024,
             dst_stride=1008, pause=0.2, seed=4),
    CopyCase("write-fault", src=0x4000, dst=0xD000, run_bytes=4096, pause=0.2, seed=5,
             fault=FaultSide.WRITE, fault_window=(0xD400, 0xD408)),
    CopyCase("after-write-fault", src=0x6100, dst=0xF000, run_bytes=777, pause=0.4, seed=6),
]


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_copy_against_axiram_with_pauses_and_faults(simulator, require_simulator):
    require_simulator(simulator)
    image = np.random.default_rng(7).integers(0, 256, MEM_BYTES, dtype=np.uint8)
    results = run_copy(simulator, CASES, image)
    check_copy(CASES, results, image)
    by_name = {r.name: r for r in results}
    # the copy without pauses runs within a few cycles of one beat per cycle
    long = by_name["long"]
    assert long.cycles <= no_stall_bound(CASES[0]) + 16, long.cycles
    # pauses cost cycles
    strided = by_name["strided"]
    assert strided.cycles > 1.2 * no_stall_bound(CASES[1])


@pytest.mark.cosim
def test_copy_verilog_lints_clean(require_simulator):
    require_simulator("verilator")
    from sim.axi.copy_run import COPY_TOP, write_verilog
    from sim.lint import lint

    report = lint(write_verilog(64), top=COPY_TOP)
    assert report.failures == []
