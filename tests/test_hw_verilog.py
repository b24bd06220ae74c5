"""hw.verilog.generate and ``qconv verilog``: the contract's ports, the JSON sidecar, Icarus-safe Verilog."""

import re

import pytest

from amaranth.hdl import Fragment, Shape
from amaranth.lib.wiring import In

from hw.accelerator import Accelerator
from model.config import AcceleratorConfig
from model.contract import COUNTERS, TOP_NAME, desc_bits, top_ports
from sim.cli import main
from sim.verilog_ports import verilog_ports


@pytest.mark.parametrize("overrides", [dict(dataflow="ws", bits=8), dict(dataflow="os", bits=1, rf_depth=4, rows=3)])
def test_verilog_top_has_the_contract_ports(tmp_path, overrides):
    config = AcceleratorConfig.preset("tiny", **overrides)
    args = ["verilog", "--preset", "tiny", "--out", str(tmp_path)]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    assert main(args) == 0
    text = (tmp_path / "qconv_top.v").read_text()
    assert AcceleratorConfig.from_json((tmp_path / "qconv_top.json").read_text()) == config
    ports = {port.name: (port.direction, port.width) for port in verilog_ports(text, TOP_NAME)}
    assert ports == top_ports(config)  # the RTL declares exactly the contract's ports
    widths = {name: width for name, (_, width) in ports.items()}
    # the contract's widths, against numbers derived by hand for the tiny preset
    assert widths["desc"] == desc_bits(config) and widths["start"] == widths["done"] == 1
    assert widths["host__sel"] == 2 and widths["host__wdata"] == config.word_bits
    assert widths["host__rdata"] == config.acc_bits and widths["host__addr"] == (1023).bit_length()
    assert widths["host__chan"] == 8 and widths["host__lane"] == 1
    assert all(widths[f"count_{name}"] == 48 for name in COUNTERS)
    # A one-statement `always @*` (Yosys writes it for a partly assigned combinational signal) is never
    # evaluated by Icarus when its input does not change after time 0: its output would stay X.
    assert not re.search(r"always @\*\n\s+[^ b]", text)


@pytest.mark.parametrize("overrides", [dict(dataflow="os", bits=4, rows=3, cols=2, rf_depth=2),
                                       dict(dataflow="os", bits=1, rows=3, rf_depth=6),
                                       dict(dataflow="ws", bits=4, rows=3, cols=2, rf_depth=4)])
def test_verilog_has_no_combinational_processes(tmp_path, overrides):
    # Icarus 11 runs an `always @*` only when a signal it reads changes after time 0 (the initializer of
    # Yosys' dump_module trigger wakes nothing). A combinational selection written as a process (an Array
    # read: `casez (sel) ... x = rf0;`) whose inputs are registers keeping their reset value is never run
    # and reads X (OS pixel 1 read back X). Only sync next-state processes, which read `rst` (driven by
    # the testbench at time 0), may be processes; selections are mux trees (hw/select.py).
    args = ["verilog", "--preset", "tiny", "--out", str(tmp_path)]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    assert main(args) == 0
    text = (tmp_path / "qconv_top.v").read_text()
    blocks = re.findall(r"^(\s*)always @\* begin\n(.*?)^\1end$", text, re.M | re.S)
    assert blocks
    offenders = [body for _, body in blocks if not re.search(r"\bif \(rst\)", body)]
    assert not offenders, offenders[0]


@pytest.mark.parametrize("overrides", [dict(dataflow="ws", bits=8), dict(dataflow="os", bits=1, cols=5),
                                       dict(dataflow="os", bits=16, rows=3, cols=2)])
def test_rtl_signature_is_the_contract(overrides):
    """The top's Amaranth signature, flattened as Verilog names it, is :func:`model.contract.top_ports`."""
    config = AcceleratorConfig.preset("tiny", **overrides)
    dut = Accelerator(config)
    found = {"clk": ("input", 1), "rst": ("input", 1)}
    for path, member, _ in dut.signature.flatten(dut):
        name = "__".join(str(p) for p in path)
        found[name] = ("input" if member.flow == In else "output", Shape.cast(member.shape).width)
    assert found == top_ports(config)
    Fragment.get(dut, None)  # elaborate it: Amaranth warns about a design that was never used
