"""cocotbext-axi's RAM halves with an error window: an access inside it fails, answered SLVERR or DECERR.

Used by the AXI co-simulations (the DMA copy, ``sim/axi/copy_testbench.py``, and the System,
``sim/system/axiram_testbench.py``) to prove that an error response ends a transfer cleanly.
"""

from __future__ import annotations

from cocotbext.axi import AxiRamRead, AxiRamWrite

from model.contract import AxiResp

__all__ = ["ErrorWindowRead", "ErrorWindowWrite"]


def _in(window, address: int) -> bool:
    return window is not None and window[0] <= address < window[1]


def _answer_with(channel, resp_of) -> None:
    """Make ``channel`` (the R or B source) send ``resp_of()`` in place of SLVERR.

    cocotbext-axi answers every access that raised with SLVERR; DECERR needs the response rewritten
    on its way out, so the channel's ``send`` is wrapped (the only hook the RAM offers)."""
    send = channel.send

    async def rewritten(item) -> None:
        if int(getattr(item, "rresp", getattr(item, "bresp", 0))) == AxiResp.SLVERR:
            resp = resp_of()
            if hasattr(item, "rresp"):
                item.rresp = resp
            else:
                item.bresp = resp
        await send(item)

    channel.send = rewritten


class ErrorWindowRead(AxiRamRead):
    """``AxiRamRead`` whose reads inside ``window`` fail, answered ``resp``."""

    window: tuple[int, int] | None = None
    resp: int = AxiResp.SLVERR

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _answer_with(self.r_channel, lambda: self.resp)

    async def _read(self, address, length):
        if _in(self.window, address):
            raise OSError(f"injected read fault at {address:#x}")
        return await super()._read(address, length)


class ErrorWindowWrite(AxiRamWrite):
    """``AxiRamWrite`` whose writes inside ``window`` fail, answered ``resp``."""

    window: tuple[int, int] | None = None
    resp: int = AxiResp.SLVERR

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _answer_with(self.b_channel, lambda: self.resp)

    async def _write(self, address, data):
        if _in(self.window, address):
            raise OSError(f"injected write fault at {address:#x}")
        await super()._write(address, data)
