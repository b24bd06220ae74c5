"""AXI4 and AXI4-Lite interfaces, each declared once as an Amaranth wiring signature.

Members carry the AXI names (``arvalid``, ``rdata``, ...), so a port flattened by Amaranth reads
``m_axi__read__arvalid`` and cocotbext-axi binds it with ``bus_separator="__"``. Directions are
the master's (``Out`` = driven by the master); a slave holds the signature flipped.

* :class:`AxiReadSignature` -- AR and R channels of an AXI4 master (the read DMA);
* :class:`AxiWriteSignature` -- AW, W and B channels of an AXI4 master (the write DMA);
* :class:`AxiSignature` -- both, as ``read`` and ``write``;
* :class:`AxiLiteSignature` -- an AXI4-Lite master (the control registers hold it flipped);
* :data:`DmaCommand` -- the layout of a DMA command (``count`` strided runs, repeated ``repeat`` more times).

Every transaction uses ID 0 (:data:`model.contract.AXI_ID_BITS`); responses are
:class:`model.contract.AxiResp` codes.
"""

from __future__ import annotations

from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from model.config import AXI_DATA_WIDTHS
from model.contract import (
    AXI_ADDR_BITS, AXI_ID_BITS, AXI_LITE_DATA_BITS, AXI_MAX_BURST_BEATS, DMA_RUN_BYTES_BITS, DMA_RUN_COUNT_BITS,
)

__all__ = ["check_data_bits", "AxiReadSignature", "AxiWriteSignature", "AxiSignature", "AxiLiteSignature",
           "DmaCommand"]

_LEN_BITS = (AXI_MAX_BURST_BEATS - 1).bit_length()

#: A DMA command: ``count`` runs of ``run_bytes`` bytes, run k at ``addr + k * stride`` (beat-aligned),
#: the whole block of runs walked ``1 + repeat`` times, block b from ``addr + b * repeat_stride``.
DmaCommand = data.StructLayout({
    "addr": AXI_ADDR_BITS,
    "run_bytes": DMA_RUN_BYTES_BITS,
    "count": DMA_RUN_COUNT_BITS,
    "stride": AXI_ADDR_BITS,
    "repeat": DMA_RUN_COUNT_BITS,
    "repeat_stride": AXI_ADDR_BITS,
})


def check_data_bits(data_bits: int) -> int:
    """``data_bits`` if it is one of :data:`model.config.AXI_DATA_WIDTHS`, else ``ValueError``."""
    if data_bits not in AXI_DATA_WIDTHS:
        raise ValueError(f"data_bits must be one of {', '.join(map(str, AXI_DATA_WIDTHS))}, not {data_bits!r}")
    return data_bits


class AxiReadSignature(wiring.Signature):
    """The read channels of an AXI4 master: AR (address) and R (data).

    Parameters
    ----------
    data_bits : int
        RDATA width, 32, 64 or 128.
    """

    def __init__(self, data_bits: int):
        check_data_bits(data_bits)
        super().__init__({
            "arid": Out(AXI_ID_BITS), "araddr": Out(AXI_ADDR_BITS), "arlen": Out(_LEN_BITS), "arsize": Out(3),
            "arburst": Out(2), "arvalid": Out(1), "arready": In(1),
            "rid": In(AXI_ID_BITS), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
            "rready": Out(1),
        })


class AxiWriteSignature(wiring.Signature):
    """The write channels of an AXI4 master: AW (address), W (data, strobes) and B (response).

    Parameters
    ----------
    data_bits : int
        WDATA width, 32, 64 or 128 (WSTRB has one bit per byte).
    """

    def __init__(self, data_bits: int):
        check_data_bits(data_bits)
        super().__init__({
            "awid": Out(AXI_ID_BITS), "awaddr": Out(AXI_ADDR_BITS), "awlen": Out(_LEN_BITS), "awsize": Out(3),
            "awburst": Out(2), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1), "wvalid": Out(1), "wready": In(1),
            "bid": In(AXI_ID_BITS), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        })


class AxiSignature(wiring.Signature):
    """A whole AXI4 master: ``read`` (:class:`AxiReadSignature`) and ``write`` (:class:`AxiWriteSignature`).

    Parameters
    ----------
    data_bits : int
        Data width, 32, 64 or 128.
    """

    def __init__(self, data_bits: int):
        super().__init__({"read": Out(AxiReadSignature(data_bits)), "write": Out(AxiWriteSignature(data_bits))})


class AxiLiteSignature(wiring.Signature):
    """An AXI4-Lite master of :data:`~model.contract.AXI_LITE_DATA_BITS`-bit registers.

    Parameters
    ----------
    addr_bits : int
        Width of AWADDR/ARADDR (byte addresses).
    """

    def __init__(self, addr_bits: int = AXI_ADDR_BITS):
        if not isinstance(addr_bits, int) or not 3 <= addr_bits <= AXI_ADDR_BITS:
            raise ValueError(f"addr_bits must be an integer in 3..{AXI_ADDR_BITS}, not {addr_bits!r}")
        super().__init__({
            "awaddr": Out(addr_bits), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(AXI_LITE_DATA_BITS), "wstrb": Out(AXI_LITE_DATA_BITS // 8), "wvalid": Out(1),
            "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_bits), "arvalid": Out(1), "arready": In(1),
            "rdata": In(AXI_LITE_DATA_BITS), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })
