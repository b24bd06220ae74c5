"""The FPGA flow: synthesis and place-and-route of the accelerator with YoWASP Yosys and nextpnr.

* :mod:`sim.fpga.parts` -- the parts (iCE40 UP5K, iCE40 HX8K, ECP5-85F) and what their cells count as;
* :mod:`sim.fpga.harness` -- the I/O harness that puts ``qconv_top`` on four pins;
* :mod:`sim.fpga.tools` -- running the YoWASP tools from any folder;
* :mod:`sim.fpga.logs` -- readers of the Yosys and nextpnr reports (cells, utilisation, Fmax, critical path);
* :mod:`sim.fpga.throughput` -- GMAC/s of a build at its Fmax on a layer;
* :mod:`sim.fpga.flow` -- :func:`~sim.fpga.flow.synthesize` and :func:`~sim.fpga.flow.synth_config`;
* :mod:`sim.fpga.table` -- the Markdown table of results;
* :mod:`sim.fpga.sweep` -- the sweep over bit widths, array sizes and dataflows, with plots.
"""
