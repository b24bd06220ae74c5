"""FPGA flow: report parsers on captured Yosys/nextpnr output, the I/O harness, fitting and not fitting."""

import dataclasses
import json
from pathlib import Path

import pytest

import fanout_items
from amaranth.back import rtlil, verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.config import AcceleratorConfig
from model.layer import NAMED_LAYERS
from model.perf import predict
from model.tiling import plan
from sim.cli import main
from sim.fpga import parts
from sim.fpga.flow import synthesize
from sim.fpga.harness import harness_verilog
from sim.fpga.logs import parse_critical_path, parse_nextpnr_log, parse_yosys_stat
from sim.fpga.parts import FPGAS, resources
from sim.fpga.sweep import SWEEP_ARRAYS, SWEEP_BITS
from sim.fpga.table import format_critical_path, format_table
from sim.fpga.throughput import throughput, workload
from sim.verilog_ports import Direction, Port, rtlil_ports, verilog_ports

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
    assert log["fmax_mhz"] is None and log["critical_path"] is None
    assert log["errors"] == ["Unable to find a placement location for cell 'addr[6]$sb_io'"]


# Expected values read off the logs by hand (grep of the "Critical path report for clock" block).
@pytest.mark.parametrize("log, expected", [
    ("ice40_fits", dict(clock="clk$SB_IO_IN_$glb_clk", edges="posedge -> posedge",
                        **{"from": "core.count_x_SB_DFFSR_Q_1_D_SB_LUT4_O_LC", "to": "core.count_x_SB_DFFSR_Q_2_D_SB_LUT4_O_LC"},
                        from_signal="core.count_x", to_signal="core.count_x",
                        from_source="/work/wt/fpga/build/scratch/mk.py:6", to_source="/work/wt/fpga/build/scratch/mk.py:12",
                        logic_levels=47, nets=48, delay_ns=20.88, logic_ns=15.68, routing_ns=5.20)),
    ("ecp5_fits", dict(clock="$glbnet$clk$TRELLIS_IO_IN", edges="posedge -> posedge",
                       **{"from": "core.b_TRELLIS_FF_Q_1", "to": "core.o_TRELLIS_FF_Q_17"},
                       from_signal="core.b", to_signal="core.o",
                       from_source="/work/wt/fpga/build/scratch/mk.py:6", to_source="/work/wt/fpga/build/scratch/mk.py:12",
                       logic_levels=18, nets=19, delay_ns=8.36, logic_ns=5.84, routing_ns=2.52)),
])
def test_critical_path_parser_on_captured_logs(log, expected):
    path = parse_critical_path((DATA / f"{log}.nextpnr.log").read_text())
    assert path == pytest.approx(expected)
    fmax = parse_nextpnr_log((DATA / f"{log}.nextpnr.log").read_text())["fmax_mhz"]
    assert 1e3 / path["delay_ns"] == pytest.approx(fmax, rel=1e-3)  # delays are printed to 10 ps


# make synth FPGA=ice40 ROWS=2 COLS=2 BITS=8, read off its nextpnr.log by hand: the controller's period-end
# logic (stream context valid -> slot compare -> clock enable of a fold-context register).
UP5K_FMAX = 17.19
UP5K_PATH = dict(clock="clk$SB_IO_IN_$glb_clk", edges="posedge -> posedge",
                 **{"from": "core.controller.stream_ctx.valid_SB_DFFESR_Q_DFFLC",
                    "to": "core.controller.sw_nbase_SB_DFFESR_Q_1_D_SB_LUT4_O_LC"},
                 from_signal="core.controller.stream_ctx.valid", to_signal="core.controller.sw_nbase",
                 from_source="/work/wt-fpga/hw/controller.py:267", to_source="/work/wt-fpga/hw/controller.py:267",
                 logic_levels=19, nets=20, delay_ns=58.18, logic_ns=18.45, routing_ns=39.73)


def test_critical_path_of_the_accelerator_on_the_up5k():
    # an excerpt of its nextpnr.log: utilisation, the Fmax after placement, everything after routing
    log = (DATA / "up5k_2x2_ws_b8.nextpnr.log").read_text()
    path = parse_critical_path(log)
    assert path == pytest.approx(UP5K_PATH)
    assert parse_nextpnr_log(log)["fmax_mhz"] == pytest.approx(UP5K_FMAX)
    assert format_critical_path(path) == "58.2 ns, 19 logic levels, 20 nets: controller.stream_ctx.valid -> controller.sw_nbase"


def test_no_critical_path_before_routing():
    # nextpnr prints critical paths only after routing; a run stopped while routing has none
    placed = parse_nextpnr_log((DATA / "ecp5_8x8_placed_only.nextpnr.log").read_text())
    assert placed["critical_path"] is None and format_critical_path(None) == "-"


def test_port_readers_agree_on_amaranth_output_and_harness_covers_every_bit():
    ports = rtlil_ports(rtlil.convert(_Mac(), name="qconv_top"))
    assert sorted(verilog_ports(verilog.convert(_Mac(), name="qconv_top"))) == sorted(ports)
    assert len(ports) == 7 and {"clk", "rst"} <= {p.name for p in ports}
    assert Port(Direction.INPUT, "desc", 40) in ports and Port(Direction.OUTPUT, "count_cycles", 48) in ports
    harness, blackbox = harness_verilog(ports)
    assert "reg [55:0] shift;" in harness  # a + b + desc = 56 bits
    assert "wire [67:0] outs;" in harness and "reg [4:0] folded;" in harness  # acc + count, 16 per group
    assert ".desc(shift[" in harness and ".count_cycles(outs[" in harness
    assert blackbox.startswith("(* blackbox *)") and "input [39:0] desc;" in blackbox


def test_harness_needs_clock_and_reset():
    with pytest.raises(ValueError, match="clk and rst"):
        harness_verilog([Port(Direction.INPUT, "a", 1), Port(Direction.OUTPUT, "o", 1)])


def test_place_and_route_of_a_small_design_from_any_folder(tmp_path, monkeypatch):
    # tmp_path is under /tmp, where the YoWASP sandbox mounts its own empty folder: the flow must
    # stage its files and run the tools there with relative paths. The working directory is elsewhere.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mac.il").write_text(rtlil.convert(_Mac(), name="qconv_top"))
    monkeypatch.chdir(tmp_path / "src")
    r = synthesize(Path("mac.il"), "ice40", tmp_path / "out")
    assert r["fits"] and r["errors"] == [] and r["fmax_mhz"] > 10
    assert r["dsps"] == 1 and r["luts"] > 0 and r["ffs"] >= 48 + 20
    assert r["harness"]["ffs"] >= 8 + 8 + 40  # the input shift register
    assert r["utilisation"]["ICESTORM_DSP"]["used"] == 1
    path = r["critical_path"]
    assert path["from"].startswith("core.") and path["to"].startswith("core.")
    assert path["logic_levels"] >= 1 and path["nets"] == path["logic_levels"] + 1
    assert 1e3 / path["delay_ns"] == pytest.approx(r["fmax_mhz"], rel=1e-3)  # delays are printed to 10 ps
    assert Path(r["out_dir"]) == tmp_path / "out"


def test_a_design_too_big_is_reported_with_its_size(tmp_path, monkeypatch):
    tiny_part = dataclasses.replace(FPGAS["ice40"], capacity={"luts": 10, "ffs": 10, "brams": 0, "dsps": 0, "ios": 4})
    monkeypatch.setitem(parts.FPGAS, "ice40", tiny_part)
    il = tmp_path / "mac.il"
    il.write_text(rtlil.convert(_Mac(), name="qconv_top"))
    r = synthesize(il, "ice40", tmp_path / "out")
    assert not r["fits"] and r["fmax_mhz"] is None and r["critical_path"] is None
    assert r["limits"]["ffs"]["available"] == 10 and r["limits"]["ffs"]["used"] == r["ffs"]
    assert "place and route not attempted" in r["errors"][0]
    assert not (tmp_path / "out" / "nextpnr.log").exists()
    row = format_table([{**r, "config": {"dataflow": "ws", "bits": 8, "rows": 2, "cols": 2}}]).splitlines()[-1]
    assert "| no: " in row and f"ffs {r['ffs']}/10" in row
    json.dumps(r)


def test_throughput_is_macs_over_cycles_at_fmax():
    config = AcceleratorConfig.preset("default", bits=8)
    work = workload(config)
    assert work.name == "small_3x3" and not work.scaled  # resnet18_conv2 runs in row bands on the default buffers
    t = throughput(config, 50.0, work)
    layer = NAMED_LAYERS["small_3x3"]  # 14x14 outputs x 16 filters x 8x3x3 products each
    assert t["macs"] == 14 * 14 * 16 * 8 * 3 * 3 == layer.macs
    cycles = predict(config, layer).cycles
    assert t["gmacs"] == pytest.approx(t["macs"] / cycles * 50e6 / 1e9)
    assert t["peak_gmacs"] == pytest.approx(64 * 50e6 / 1e9)  # 8x8 PEs, one MAC each per cycle
    assert t["gmacs"] == pytest.approx(t["peak_gmacs"] * t["utilisation"])
    assert throughput(config, None, work)["gmacs"] is None


def test_throughput_layer_choice():
    big = AcceleratorConfig(ifmap_depth=2**18, psum_depth=2**16)
    assert workload(big).name == "resnet18_conv2"
    binary = AcceleratorConfig.preset("tiny", bits=1)
    assert throughput(binary, 10.0, workload(binary))["peak_gmacs"] == pytest.approx(4 * 8 * 10e6 / 1e9)
    tiny = AcceleratorConfig.preset("tiny", bits=8)  # holds neither default layer: small_3x3, scaled down
    work = workload(tiny)
    assert work.name == "small_3x3" and work.scaled and work.layer.macs < NAMED_LAYERS["small_3x3"].macs
    assert work.to_dict()["shape"] == str(work.layer)
    with pytest.raises(ValueError, match=r"layer 'C=1000,H=3,W=3,M=2,R=3,S=3' does not fit this build.*max_reduction"):
        workload(tiny, "C=1000,H=3,W=3,M=2,R=3,S=3")


def test_every_sweep_design_has_a_whole_image_workload():
    # the sweep checks every design's workload before it starts; the planner may tile a layer's channels
    # where whole images would fit (the tiny 2x2 OS build at 2 bits did, and the sweep refused to start)
    for fpga in FPGAS:
        for dataflow in ("os", "ws"):
            for bits in SWEEP_BITS:
                for rows, cols in SWEEP_ARRAYS:
                    config = AcceleratorConfig.preset(FPGAS[fpga].default_preset, dataflow=dataflow, bits=bits,
                                                      rows=rows, cols=cols)
                    work = workload(config)
                    assert plan(config, work.layer).whole_images, (fpga, dataflow, bits, rows, cols, work)


def test_synth_refuses_a_layer_that_does_not_fit_before_synthesising(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--fpga", "ice40", "--layer", "C=1000,H=3,W=3,M=2,R=3,S=3"]) == 2  # C*R*S > max_reduction
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer 'C=1000,H=3,W=3,M=2,R=3,S=3' does not fit" in err
    assert not (tmp_path / "build").exists()


def test_synth_command_prints_the_critical_path_and_throughput(capsys, monkeypatch):
    from sim.commands import synth as synth_command

    config = AcceleratorConfig.preset("tiny", rows=2, cols=2, bits=8)
    log = parse_nextpnr_log((DATA / "up5k_2x2_ws_b8.nextpnr.log").read_text())
    result = {"fpga": "ice40", "device": "iCE40UP5K-SG48", "config": json.loads(config.to_json()), "luts": 3413,
              "ffs": 2363, "brams": 16, "dsps": 8, "fits": True, "limits": {}, "harness": {"luts": 249, "ffs": 351},
              "fmax_mhz": log["fmax_mhz"], "fmax_stage": "routed", "critical_path": log["critical_path"],
              "throughput": throughput(config, log["fmax_mhz"], workload(config)), "json": "x.json"}
    seen = {}

    def fake_synth_config(config, fpga, **options):
        seen.update(config=config, fpga=fpga, **options)
        return result

    monkeypatch.setattr(synth_command, "synth_config", fake_synth_config)
    assert main(["synth", "--fpga", "ice40", "--rows", "2", "--cols", "2", "--bits", "8", "--layer", "C=2,H=6,W=6,M=2,R=3,S=3"]) == 0
    assert seen["config"] == config and seen["layer"] == "C=2,H=6,W=6,M=2,R=3,S=3"
    out = capsys.readouterr().out
    assert ("critical path: 58.18 ns (18.45 logic, 39.73 routing; 19 logic levels, 20 nets) "
            "from core.controller.stream_ctx.valid to core.controller.sw_nbase") in out
    assert "GMAC/s = 4 PEs x 1 MAC/cycle x 17.19 MHz x " in out and "small_3x3 scaled to the buffers: N=1,C=8,H=8" in out


def test_table_shows_critical_path_and_throughput():
    config = AcceleratorConfig.preset("default")
    path = parse_critical_path((DATA / "ecp5_fits.nextpnr.log").read_text())
    result = {"fpga": "ecp5", "config": json.loads(config.to_json()), "luts": 9, "ffs": 8, "brams": 1, "dsps": 1,
              "fmax_mhz": 119.65, "fmax_stage": "routed", "fits": True, "limits": {}, "harness": {"luts": 2, "ffs": 3},
              "critical_path": path, "throughput": throughput(config, 119.65, workload(config))}
    row = format_table([result]).splitlines()[-1]
    assert "| 8.4 ns, 18 logic levels, 19 nets: b -> o |" in row
    assert f"| {result['throughput']['gmacs']:.3g} (small_3x3, 99.6% util.) |" in row
    old = {k: v for k, v in result.items() if k not in ("critical_path", "throughput")}  # written before they existed
    assert "| 119.7 | - | - | yes |" in format_table([old]).splitlines()[-1]


@pytest.mark.parametrize("command, needle", [("synth", "ice40-hx8k"), ("synth", "--layer"), ("synth-sweep", "--arrays"),
                                             ("lint", "--dataflow"), ("bench", "--quick")])
def test_cli_registers_the_fpga_commands(capsys, command, needle):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and needle in capsys.readouterr().out


def test_sweep_skips_larger_arrays_once_one_does_not_fit(tmp_path):
    from sim.fanout import FanOut
    from sim.fpga.sweep import describe, sweep

    results = sweep(("ecp5",), (4, 8), ((4, 4), (2, 2), (8, 8)), ("ws",), root=tmp_path, how=FanOut(workers=2),
                    synth=fanout_items.fake_synth)
    # in sweep order (bits, then arrays smallest first), whichever worker finished first
    assert [(r["config"]["bits"], r["config"]["rows"]) for r in results] == [(4, 2), (4, 4), (4, 8), (8, 2), (8, 4), (8, 8)]
    by = {(r["config"]["bits"], r["config"]["rows"]): r for r in results}
    assert by[(4, 2)]["fits"] and not by[(4, 4)]["fits"] and by[(4, 8)]["skipped"]
    assert not by[(8, 4)]["fits"] and by[(8, 8)]["skipped"]
    assert describe(by[(4, 2)]) == "ecp5 ws bits=4 2x2: fits, 160 LUTs, 80 FFs, 1 BRAMs, 4 DSPs, 25.0 MHz (0 s)"
    assert describe(by[(4, 8)]) == "ecp5 ws bits=4 8x8: skipped (a smaller array did not fit)"
    assert (tmp_path / "sweep.md").read_text().count("| ecp5 |") == 4
    assert (tmp_path / "sweep_ecp5.png").stat().st_size > 1000


def test_sweep_reports_a_failed_chain_and_keeps_the_others(tmp_path):
    from sim.fanout import FanOut
    from sim.fpga.sweep import describe, sweep

    results = sweep(("ecp5",), (4, 8), ((2, 2), (4, 4)), ("ws",), root=tmp_path, how=FanOut(workers=2),
                    synth=fanout_items.synth_fails_at_8_bits)
    assert [r.get("error") for r in results] == [None, None, "RuntimeError: nextpnr crashed", "RuntimeError: nextpnr crashed"]
    assert describe(results[2]) == "ecp5 ws bits=8 2x2: FAILED (RuntimeError: nextpnr crashed)"
    assert (tmp_path / "sweep.md").read_text().count("| ecp5 |") == 2


def test_sweep_checks_a_named_layer_against_every_build_first(tmp_path):
    from sim.fpga.sweep import sweep

    with pytest.raises(ValueError, match=r"layer 'C=1000,H=3,W=3,M=2,R=3,S=3' does not fit"):
        sweep(("ecp5",), (8,), ((2, 2),), ("ws",), root=tmp_path, layer="C=1000,H=3,W=3,M=2,R=3,S=3")
    assert not any(tmp_path.iterdir())


def test_fmax_stage_after_placement_and_after_routing():
    placed = parse_nextpnr_log((DATA / "ecp5_8x8_placed_only.nextpnr.log").read_text())
    assert placed["fmax_stage"] == "placed" and placed["fmax_mhz"] == pytest.approx(37.89)
    assert placed["utilisation"]["DP16KD"] == {"used": 120, "available": 208}  # buffers in block RAM
    routed = parse_nextpnr_log((DATA / "ecp5_fits.nextpnr.log").read_text())
    assert routed["fmax_stage"] == "routed" and routed["fmax_mhz"] == pytest.approx(119.65)
