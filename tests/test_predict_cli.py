"""``qconv predict``: the model alone, as JSON and text; bad DRAM settings are one clear line."""

import json

import numpy as np

from model.commands import build_image
from model.config import AcceleratorConfig
from model.data import random_operands
from model.dram import DramConfig
from model.layer import parse_layer
from model.system_perf import predict_system
from sim.cli import main


def test_predict_json_gives_the_cycles_the_rtl_was_measured_at(capsys):
    # small_3x3 (C8 16x16 M16 3x3) on the default 8x8 WS build: 225,792 MACs, 3542 cycles on the RTL
    # (README); roofline 225,792 / 64 = 3528 compute cycles (inputs 2048 + weights 1152 + outputs 3136
    # bytes at 8 B/cycle = 792 memory cycles)
    assert main(["predict", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["macs"], report["cycles"]) == (225_792, 3542)
    assert report["roofline"] == {"cycles": 3528, "bound": "compute", "compute_cycles": 3528, "memory_cycles": 792,
                                  "compulsory_bytes": {"input": 2048, "weights": 1152, "output": 3136}}
    assert report["roofline_fraction"] == 3528 / 3542
    assert report["dram_words"] == {"input": 2048, "weights": 1152, "output": 3136}
    assert report["energy"]["horowitz"]["total"] > 0


def test_the_dram_bandwidth_sets_the_memory_side(capsys, tmp_path):
    path = tmp_path / "p.json"
    # 64 channels of 8x8 through 8 1x1 filters: 4096 + 512 + 512 bytes, at 16 B/cycle 320 memory cycles;
    # the array needs 32768 / 64 = 512
    assert main(["predict", "--dram-bw", "16", "--layer", "C=64,H=8,W=8,M=8,R=1,S=1", "--json", str(path)]) == 0
    assert "compute-bound" in capsys.readouterr().out
    roof = json.loads(path.read_text())["roofline"]
    assert (roof["memory_cycles"], roof["compute_cycles"]) == (320, 512)


def test_cycles_that_leave_out_dram_time_are_refused_not_reported(capsys):
    # at 2 B/cycle the roofline (2560) exceeds the host-port model's cycles, which have no DRAM time
    assert main(["predict", "--dram-bw", "2", "--layer", "C=64,H=8,W=8,M=8,R=1,S=1"]) == 2
    assert "below the roofline of 2560" in capsys.readouterr().err


def test_bad_bandwidth_is_a_clear_error(capsys):
    assert main(["predict", "--dram-bw", "3"]) == 2
    err = capsys.readouterr().err
    assert "qconv predict: error: bandwidth must be a power of two" in err and "Traceback" not in err


def test_predict_from_dram_is_the_system_model_of_real_operands(capsys, tmp_path):
    # the command list's timing needs no operand values: the CLI's prediction (from zeros) equals
    # model.system_perf's for the seeded random operands `qconv sim --memory dram` runs
    path = tmp_path / "p.json"
    layer_text = "N=1,C=16,H=9,W=9,M=24,R=1,S=1,stride=2"
    assert main(["predict", "--memory", "dram", "--dram-latency", "12", "--layer", layer_text, "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    config, layer = AcceleratorConfig(), parse_layer(layer_text)
    x, w = random_operands(layer, config.bits, np.random.default_rng(1))
    image = build_image(config, layer, x, w)
    want = predict_system(config, image, DramConfig(latency=12, bandwidth=8)).counters
    assert report["sys_cycles"] == want["sys_cycles"] and report["system_counters"] == want
    assert report["stall_cycles"] == want["stall_cycles"] and report["commands"] == len(image.commands)
    assert report["roofline_fraction"] == report["roofline_cycles"] / want["sys_cycles"]   # memory-bound here
