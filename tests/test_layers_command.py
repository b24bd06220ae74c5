"""``qconv layers``: every named layer of a network on the RTL, on a stand-in network of two small layers."""

import json

import pytest

from model.config import Dataflow
from model.contract import PIPELINE_TAIL
from model.layer import ConvLayer
from sim.cli import main

#: A stand-in "resnet18": one layer tiled into row bands and channel tiles on the tiny preset, one
#: depthwise and one grouped with 1 < groups < C (the System runs them, the host-port accelerator does not).
STAND_IN = {
    "resnet18_tiled": ConvLayer(C=20, H=12, W=12, M=3, R=3, S=3, stride=2, pad=1),  # Kw 180 > 128 weight lines
    "resnet18_dw": ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3, pad=1, groups=4),
    "resnet18_grouped": ConvLayer(C=4, H=4, W=4, M=4, R=3, S=3, pad=1, groups=2),
    "vgg16_other": ConvLayer(C=1, H=4, W=4, M=1, R=1, S=1),
}


@pytest.fixture
def stand_in_net(monkeypatch):
    """``qconv layers`` sees :data:`STAND_IN` as the networks' layers."""
    monkeypatch.setattr("sim.commands.layers.network_layers",
                        lambda net: {k: v for k, v in STAND_IN.items() if k.startswith(f"{net}_")})


@pytest.mark.cosim
def test_layers_runs_every_layer_of_the_net_and_skips_grouped_ones(stand_in_net, tmp_path, capsys, require_simulator):
    require_simulator("icarus")
    path = tmp_path / "r.json"
    status = main(["layers", "--net", "resnet18", "--preset", "tiny", "--sim", "icarus", "--json", str(path)])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = {r["layer"]: r for r in json.loads(path.read_text())["layers"]}
    assert set(rows) == {"resnet18_tiled", "resnet18_dw", "resnet18_grouped"}  # only the net's layers
    tiled = rows["resnet18_tiled"]
    assert tiled["pass"] and tiled["counters_equal"] and tiled["passes"] > 1
    assert tiled["cycles_rtl"] == tiled["cycles_model"]
    assert "groups=4" in rows["resnet18_dw"]["skipped"]
    assert "resnet18_tiled" in out and "PASS" in out


def test_layers_refuses_names_outside_the_net(capsys):
    assert main(["layers", "--net", "vgg16", "--only", "resnet18_conv2"]) == 2
    assert "are not layers of vgg16" in capsys.readouterr().err


@pytest.mark.cosim
def test_layers_from_dram_adds_stalls_and_bytes(stand_in_net, tmp_path, capsys, require_simulator):
    require_simulator("icarus")
    path = tmp_path / "r.json"
    status = main(["layers", "--net", "resnet18", "--preset", "tiny", "--sim", "icarus", "--memory", "dram",
                   "--dram-bw", "4", "--json", str(path)])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = {r["layer"]: r for r in json.loads(path.read_text())["layers"]}
    tiled = rows["resnet18_tiled"]
    assert tiled["pass"] and tiled["counters_equal"] and tiled["passes"] > 1
    # the System's total is the cycles the array computes (each pass's cycles but its start) plus those
    # it waits for data, less the cycles a pass started in the tail of the one before shares with it
    assert tiled["sys_cycles_rtl"] == tiled["sys_cycles_model"]
    shared = tiled["cycles_rtl"] - tiled["passes"] + tiled["stall_cycles"]["rtl"] - tiled["sys_cycles_rtl"]
    tail = PIPELINE_TAIL[Dataflow.WS] - 1
    assert shared % tail == 0 and 0 <= shared // tail < tiled["passes"]
    assert tiled["stall_cycles"]["rtl"] == tiled["stall_cycles"]["model"] > 0
    # raw 32-bit outputs, a psum line (the tiny build's 2 lanes) per STORE read
    assert tiled["dram_bytes"]["write"]["rtl"] == 4 * 2 * tiled["dram_words"]["dram_psum_writes"]
    dw = rows["resnet18_dw"]   # depthwise: the System's line reads
    assert dw["pass"] and dw["counters_equal"] and dw["sys_cycles_rtl"] == dw["sys_cycles_model"]
    grouped = rows["resnet18_grouped"]   # ungrouped blocks (model/grouped.py)
    assert grouped["pass"] and grouped["counters_equal"]
    assert "stalls" in out and "DRAM bytes" in out and "PASS" in out
    ran = [r for r in rows.values() if "skipped" not in r]
    assert f"{sum(r['sys_cycles_rtl'] for r in ran)} cycles and" in out and all(r["energy_pj"] > 0 for r in ran)
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"   # cycles per layer, computing and stalled
