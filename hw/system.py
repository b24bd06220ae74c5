"""The System: the accelerator, run by a command processor from DRAM, behind AXI4 and AXI4-Lite.

The host writes ``CMD_ADDR`` and ``CMD_COUNT`` and sets ``CONTROL.START`` over AXI4-Lite
(:class:`hw.axi.lite_regs.LiteRegisters`); the :class:`hw.command.processor.CommandProcessor` then runs
the layer's whole command list (:mod:`model.commands` builds it) through the unchanged
:class:`hw.accelerator.Accelerator`'s host port, and ``irq`` pulses when it has ended (``STATUS``
and ``ERROR`` say how).

Counters (:data:`model.contract.SYSTEM_COUNTERS`): ``sys_cycles`` every cycle the processor is
busy; ``dram_bytes_read`` / ``dram_bytes_written`` the DMAs' run bytes; ``axi_read_bursts`` /
``axi_write_bursts`` their AR / AW handshakes; ``stall_cycles`` busy cycles in which the
accelerator is idle (the array waits for data); ``dma_wait_cycles`` cycles in which a RUN waits for
the running pass to issue its last slot, or a SYNC for it to end (the command stream waits for the array). The accelerator's own
:data:`model.contract.COUNTERS` are exported as they are.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.accelerator import Accelerator
from hw.axi.lite_regs import LiteRegisters
from hw.axi.signatures import AxiLiteSignature, AxiSignature
from hw.command.processor import CommandProcessor
from hw.counters import Counters
from model.config import AcceleratorConfig
from model.contract import COUNTER_BITS, COUNTERS, SYSTEM_COUNTER_LAG, SYSTEM_COUNTERS

__all__ = ["System"]


class System(wiring.Component):
    """The command-driven top (Verilog name :data:`model.contract.SYSTEM_TOP_NAME`).

    Parameters
    ----------
    config : AcceleratorConfig
    word_bytes : int
        DRAM container of an input or weight word (:func:`model.commands.word_bytes` of ``config``).

    Ports
    -----
    m_axi : Out(AxiSignature(axi_data_bits))
        The AXI4 master to DRAM.
    s_axil : In(AxiLiteSignature())
        The control registers.
    irq : Out(1)
        One cycle: a layer ended.
    count_<name> : Out(COUNTER_BITS)
        :data:`~model.contract.SYSTEM_COUNTERS`, then the accelerator's :data:`~model.contract.COUNTERS`.
    """

    def __init__(self, config: AcceleratorConfig, word_bytes: int):
        self._config, self._wb = config, word_bytes
        members = {"m_axi": Out(AxiSignature(config.axi_data_bits)), "s_axil": In(AxiLiteSignature()),
                   "irq": Out(1)}
        members |= {f"count_{name}": Out(COUNTER_BITS) for name in SYSTEM_COUNTERS + COUNTERS}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.regs = regs = LiteRegisters()
        m.submodules.proc = proc = CommandProcessor(cfg, self._wb)
        m.submodules.acc = acc = Accelerator(cfg, line_writes=True)
        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)
        wiring.connect(m, wiring.flipped(self.m_axi), proc.axi)
        wiring.connect(m, proc.host, acc.host)
        wiring.connect(m, proc.ifmap_lines, acc.ifmap_lines)
        wiring.connect(m, proc.weight_lines, acc.weight_lines)
        m.d.comb += [
            proc.start.eq(regs.start), proc.cmd_addr.eq(regs.cmd_addr), proc.cmd_count.eq(regs.cmd_count),
            regs.busy.eq(proc.busy), regs.done.eq(proc.done), regs.error.eq(proc.error), self.irq.eq(proc.done),
            acc.start.eq(proc.acc_start), acc.desc.eq(proc.acc_desc), proc.acc_done.eq(acc.done),
            proc.acc_ready.eq(acc.ready),
            proc.psum_lines.eq(acc.psum_lines),
        ]
        bb = cfg.axi_beat_bytes
        m.submodules.counters = counters = Counters({
            "sys_cycles": 1, "dram_bytes_read": (bb + 1).bit_length(), "dram_bytes_written": (bb + 1).bit_length(),
            "axi_read_bursts": 1, "axi_write_bursts": 1, "stall_cycles": 1, "dma_wait_cycles": 1,
        }, lag=SYSTEM_COUNTER_LAG)
        m.d.comb += [
            counters.inc_sys_cycles.eq(proc.busy),
            counters.inc_dram_bytes_read.eq(proc.read_bytes), counters.inc_dram_bytes_written.eq(proc.write_bytes),
            counters.inc_axi_read_bursts.eq(proc.read_burst), counters.inc_axi_write_bursts.eq(proc.write_burst),
            counters.inc_stall_cycles.eq(proc.busy & acc.done),
            counters.inc_dma_wait_cycles.eq(proc.busy & proc.blocked),
        ]
        for name in SYSTEM_COUNTERS:
            m.d.comb += getattr(self, f"count_{name}").eq(getattr(counters, f"count_{name}"))
        for name in COUNTERS:
            m.d.comb += getattr(self, f"count_{name}").eq(getattr(acc, f"count_{name}"))
        return m
