"""The DMA engines and the control registers in co-simulation against cocotbext-axi's AxiRam (code no one here wrote), on Icarus and
Verilator: a DRAM-to-DRAM copy (read DMA -> FIFO -> write DMA) with seeded pauses on AR, R, AW, W and B.

Each case's memory is judged against a numpy copy of its runs, its counters against the byte count and
model/bursts.py, its cycles against the no-stall bound; faults (SLVERR from the RAM) must end the copy
with a clear error and no hang, and the copy after a fault must be exact again. The AXI4-Lite
registers answer cocotbext-axi's AxiLiteMaster as the register map says.
"""

import numpy as np
import pytest

from model.contract import AxiResp, ControlBit, DmaError, LiteRegister, StatusBit
from sim.axi.copy_run import CopyCase, FaultSide, check_copy, no_stall_bound, run_copy
from sim.axi.lite_run import LiteAction, run_lite
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


# The control registers through cocotbext-axi's AxiLiteMaster. Expected values worked by hand from the
# register map of model/contract.py: (resp, value read, start pulses so far) after each step.
OKAY, SLVERR = AxiResp.OKAY, AxiResp.SLVERR
LITE_SCRIPT = [
    ((LiteAction.WRITE, LiteRegister.CMD_ADDR, (0x12345678).to_bytes(4, "little")), (OKAY, None, 0)),
    ((LiteAction.WRITE, LiteRegister.CMD_COUNT, (0xAABBCCDD).to_bytes(4, "little")), (OKAY, None, 0)),
    ((LiteAction.WRITE, LiteRegister.CMD_COUNT + 1, b"\x11"), (OKAY, None, 0)),       # byte 1 alone
    ((LiteAction.READ, LiteRegister.CMD_ADDR, None), (OKAY, 0x12345678, 0)),
    ((LiteAction.READ, LiteRegister.CMD_COUNT, None), (OKAY, 0xAABB11DD, 0)),
    ((LiteAction.READ, LiteRegister.STATUS, None), (OKAY, 0, 0)),
    ((LiteAction.WRITE, LiteRegister.STATUS, b"\xff\xff\xff\xff"), (SLVERR, None, 0)),  # read-only
    ((LiteAction.WRITE, 0x14, b"\x01\x00\x00\x00"), (SLVERR, None, 0)),              # no register
    ((LiteAction.READ, 0x18, None), (SLVERR, 0, 0)),
    ((LiteAction.WRITE, LiteRegister.CONTROL, bytes([1 << ControlBit.START, 0, 0, 0])), (OKAY, None, 1)),
    ((LiteAction.READ, LiteRegister.CONTROL, None), (OKAY, 0, 1)),
    ((LiteAction.BUSY, 0, 1), (OKAY, None, 1)),
    ((LiteAction.WRITE, LiteRegister.CONTROL, bytes([1 << ControlBit.START, 0, 0, 0])), (OKAY, None, 1)),
    ((LiteAction.READ, LiteRegister.STATUS, None), (OKAY, 1 << StatusBit.BUSY, 1)),
    ((LiteAction.DONE, 0, DmaError.DECERR), (OKAY, None, 1)),
    ((LiteAction.READ, LiteRegister.STATUS, None), (OKAY, (1 << StatusBit.DONE) | (1 << StatusBit.ERROR), 1)),
    ((LiteAction.READ, LiteRegister.ERROR, None), (OKAY, DmaError.DECERR, 1)),
    ((LiteAction.WRITE, LiteRegister.CONTROL, bytes([1 << ControlBit.START, 0, 0, 0])), (OKAY, None, 2)),
    ((LiteAction.READ, LiteRegister.STATUS, None), (OKAY, 0, 2)),
    ((LiteAction.DONE, 0, DmaError.NONE), (OKAY, None, 2)),
    ((LiteAction.READ, LiteRegister.STATUS, None), (OKAY, 1 << StatusBit.DONE, 2)),
    ((LiteAction.READ, LiteRegister.ERROR, None), (OKAY, DmaError.NONE, 2)),
    ((LiteAction.READ, LiteRegister.CMD_ADDR | 0x1000, None), (OKAY, 0x12345678, 2)),  # decoded on low bits
]


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_control_registers_through_axilitemaster(simulator, require_simulator):
    require_simulator(simulator)
    got = run_lite(simulator, [op for op, _ in LITE_SCRIPT])
    assert len(got) == len(LITE_SCRIPT)
    for step, ((op, want), seen) in enumerate(zip(LITE_SCRIPT, got)):
        assert seen == want, f"step {step} {op[0].value} {op[1]:#x}: got {seen}, want {want}"
