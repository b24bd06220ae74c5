"""sim.verilog_ports: the one reader of port declarations, on hand-written netlists (Amaranth's own: test_synth)."""

import pytest

from sim.verilog_ports import Direction, Port, rtlil_ports, verilog_ports

# As Yosys writes it: submodules named "<top>.<child>" (escaped), non-ANSI declarations, one per line.
VERILOG = r"""
module \qconv_top.array (clk, \a$1 , acc);
  input clk;
  input [3:0] \a$1 ;
  output [9:0] acc;
endmodule

module qconv_top(clk, rst, desc, acc, done, \sel$2 );
  reg [3:0] state = 4'h0;
  input clk;
  wire clk;
  input rst;
  input [270:0] desc;
  output signed [19:0] acc;
  output reg done;
  input [0:2] \sel$2 ;
  wire [7:0] internal;
endmodule
"""


def test_verilog_ports_of_the_top_not_of_a_submodule_named_after_it():
    assert verilog_ports(VERILOG) == [
        Port(Direction.INPUT, "clk", 1), Port(Direction.INPUT, "rst", 1), Port(Direction.INPUT, "desc", 271),
        Port(Direction.OUTPUT, "acc", 20), Port(Direction.OUTPUT, "done", 1), Port(Direction.INPUT, "sel$2", 3),
    ]
    assert verilog_ports(VERILOG, "qconv_top.array") == [
        Port(Direction.INPUT, "clk", 1), Port(Direction.INPUT, "a$1", 4), Port(Direction.OUTPUT, "acc", 10),
    ]
    assert verilog_ports(VERILOG)[0].direction == "input"  # compares equal to the Verilog keyword


@pytest.mark.parametrize("reader, text, message", [
    (verilog_ports, VERILOG.replace("module qconv_top(", "module other("), "module 'qconv_top' not found in the Verilog"),
    (verilog_ports, "module qconv_top();\nendmodule\n", "module 'qconv_top' declares no ports in the Verilog"),
    (rtlil_ports, "module \\other\nend\n", "module 'qconv_top' not found in the RTLIL"),
])
def test_missing_module_or_ports_is_an_error(reader, text, message):
    with pytest.raises(ValueError, match=message):
        reader(text)
