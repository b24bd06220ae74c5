"""A reference for the command list (written from model/contract.py's format, not from the RTL):
the host-port writes a LOAD record makes from the DRAM bytes."""

import numpy as np

from model.commands import word_bytes
from model.contract import Buffer, Opcode
from model.program import HostWrite


def run_bytes(f: dict):
    """Byte addresses of a LOAD's or STORE's runs, in order, the leading ``skip`` bytes excluded."""
    for r in range(f["count"]):
        start = f["dram_addr"] + r * f["stride"]
        yield from range(start + f.get("skip", 0), start + f["run_bytes"])


def load_writes(config, dram, f: dict) -> list:
    """The host writes of an ifmap or weight LOAD with fields ``f`` on DRAM bytes ``dram``."""
    wb = word_bytes(config)
    data = bytes(dram[b] for b in run_bytes(f))
    assert len(data) == f["words"] * wb
    out = []
    for k in range(f["words"]):
        v = int.from_bytes(data[k * wb:(k + 1) * wb], "little")
        if f["buffer"] == Buffer.WEIGHT:
            out.append(HostWrite(Buffer.WEIGHT, f["buf_addr"] + k // config.cols, k % config.cols, v))
        else:
            out.append(HostWrite(Buffer(f["buffer"]), f["buf_addr"] + k, 0, v))
    return out


def pass_values(ops, golden) -> list:
    """Per RUN of a host program: the golden output each (psum line, lane) read after it holds."""
    from model.program import HostRead, HostRun

    per_pass = []
    for op in ops:
        if isinstance(op, HostRun):
            per_pass.append({})
        elif isinstance(op, HostRead):
            per_pass[-1][(op.addr, op.lane)] = golden[op.index]
    return per_pass


#: The byte the output region holds before the stores.
SENTINEL = 0xA5


def assert_outside_runs_untouched(image, dump):
    """Every byte of the output region outside the STORE runs still holds :data:`SENTINEL`."""
    out = np.frombuffer(dump, np.uint8)[image.out_addr:]
    covered = np.zeros(out.size, bool)
    for c in image.commands:
        if c.opcode is Opcode.STORE:
            f = c.fields
            for k in range(f["count"]):
                start = f["dram_addr"] + k * f["stride"] - image.out_addr
                covered[start:start + f["run_bytes"]] = True
    n, m, e, _ = image.out_shape
    region = slice(0, n * m * e * image.out_pitch)
    assert (out[region][~covered[region]] == SENTINEL).all(), "a byte outside every STORE run was written"
