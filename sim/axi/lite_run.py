"""Build the AXI4-Lite control registers (:class:`hw.axi.lite_regs.LiteRegisters`) for a simulator and run a
script of register accesses on them through cocotbext-axi's ``AxiLiteMaster`` (:mod:`sim.axi.lite_testbench`)."""

from __future__ import annotations

import enum
import pickle
import uuid

from amaranth.back import verilog

from hw.axi.lite_regs import LiteRegisters
from model.dram import DramConfig
from sim.axi.copy_run import BUILD_ROOT, PERIOD_NS, write_design

__all__ = ["PERIOD_NS", "LITE_TOP", "LiteAction", "run_lite"]

#: Verilog module name of the registers.
LITE_TOP = "axi_lite_regs"


class LiteAction(enum.Enum):
    """One step of a script: ``(action, address, value)``."""

    WRITE = "write"    #: write ``value`` (bytes; their offset and length give the strobes) at ``address``
    READ = "read"      #: read the 32-bit register at ``address``
    BUSY = "busy"      #: set the ``busy`` input to ``value``
    DONE = "done"      #: pulse ``done`` for a cycle with ``error = value`` (and ``busy`` low)


def run_lite(simulator: str, ops: list[tuple[LiteAction, int, object]]) -> list[tuple[int, int | None, int]]:
    """Run ``ops``; per operation ``(resp, value read or None, start pulses so far)``.

    Raises
    ------
    sim.simulators.SimulatorMissing
        If the simulator is not installed.
    sim.dram.run.ScenarioFailed
        If the simulation failed.
    """
    from sim.dram.run import build, run_cocotb

    path = write_design((BUILD_ROOT / f"{LITE_TOP}.v").resolve(), verilog.convert(LiteRegisters(), name=LITE_TOP))
    built = build(simulator, DramConfig(), 4, root=BUILD_ROOT, top=LITE_TOP, sources=(path,), parameters={},
                  cxx_opt="-O0")
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    (run_dir / "ops.pkl").write_bytes(pickle.dumps(ops))
    results = run_dir / "results.pkl"
    run_cocotb(built, "sim.axi.lite_testbench",
               {"QCONV_AXI_LITE_OPS": str(run_dir / "ops.pkl"), "QCONV_AXI_LITE_RESULTS": str(results)}, [], run_dir)
    return pickle.loads(results.read_bytes())
