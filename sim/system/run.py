"""Build ``qconv_system_dram`` for a simulator and run one layer's DRAM image on it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.verilog import generate_system
from model.commands import DramImage, word_bytes
from model.config import AcceleratorConfig
from model.dram import DramConfig
from sim.dram import SOURCE, read_image, verilog_parameters
from sim.dram.run import ScenarioFailed, build, run_cocotb
from sim.system import WRAPPER_TOP, wrapper_verilog

__all__ = ["BUILD_ROOT", "SystemRun", "run_system"]

#: Where System builds go (git-ignored).
BUILD_ROOT = Path("build") / "system"


@dataclass(frozen=True)
class SystemRun:
    """What one run returned: the DRAM after it, STATUS, ERROR, every counter, wall seconds."""

    dump: bytes
    status: int
    error: int
    counters: dict
    wall_s: float


def run_system(config: AcceleratorConfig, image: DramImage, simulator: str = "icarus",
               dram: DramConfig = DramConfig(), max_cycles: int = 10_000_000) -> SystemRun:
    """Run ``image`` (:func:`model.commands.build_image`) on the System with the Verilog DRAM.

    Raises
    ------
    ScenarioFailed
        If the simulation failed (the message names its log).
    """
    beat = config.axi_beat_bytes
    if len(image.data) > dram.size_bytes:
        raise ValueError(f"the DRAM image needs {len(image.data)} bytes, the DRAM has {dram.size_bytes}")
    src = (BUILD_ROOT / "src" / uuid.uuid5(uuid.NAMESPACE_OID, config.to_json()).hex[:12]).resolve()
    system_v = generate_system(config, word_bytes(config), src)
    wrapper_v = src / f"{WRAPPER_TOP}.v"
    wrapper_v.write_text(wrapper_verilog())
    built = build(simulator, dram, beat, root=BUILD_ROOT, top=WRAPPER_TOP, sources=(SOURCE, system_v, wrapper_v),
                  parameters=verilog_parameters(dram, beat))
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    image_file, init, dump, result = (run_dir / n for n in ("image.bin", "init.hex", "dump.hex", "result.json"))
    image_file.write_bytes(image.data)
    env = {"QCONV_SYS_IMAGE": str(image_file), "QCONV_SYS_INIT": str(init), "QCONV_SYS_DUMP": str(dump),
           "QCONV_SYS_COMMANDS": str(len(image.commands)), "QCONV_SYS_BEAT": str(beat),
           "QCONV_SYS_MAX_CYCLES": str(max_cycles), "QCONV_SYS_RESULT": str(result)}
    run_cocotb(built, "sim.system.testbench", env, [f"+dram_init={init}", f"+dram_dump={dump}"], run_dir)
    if not result.exists():
        raise ScenarioFailed(f"the {simulator} simulation wrote no result; see {run_dir / 'sim.log'}")
    out = json.loads(result.read_text())
    data = read_image(dump, beat)
    return SystemRun(np.asarray(data, np.uint8).tobytes()[:len(image.data)], out["status"], out["error"],
                     out["counters"], out["wall_s"])
