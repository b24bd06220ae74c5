"""Co-simulation of the DMA engines (hw/axi) against cocotbext-axi's ``AxiRam``, an AXI memory no one here wrote.

:mod:`sim.axi.copy_run` (parent) builds :class:`hw.axi.copy.DmaCopy` for Icarus or Verilator, runs a
list of :class:`~sim.axi.copy_run.CopyCase` in one simulation and judges the results;
:mod:`sim.axi.copy_testbench` (the cocotb child) only drives the ports and reports what it saw;
:mod:`sim.axi.lite_run` and :mod:`sim.axi.lite_testbench` do the same for the control registers and
cocotbext-axi's ``AxiLiteMaster``;
:mod:`sim.axi.figures` measures the engines (beats per cycle, ECP5 size).
"""
