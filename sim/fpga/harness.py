"""The I/O harness that puts ``qconv_top`` on an FPGA with four pins.

The generated ``qconv_top`` has far more port bits than any FPGA package has
pins (fifteen 48-bit counters alone are 720 outputs), so it is placed inside a
harness: every input bit comes from a shift register fed by one pin, and every
output bit feeds a two-stage registered XOR tree that drives one pin. No logic
can be optimised away (every output bit reaches a pin) and no I/O path limits
Fmax. The harness costs a few LUTs and flip-flops; it is synthesised on its own
(with ``qconv_top`` as a black box) and reported separately, so
``luts - harness.luts`` is the accelerator's own size.
"""

from __future__ import annotations

from model.contract import TOP_NAME
from sim.verilog_ports import Direction, Port

__all__ = ["HARNESS_TOP", "XOR_GROUP", "harness_verilog"]

#: Module name of the I/O harness around ``qconv_top``.
HARNESS_TOP = "qconv_synth_top"
#: Output bits XOR-ed into each first-stage register of the harness.
XOR_GROUP = 16


def harness_verilog(ports: list[Port]) -> tuple[str, str]:
    """The I/O harness around ``qconv_top``, and a black-box declaration of ``qconv_top``.

    The harness has ports ``clk``, ``rst``, ``sin`` and ``sout``. Every other input
    of the core is a slice of one shift register fed by ``sin``; every output
    bit goes into a registered XOR of :data:`XOR_GROUP` bits, and those
    registers are XOR-ed into the register that drives ``sout``.

    Parameters
    ----------
    ports : list of Port
        The ports of ``qconv_top`` (:func:`sim.verilog_ports.rtlil_ports` or
        :func:`~sim.verilog_ports.verilog_ports`); ``clk`` and ``rst`` among them.

    Returns
    -------
    (harness, blackbox) : tuple of str
        Verilog of module :data:`HARNESS_TOP`, and an empty ``(* blackbox *)``
        ``qconv_top`` with the same ports (to measure the harness alone).
    """
    names = {p.name for p in ports}
    if not {"clk", "rst"} <= names:
        raise ValueError(f"{TOP_NAME} must have clk and rst ports, has {sorted(names)}")
    inputs = [p for p in ports if p.direction == Direction.INPUT and p.name not in ("clk", "rst")]
    outputs = [p for p in ports if p.direction == Direction.OUTPUT]
    in_bits = max(1, sum(p.width for p in inputs))
    out_bits = sum(p.width for p in outputs)
    groups = -(-out_bits // XOR_GROUP)
    lines = [
        f"module {HARNESS_TOP}(input clk, input rst, input sin, output reg sout);",
        f"  reg [{in_bits - 1}:0] shift;",
        f"  wire [{out_bits - 1}:0] outs;",
        f"  reg [{groups - 1}:0] folded;",
        "  always @(posedge clk) begin",
        "    shift <= {shift, sin};",
        *(f"    folded[{g}] <= ^outs[{min(out_bits, (g + 1) * XOR_GROUP) - 1}:{g * XOR_GROUP}];" for g in range(groups)),
        "    sout <= ^folded;",
        "  end",
        f"  {TOP_NAME} core (",
    ]
    connections = [".clk(clk)", ".rst(rst)"]
    for bus, group in (("shift", inputs), ("outs", outputs)):
        lo = 0
        for port in group:
            connections.append(f".{port.name}({bus}[{lo + port.width - 1}:{lo}])")
            lo += port.width
    lines.append(",\n".join(f"    {c}" for c in connections))
    lines += ["  );", "endmodule", ""]
    decls = [f"  {p.direction} {'' if p.width == 1 else f'[{p.width - 1}:0] '}{p.name};" for p in ports]
    blackbox = "\n".join(
        ["(* blackbox *)", f"module {TOP_NAME}({', '.join(p.name for p in ports)});", *decls, "endmodule", ""]
    )
    return "\n".join(lines), blackbox
