"""hw.verilog.generate and ``qconv verilog``: the contract's ports, the JSON sidecar, Icarus-safe Verilog."""

import re

import pytest

from model.config import AcceleratorConfig
from model.perf import COUNTERS
from model.program import DESC_BITS
from sim.cli import main


@pytest.mark.parametrize("overrides", [dict(dataflow="ws", bits=8), dict(dataflow="os", bits=1, rf_depth=4, rows=3)])
def test_verilog_top_has_the_contract_ports(tmp_path, overrides):
    config = AcceleratorConfig.preset("tiny", **overrides)
    args = ["verilog", "--preset", "tiny", "--out", str(tmp_path)]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    assert main(args) == 0
    text = (tmp_path / "qconv_top.v").read_text()
    assert AcceleratorConfig.from_json((tmp_path / "qconv_top.json").read_text()) == config
    widths = {name: int(hi) + 1 if hi else 1
              for hi, name in re.findall(r"^\s*(?:input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", text, re.M)}
    assert widths["desc"] == DESC_BITS and widths["start"] == widths["done"] == 1
    assert widths["host_sel"] == 2 and widths["host_wdata"] == config.word_bits
    assert widths["host_rdata"] == config.acc_bits and widths["host_addr"] == (1023).bit_length()
    assert all(widths[f"count_{name}"] == 48 for name in COUNTERS)
    # A one-statement `always @*` (Yosys writes it for a partly assigned combinational signal) is never
    # evaluated by Icarus when its input does not change after time 0: its output would stay X.
    assert not re.search(r"always @\*\n\s+[^ b]", text)
