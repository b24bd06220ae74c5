"""One seeded layer through the System from DRAM, scored like ``qconv sim`` scores a host-port run.

:func:`run_layer` builds the layer's DRAM image (:func:`model.commands.build_image`), runs it on
``qconv_system_dram`` (:func:`sim.system.run.run_system`), and checks the outputs bit for bit
against the golden convolution and every counter exactly: the accelerator's
(:func:`model.system_perf.accelerator_counters`: :func:`model.perf.predict`'s, with the buffer
writes of the command list) and the System's (:func:`model.system_perf.predict_system`).
"""

from __future__ import annotations

import enum

import numpy as np

from model.commands import build_image, read_output
from model.config import AcceleratorConfig
from model.contract import StatusBit
from model.conv import conv2d_layer
from model.data import random_operands
from model.dram import DramConfig
from model.layer import ConvLayer
from model.system_perf import accelerator_counters, predict_system
from sim.scoreboard import check
from sim.system.run import run_system

__all__ = ["Memory", "dram_config", "run_layer"]

#: The smallest DRAM the co-simulation builds (a larger image gets the next power of two).
MIN_DRAM_BYTES = 16 << 20


class Memory(enum.StrEnum):
    """Where a co-simulated layer's operands come from."""

    HOST = "host"   #: poked into the global buffers through the host port (the accelerator alone)
    DRAM = "dram"   #: the System runs the layer's command list from DRAM (AXI4, DMAs)


def dram_config(config: AcceleratorConfig, bandwidth: int, latency: int) -> DramConfig:
    """The DRAM timing of a run, checked against ``config``'s AXI beat.

    Raises
    ------
    ValueError
        Naming the field (``bandwidth``: a power of two dividing the beat, 1..``axi_beat_bytes``;
        ``latency``: 2..4096), its value and the allowed range.
    """
    dram = DramConfig(latency=latency, bandwidth=bandwidth)
    dram.interval(config.axi_beat_bytes)
    return dram


def run_layer(config: AcceleratorConfig, layer: ConvLayer, seed: int, simulator: str, dram: DramConfig) -> dict:
    """Run ``layer`` with seeded operands (those of ``qconv sim --seed``) through the System.

    Returns
    -------
    dict
        :func:`sim.scoreboard.check`'s record (``counters``: the accelerator's
        :data:`~model.contract.COUNTERS` and the System's :data:`~model.contract.SYSTEM_COUNTERS`,
        each ``{"rtl", "model"}``), with ``pass`` false and ``error`` set if the System ended with
        an error status.

    Raises
    ------
    ValueError
        If the layer does not fit the build or the System cannot run it (:func:`model.commands.build_image`).
    """
    x, w = random_operands(layer, config.bits, np.random.default_rng(seed))
    image = build_image(config, layer, x, w)
    size = max(MIN_DRAM_BYTES, 1 << (len(image.data) - 1).bit_length())
    sized = DramConfig(latency=dram.latency, bandwidth=dram.bandwidth, size_bytes=size)
    model = accelerator_counters(config, layer, image) | predict_system(config, image, sized).counters
    run = run_system(config, image, simulator, sized, max_cycles=max(10_000_000, 4 * model["sys_cycles"]))
    record = check(layer, seed, conv2d_layer(x, w, layer, config.bits), read_output(image, run.dump), model,
                   run.counters)
    if not run.status & (1 << StatusBit.DONE) or run.status & (1 << StatusBit.ERROR):
        record |= {"pass": False, "error": f"the System ended with STATUS {run.status:#x}, ERROR {run.error}"}
    return record | {"wall_s": run.wall_s}
