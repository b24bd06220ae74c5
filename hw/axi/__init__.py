"""The memory-system RTL: AXI4 DMA engines, the burst walker and the AXI4-Lite control registers.

* :mod:`hw.axi.signatures` -- AXI4 read/write master and AXI4-Lite signatures, the DMA command layout;
* :mod:`hw.axi.burst_walker` -- a command (strided runs) -> bursts, by the rule of :mod:`model.bursts`;
* :mod:`hw.axi.read_dma` -- AR/R master: bursts in flight, beats out as a stream;
* :mod:`hw.axi.write_dma` -- AW/W/B master: beats in from a stream, WSTRB for partial beats;
* :mod:`hw.axi.lite_regs` -- the control registers of :class:`model.contract.LiteRegister`.
"""
