"""Speed of the co-simulation's DRAM: bulk load and dump of a full image, and a long streaming read.

``python -m sim.dram.bench`` measures, on this machine:

* the wall time to load a 16 MiB image into ``qconv_dram`` (numpy hex image + ``$readmemh``) and to dump
  it back (``$writememh`` + numpy parse), on Verilator and Icarus, checking the dump equals the image;
* cycles per second of a long streaming read (256-beat bursts, 8 in flight) on Verilator, with the
  Verilog DRAM (no Python in the loop) and with cocotbext-axi's ``AxiRam`` (Python answers every beat),
  checking the beats and their XOR checksum.

The figures are printed and written to ``build/dram/bench.json``.
"""

from __future__ import annotations

import argparse
import enum
import json
import uuid
from functools import reduce
from pathlib import Path

import numpy as np

from model.contract import DMA_OUTSTANDING
from model.dram import DramConfig
from sim.dram import SOURCE, verilog_parameters
from sim.dram.run import BUILD_ROOT, build, run_cocotb, run_scenario
from sim.dram.scenario import Dump, Load
from sim.simulators import SIMULATORS

__all__ = ["BenchMismatch", "StreamMemory", "bulk_image", "streaming_read", "main"]

#: The benchmark's port: 64 bits.
BEAT_BYTES = 8
#: Bytes of one 256-beat burst.
BURST_BYTES = 256 * BEAT_BYTES
STREAM_SOURCE = Path(__file__).resolve().parent / "stream_reader.v"


#: Bursts the streaming reader keeps in flight: as many as the accelerator's DMA engines.
STREAM_OUTSTANDING = DMA_OUTSTANDING


class StreamMemory(enum.StrEnum):
    """What answers the streaming reader: the Verilog DRAM, or cocotbext-axi's ``AxiRam`` in Python."""

    VERILOG = "verilog"
    AXIRAM = "axiram"


class BenchMismatch(RuntimeError):
    """A benchmark run moved the wrong data (its figures would mean nothing)."""


def bulk_image(simulator: str, size_bytes: int = 2**24, seed: int = 1) -> dict:
    """Load a random image of ``size_bytes`` and dump it back on ``simulator``; seconds of each."""
    dram = DramConfig(size_bytes=size_bytes)
    image = np.random.default_rng(seed).integers(0, 256, size_bytes, dtype=np.uint8)
    trace = run_scenario(build(simulator, dram, BEAT_BYTES), [Load(0, image.tobytes()),
                                                               Dump(0, size_bytes // BEAT_BYTES - 1)])
    if trace.dumps[0] != image.tobytes():
        raise BenchMismatch(f"{simulator}: the dump differs from the loaded image")
    return {"simulator": simulator, "bytes": size_bytes, "load_s": trace.seconds[0], "dump_s": trace.seconds[1],
            "simulation_s": trace.wall}


def streaming_read(memory: StreamMemory, bursts: int, dram: DramConfig = DramConfig(), *, simulator: str = "verilator",
                   cxx_opt: str = "-O2", seed: int = 2) -> dict:
    """Cycles, wall seconds and cycles per second of ``bursts`` 256-beat reads by ``stream_reader.v``
    from ``memory`` (the Verilog DRAM has the timing ``dram``).

    Raises
    ------
    BenchMismatch
        If the beats or their checksum are not those of the image.
    """
    size_bytes = dram.size_bytes
    memory = StreamMemory(memory)
    if memory is StreamMemory.VERILOG:
        built = build(simulator, dram, BEAT_BYTES, top="qconv_dram_stream", sources=(SOURCE, STREAM_SOURCE),
                      parameters={**verilog_parameters(dram, BEAT_BYTES), "OUTSTANDING": STREAM_OUTSTANDING},
                      cxx_opt=cxx_opt)
    else:
        built = build(simulator, dram, BEAT_BYTES, top="qconv_dram_reader", sources=(STREAM_SOURCE,),
                      parameters={"DATA_BITS": 8 * BEAT_BYTES, "SPAN_BYTES": size_bytes,
                                  "OUTSTANDING": STREAM_OUTSTANDING}, cxx_opt=cxx_opt)
    run_dir = built.directory / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    image = np.random.default_rng(seed).integers(0, 256, size_bytes, dtype=np.uint8)
    image.tofile(run_dir / "image.bin")
    result = run_dir / "result.json"
    run_cocotb(built, "sim.dram.stream_testbench",
               {"QCONV_DRAM_MEMORY": memory.value, "QCONV_DRAM_IMAGE": str(run_dir / "image.bin"),
                "QCONV_DRAM_BURSTS": str(bursts), "QCONV_DRAM_INIT": str(run_dir / "init.hex"),
                "QCONV_DRAM_RESULT": str(result)},
               [f"+dram_init={run_dir / 'init.hex'}"], run_dir)
    got = json.loads(result.read_text())
    words = image.view(np.uint64).reshape(-1, BURST_BYTES // BEAT_BYTES)
    spans = [words[k % words.shape[0]] for k in range(bursts)]
    want = int(reduce(np.bitwise_xor, (np.bitwise_xor.reduce(s) for s in spans), np.uint64(0)))
    if got["beats"] != 256 * bursts or got["checksum"] != want:
        raise BenchMismatch(f"{memory}: {got['beats']} beats, checksum {got['checksum']:#x}; want {256 * bursts}, {want:#x}")
    return {"memory": memory.value, "bursts": bursts, **got, "cycles_per_s": got["cycles"] / got["wall_s"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.dram.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=4000, help="bursts of the Verilog-DRAM streaming read")
    parser.add_argument("--axiram-bursts", type=int, default=200, help="bursts of the AxiRam streaming read")
    args = parser.parse_args(argv)
    figures = {"bulk": [bulk_image(simulator) for simulator in SIMULATORS],
               "stream": [streaming_read(StreamMemory.VERILOG, args.bursts),
                          streaming_read(StreamMemory.AXIRAM, args.axiram_bursts)]}
    for row in figures["bulk"]:
        print(f"{row['simulator']:9s} 16 MiB image: load {row['load_s']:.2f} s, dump {row['dump_s']:.2f} s "
              f"(whole simulation {row['simulation_s']:.2f} s)")
    for row in figures["stream"]:
        print(f"verilator streaming read, {row['memory']:7s} DRAM: {row['cycles']} cycles in {row['wall_s']:.2f} s "
              f"= {row['cycles_per_s']:,.0f} cycles/s")
    out = BUILD_ROOT / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
