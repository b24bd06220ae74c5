"""FPGA flow: report parsers on captured Yosys/nextpnr output, the I/O harness, fitting and not fitting."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from amaranth.back import rtlil, verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw import synth
from hw.synth import FPGAS, format_table, harness_verilog, parse_nextpnr_log, parse_rtlil_ports, parse_verilog_ports
from hw.synth import parse_yosys_stat, resources, synthesize
from sim.cli import main

DATA = Path(__file__).parent / "data" / "synth"


class _Mac(wiring.Component):
    """A registered 8-bit multiply-accumulate with a wide input and a counter: a stand-in for qconv_top."""

    a: In(8)
    b: In(8)
    desc: In(40)
    acc: Out(20)
    count_cycles: Out(48)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.acc.eq(self.acc + self.a.as_signed() * self.b.as_signed() + self.desc[:4]),
                     self.count_cycles.eq(self.count_cycles + 1)]
        return m


@pytest.fixture
def work_dir(request):
    """A folder under build/ (YoWASP cannot see /tmp), removed afterwards."""
    path = Path("build") / "test_synth" / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_yosys_stat_parser_and_resources():
    ice = parse_yosys_stat((DATA / "ice40_design.stat.json").read_text())
    assert ice["SB_LUT4"] == 87 and ice["SB_MAC16"] == 1
    assert resources(ice, FPGAS["ice40"]) == {"luts": 87, "ffs": 81, "brams": 1, "dsps": 1}
    ecp = parse_yosys_stat((DATA / "ecp5_design.stat.json").read_text())
    # a CCU2C carry cell occupies two LUT4s of a slice
    assert resources(ecp, FPGAS["ecp5"]) == {"luts": 27 + 2 * 34, "ffs": 99, "brams": 1, "dsps": 1}


def test_nextpnr_log_parser_fits():
    ice = parse_nextpnr_log((DATA / "ice40_fits.nextpnr.log").read_text())
    assert ice["fmax_mhz"] == pytest.approx(47.89)
    assert ice["utilisation"]["ICESTORM_LC"] == {"used": 118, "available": 5280}
    assert ice["errors"] == []
    ecp = parse_nextpnr_log((DATA / "ecp5_fits.nextpnr.log").read_text())
    assert ecp["fmax_mhz"] == pytest.approx(119.65)
    assert ecp["utilisation"]["MULT18X18D"] == {"used": 1, "available": 156}


def test_nextpnr_log_parser_too_big():
    log = parse_nextpnr_log((DATA / "ice40_too_many_ios.nextpnr.log").read_text())
    assert log["utilisation"]["SB_IO"] == {"used": 51, "available": 39}
    assert log["fmax_mhz"] is None
    assert log["errors"] == ["Unable to find a placement location for cell 'addr[6]$sb_io'"]


def test_port_parsers_agree_and_harness_covers_every_bit():
    dut = _Mac()
    from_v = parse_verilog_ports(verilog.convert(dut, name="qconv_top"))
    from_il = parse_rtlil_ports(rtlil.convert(_Mac(), name="qconv_top"))
    assert sorted(from_v) == sorted(from_il)
    assert ("input", "desc", 40) in from_il and ("output", "count_cycles", 48) in from_il
    harness, blackbox = harness_verilog(from_il)
    assert "reg [55:0] shift;" in harness  # a + b + desc = 56 bits
    assert "wire [67:0] outs;" in harness and "reg [4:0] folded;" in harness  # acc + count, 16 per group
    assert ".desc(shift[" in harness and ".count_cycles(outs[" in harness
    assert blackbox.startswith("(* blackbox *)") and "input [39:0] desc;" in blackbox


def test_harness_needs_clock_and_reset():
    with pytest.raises(ValueError, match="clk and rst"):
        harness_verilog([("input", "a", 1), ("output", "o", 1)])


def test_tmp_is_refused():
    with pytest.raises(ValueError, match="/tmp"):
        synthesize(DATA / "x.il", "ice40", Path("/tmp/qconv-synth"))


def test_place_and_route_of_a_small_design(work_dir):
    il = work_dir / "mac.il"
    il.write_text(rtlil.convert(_Mac(), name="qconv_top"))
    r = synthesize(il, "ice40", work_dir / "out")
    assert r["fits"] and r["errors"] == [] and r["fmax_mhz"] > 10
    assert r["dsps"] == 1 and r["luts"] > 0 and r["ffs"] >= 48 + 20
    assert r["harness"]["ffs"] >= 8 + 8 + 40  # the input shift register
    assert r["utilisation"]["ICESTORM_DSP"]["used"] == 1


def test_a_design_too_big_is_reported_with_its_size(work_dir, monkeypatch):
    tiny_part = dataclasses.replace(FPGAS["ice40"], capacity={"luts": 10, "ffs": 10, "brams": 0, "dsps": 0, "ios": 4})
    monkeypatch.setitem(synth.FPGAS, "ice40", tiny_part)
    il = work_dir / "mac.il"
    il.write_text(rtlil.convert(_Mac(), name="qconv_top"))
    r = synthesize(il, "ice40", work_dir / "out")
    assert not r["fits"] and r["fmax_mhz"] is None
    assert r["limits"]["ffs"]["available"] == 10 and r["limits"]["ffs"]["used"] == r["ffs"]
    assert "place and route not attempted" in r["errors"][0]
    assert not (work_dir / "out" / "nextpnr.log").exists()
    row = format_table([{**r, "config": {"dataflow": "ws", "bits": 8, "rows": 2, "cols": 2}}]).splitlines()[-1]
    assert "| no: " in row and f"ffs {r['ffs']}/10" in row
    json.dumps(r)


@pytest.mark.parametrize("command, needle", [("synth", "ice40-hx8k"), ("synth-sweep", "--arrays"),
                                             ("lint", "--dataflow"), ("bench", "--quick")])
def test_cli_registers_the_fpga_commands(capsys, command, needle):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and needle in capsys.readouterr().out


def test_sweep_skips_larger_arrays_once_one_does_not_fit(monkeypatch, tmp_path):
    from sim import sweep as sweep_module

    def fake_synth(config, fpga, root, pnr_timeout):
        size = config.rows * config.cols * config.bits
        fits = size < 64
        return {"fpga": fpga, "device": "test part", "config": json.loads(config.to_json()), "fits": fits,
                "luts": 10 * size, "ffs": 5 * size, "brams": 1, "dsps": config.pes, "seconds": {"yosys": 0.0},
                "fmax_mhz": 100.0 / config.bits if fits else None, "harness": {"luts": 1, "ffs": 1},
                "limits": {} if fits else {"luts": {"used": 10 * size, "available": 640}}}

    monkeypatch.setattr(sweep_module, "synth_config", fake_synth)
    lines = []
    results = sweep_module.sweep(("ecp5",), (4, 8), ((2, 2), (4, 4), (8, 8)), ("ws",), root=tmp_path,
                                 progress=lines.append)
    by = {(r["config"]["bits"], r["config"]["rows"]): r for r in results}
    assert by[(4, 2)]["fits"] and not by[(4, 4)]["fits"] and by[(4, 8)]["skipped"]
    assert not by[(8, 4)]["fits"] and by[(8, 8)]["skipped"]
    assert len(lines) == 2 * len(results) - 2 and lines[0].startswith("[1/6] ecp5 ws bits=4 2x2")
    assert (tmp_path / "sweep.md").read_text().count("| ecp5 |") == 4
    assert (tmp_path / "sweep_ecp5.png").stat().st_size > 1000


def test_fmax_stage_after_placement_and_after_routing():
    placed = parse_nextpnr_log((DATA / "ecp5_8x8_placed_only.nextpnr.log").read_text())
    assert placed["fmax_stage"] == "placed" and placed["fmax_mhz"] == pytest.approx(37.89)
    assert placed["utilisation"]["DP16KD"] == {"used": 120, "available": 208}  # buffers in block RAM
    routed = parse_nextpnr_log((DATA / "ecp5_fits.nextpnr.log").read_text())
    assert routed["fmax_stage"] == "routed" and routed["fmax_mhz"] == pytest.approx(119.65)
