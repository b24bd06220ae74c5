"""Energy tables, bit-width scaling, hierarchies and the accelerator's energy from its counters."""

import json

import pytest

from model.config import AcceleratorConfig
from model.contract import COUNTERS
from model.energy import (
    HIERARCHIES, TABLES, Hierarchy, accelerator_energy, add_energy, mac_energy, mult_energy, parse_table, total,
)


def test_published_figures():
    eyeriss, horowitz = TABLES["eyeriss"], TABLES["horowitz"]
    assert [eyeriss.access(lv, 16) for lv in ("RF", "NoC", "GLB", "DRAM")] == [1, 2, 6, 200]
    assert eyeriss.mac(16, 32) == pytest.approx(1.0)
    assert horowitz.access("GLB", 64) == 10.0 and horowitz.access("DRAM", 64) == 1300.0
    assert horowitz.access("RF", 64) == pytest.approx(10 / 6) and horowitz.access("NoC", 64) == pytest.approx(20 / 6)
    assert add_energy(8) == pytest.approx(0.03) and add_energy(32) == pytest.approx(0.1)
    assert mult_energy(8) == pytest.approx(0.2) and mult_energy(32) == pytest.approx(3.1)
    assert "Horowitz" in horowitz.source and "Eyeriss" in eyeriss.source


def test_bit_width_scaling():
    assert add_energy(16) / add_energy(8) == pytest.approx(2 ** 0.868, rel=1e-3)  # about linear
    assert mult_energy(16) / mult_energy(8) == pytest.approx(2 ** 1.977, rel=1e-3)  # about quadratic
    assert TABLES["eyeriss"].access("DRAM", 8) == 100  # memory energy linear in bits
    assert mac_energy(8, 24) == pytest.approx(mult_energy(8) + add_energy(24))
    binary = mac_energy(1, 10, pack=8)
    assert binary == pytest.approx(2 * add_energy(1) + add_energy(10) / 8)
    assert binary < mac_energy(2, 10) < mac_energy(8, 24)


def _counters(**values):
    c = dict.fromkeys(COUNTERS, 0)
    c.update(values)
    return c


def test_accelerator_energy_from_hand_written_counters():
    config = AcceleratorConfig(rows=2, cols=4, bits=8, dataflow="ws", max_reduction=16)  # acc_bits = 2*8 + 4 = 20
    assert config.acc_bits == 20
    c = _counters(cycles=100, macs=1000, dram_ifmap_reads=10, dram_weight_reads=20, dram_psum_writes=5,
                  glb_ifmap_reads=30, glb_ifmap_writes=10, glb_weight_reads=7, glb_weight_writes=20,
                  glb_psum_reads=8, glb_psum_writes=9, rf_weight_reads=500, rf_weight_writes=40,
                  rf_psum_reads=11, rf_psum_writes=13)
    e = accelerator_energy(config, c, "eyeriss")
    b8, b20 = 8 / 16, 20 / 16  # Eyeriss entries are per 16-bit word
    assert e["DRAM"] == pytest.approx({"input": 10 * 200 * b8, "weights": 20 * 200 * b8, "output": 5 * 200 * b20})
    # weight and psum lines hold cols=4 words; the host's 5 psum reads are single lanes
    assert e["GLB"] == pytest.approx({"input": 40 * 6 * b8, "weights": (7 * 4 + 20) * 6 * b8,
                                      "output": ((8 - 5 + 9) * 4 + 5) * 6 * b20})
    assert e["RF"] == pytest.approx({"weights": 540 * b8, "output": 24 * b20})
    # network: ifmap words to `cols` PEs; WS weight lines into one PE row; WS psum lines through `rows` PEs
    assert e["NoC"] == pytest.approx({"input": 30 * 4 * 2 * b8, "weights": 7 * 4 * 1 * 2 * b8, "output": 9 * 4 * 2 * 2 * b20})
    assert e["MAC"]["all"] == pytest.approx(1000 * mac_energy(8, 20) / mac_energy(16, 32))
    assert total(e) == pytest.approx(sum(sum(v.values()) for v in e.values()))
    os_noc = accelerator_energy(config.replace(dataflow="os"), c, "horowitz")["NoC"]
    assert os_noc["output"] == pytest.approx(9 * 4 * 1 * (20 / 6) * 20 / 64)  # OS: one hop per drained psum, pJ
    assert os_noc["weights"] == pytest.approx(7 * 4 * 2 * (20 / 6) * 8 / 64)  # OS: weight words down both rows


def test_binary_words_are_packed():
    config = AcceleratorConfig(bits=1, pack=16)
    e = accelerator_energy(config, _counters(dram_ifmap_reads=3, macs=160), "eyeriss")
    assert e["DRAM"]["input"] == pytest.approx(3 * 200 * 16 / 16)
    assert e["MAC"]["all"] == pytest.approx(160 * mac_energy(1, config.acc_bits, 16) / mac_energy(16, 32))


def test_accelerator_energy_errors():
    config = AcceleratorConfig()
    with pytest.raises(ValueError, match=r"missing \['rf_psum_writes'\]"):
        accelerator_energy(config, {k: 0 for k in COUNTERS if k != "rf_psum_writes"})
    with pytest.raises(ValueError, match=r"unknown \['bogus'\]"):
        accelerator_energy(config, _counters(bogus=1))
    with pytest.raises(ValueError, match="counter macs must be in >= 0, not -1"):
        accelerator_energy(config, _counters(macs=-1))
    with pytest.raises(ValueError, match="table must be one of"):
        accelerator_energy(config, _counters(), table="nope")
    with pytest.raises(TypeError, match="counters must be a dict"):
        accelerator_energy(config, [])


def test_hierarchies():
    assert Hierarchy.parse("eyeriss") is HIERARCHIES["eyeriss"]
    h = Hierarchy.parse("rows=4, cols=2, rf_words=8, glb_words=1000, dram_words_per_cycle=2.5")
    assert (h.rows, h.cols, h.pes, h.rf_words, h.glb_words, h.dram_words_per_cycle) == (4, 2, 8, 8, 1000, 2.5)
    config = AcceleratorConfig.preset("tiny")
    h = Hierarchy.from_config(config)
    assert h.glb_words == config.ifmap_depth + (config.weight_depth + config.psum_depth) * config.cols
    assert h.glb_split == (config.ifmap_depth, config.weight_depth * config.cols, config.psum_depth * config.cols)
    assert (h.rf_words, h.reg_words, h.glb_limit("weights")) == (config.rf_depth, 1, config.weight_depth * config.cols)
    h = Hierarchy.parse("rows=2,cols=2,reg_words=2,rf_words=0,glb_split=10/20/30")
    assert (h.reg_words, h.rf_words, h.glb_split, h.glb_limit("input"), h.glb_limit("other")) == (2, 0, (10, 20, 30), 10, None)
    assert Hierarchy().glb_limit("input") is None
    with pytest.raises(ValueError, match="glb_split is INPUT/WEIGHTS/OUTPUT"):
        Hierarchy.parse("glb_split=10/x/3")
    with pytest.raises(ValueError, match="glb_split must be a tuple"):
        Hierarchy(glb_split=(1, 2))
    with pytest.raises(ValueError, match="not KEY=VALUE"):
        Hierarchy.parse("rows=4,depth=3")
    with pytest.raises(ValueError, match="rows must be in 1..1024, not 0"):
        Hierarchy.parse("rows=0")
    with pytest.raises(ValueError, match="is not a number"):
        Hierarchy.parse("rows=many")


def test_user_tables_scale_like_the_built_in_ones(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}))
    t = parse_table(str(path))
    assert [t.access(lv, 8) for lv in ("REG", "RF", "NoC", "GLB", "DRAM")] == [1, 1, 0, 6, 200]  # REG costs as RF
    assert t.access("DRAM", 16) == 400 and t.access("GLB", 27) == pytest.approx(6 * 27 / 8)
    assert t.mac(8, 8) == pytest.approx(1.0)  # the MAC entry is for ref_bits operands and accumulator
    assert t.mac(8, 24) / t.mac(8, 8) == pytest.approx(mac_energy(8, 24) / mac_energy(8, 8))
    path.write_text(json.dumps({"ref_bits": 16, "ref_acc_bits": 32, "REG": 0.5, "MAC": 2, "RF": 1, "NoC": 2,
                                "GLB": 6, "DRAM": 200}))
    t = parse_table(str(path))
    assert t.access("REG", 16) == 0.5 and t.mac(16, 32) == pytest.approx(2.0)
    assert parse_table("eyeriss") is TABLES["eyeriss"] and TABLES["eyeriss"].access("REG", 16) == 1.0
    for bad, message in (({"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6}, r"missing keys \['DRAM'\]"),
                         ({"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 1, "SRAM": 2},
                          r"unknown keys \['SRAM'\]"),
                         ({"ref_bits": 8, "MAC": -1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 1}, "MAC must be a finite"),
                         ({"ref_bits": 0, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 1}, "ref_bits must be in"),
                         ([1, 2], "must be a JSON object")):
        path.write_text(json.dumps(bad))
        with pytest.raises((ValueError, TypeError), match=message):
            parse_table(str(path))
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        parse_table(str(path))
    with pytest.raises(ValueError, match="cannot read energy table"):
        parse_table(str(tmp_path / "missing.json"))
