"""The co-simulation's DRAM: the Verilog model (``qconv_dram.v``) and its bulk memory images.

The DRAM is loaded and read back in bulk: the testbench writes a hex image with :func:`write_image`
and pulses the model's ``load`` input (``$readmemh``), or pulses ``dump`` (``$writememh``) and reads
the file back with :func:`read_image`; both are vectorised numpy, no Python loop over words. One
word of the image is one AXI beat, bytes in lane order (the byte at address ``a`` is lane
``a % beat_bytes``), written most significant lane first as ``$readmemh`` expects.

The Verilog's parameters come from :func:`verilog_parameters`, from the one DRAM configuration
(:class:`model.dram.DramConfig`), so the simulator's DRAM and the timing model cannot disagree.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from model.contract import AXI_ADDR_BITS, AXI_ID_BITS
from model.dram import DRAM_QUEUE_DEPTH, DramConfig

__all__ = ["SOURCE", "TOP", "verilog_parameters", "write_image", "read_image"]

#: The Verilog source of the DRAM model.
SOURCE = Path(__file__).resolve().parent / "qconv_dram.v"
#: Its module name.
TOP = "qconv_dram"

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: Two hex digits (ASCII) for each byte value.
_BYTE_HEX = np.stack([_HEX_DIGITS[np.arange(256) >> 4], _HEX_DIGITS[np.arange(256) & 15]], axis=1)
#: Nibble value of each ASCII code, 255 for a character that is no hex digit.
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_NIBBLE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16)
_NIBBLE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16)
_COMMENT = re.compile(rb"//[^\n]*\n")


def verilog_parameters(dram: DramConfig, beat_bytes: int) -> dict[str, int]:
    """The parameters of ``qconv_dram`` for ``dram`` on a port of ``beat_bytes`` bytes per beat."""
    return {
        "DATA_BITS": 8 * beat_bytes,
        "ID_BITS": AXI_ID_BITS,
        "ADDR_BITS": AXI_ADDR_BITS,
        "LATENCY": dram.latency,
        "INTERVAL": dram.interval(beat_bytes),
        "SIZE_BYTES": dram.size_bytes,
        "QUEUE_DEPTH": DRAM_QUEUE_DEPTH,
    }


def write_image(path: Path, data: bytes | np.ndarray, beat_bytes: int) -> int:
    """Write ``data`` (bytes from word 0 on) as a ``$readmemh`` image of ``beat_bytes``-byte words.

    A partial last word is padded with zeros. Returns the number of words written (load them as
    words ``first .. first + n - 1``).
    """
    raw = np.frombuffer(bytes(data), dtype=np.uint8) if isinstance(data, (bytes, bytearray)) \
        else np.ascontiguousarray(data).view(np.uint8).ravel()
    if raw.size == 0:
        raise ValueError("data must hold at least one byte, not 0")
    words = -(-raw.size // beat_bytes)
    padded = np.zeros(words * beat_bytes, dtype=np.uint8)
    padded[:raw.size] = raw
    lanes = padded.reshape(words, beat_bytes)[:, ::-1]                  # most significant lane first
    text = np.empty((words, 2 * beat_bytes + 1), dtype=np.uint8)
    text[:, :-1] = _BYTE_HEX[lanes].reshape(words, 2 * beat_bytes)
    text[:, -1] = ord("\n")
    Path(path).write_bytes(text.tobytes())
    return words


def read_image(path: Path, beat_bytes: int) -> np.ndarray:
    """The bytes of a ``$writememh`` dump of ``beat_bytes``-byte words (Icarus's ``//`` address
    comments are skipped), as a uint8 array in address order.

    Raises
    ------
    ValueError
        If a line is not ``2 * beat_bytes`` hex digits (e.g. an ``x`` from an undriven word).
    """
    raw = _COMMENT.sub(b"", Path(path).read_bytes())
    line = 2 * beat_bytes + 1
    if len(raw) % line:
        raise ValueError(f"{path}: expected lines of {2 * beat_bytes} hex digits, the file has {len(raw)} bytes")
    text = np.frombuffer(raw, dtype=np.uint8).reshape(-1, line)
    nibbles = _NIBBLE[text[:, :-1]]
    if (nibbles == 255).any() or (text[:, -1] != ord("\n")).any():
        bad = int(np.argmax((nibbles == 255).any(axis=1) | (text[:, -1] != ord("\n"))))
        raise ValueError(f"{path}: word {bad} is not {2 * beat_bytes} hex digits: {bytes(text[bad])!r}")
    lanes = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return np.ascontiguousarray(lanes[:, ::-1]).ravel()
