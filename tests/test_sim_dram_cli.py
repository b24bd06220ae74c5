"""``qconv sim --memory dram``: a small layer through the System on Icarus, its report's DRAM keys
against the command list (bytes) and the model (cycles), and bad DRAM timings refused clearly."""

import json

import numpy as np
import pytest

from model.commands import build_image
from model.config import AcceleratorConfig
from model.contract import COMMAND_BYTES, Opcode
from model.data import random_operands
from model.dram import DramConfig
from model.layer import parse_layer
from model.system_perf import predict_system
from sim.cli import main
from tests.command_reference import moved

LAYER = "C=4,H=8,W=8,M=4,R=3,S=3,pad=1"


@pytest.mark.cosim
def test_sim_from_dram_reports_stalls_and_bytes(tmp_path, capsys, require_simulator):
    require_simulator("icarus")
    path = tmp_path / "report.json"
    status = main(["sim", "--memory", "dram", "--sim", "icarus", "--preset", "tiny", "--layer", LAYER,
                   "--dram-bw", "2", "--dram-latency", "7", "--json", str(path)])
    assert status == 0, capsys.readouterr().out
    report = json.loads(path.read_text())
    assert report["pass"] and report["outputs_match"] and report["memory"] == "dram"
    assert report["dram"] == {"latency": 7, "bandwidth": 2}

    config, layer = AcceleratorConfig.preset("tiny"), parse_layer(LAYER)
    x, w = random_operands(layer, config.bits, np.random.default_rng(1))
    image = build_image(config, layer, x, w)
    by_op = {op: sum(moved(c.fields) for c in image.commands if c.opcode is op) for op in (Opcode.LOAD, Opcode.STORE)}
    read = COMMAND_BYTES * len(image.commands) + by_op[Opcode.LOAD]
    assert report["dram_bytes"] == {"read": {"rtl": read, "model": read},
                                    "write": {"rtl": by_op[Opcode.STORE], "model": by_op[Opcode.STORE]}}
    model = predict_system(config, image, DramConfig(latency=7, bandwidth=2)).counters
    assert report["stall_cycles"] == {"rtl": model["stall_cycles"], "model": model["stall_cycles"]}
    assert report["sys_cycles"]["rtl"] == model["sys_cycles"] > report["cycles"]["rtl"]
    assert report["roofline_fraction"] == report["roofline_cycles"] / model["sys_cycles"]


@pytest.mark.parametrize("options, message", [
    (["--dram-bw", "3"], "bandwidth must be a power of two"),
    (["--dram-bw", "16"], "bandwidth must be in 1..8"),
    (["--dram-latency", "1"], "latency must be in 2..4096, not 1"),
    (["--waves"], "--waves records host-memory runs only"),
])
def test_bad_dram_timing_is_a_clear_error(options, message, capsys):
    assert main(["sim", "--memory", "dram", "--layer", LAYER, *options]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_unknown_memory_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "--memory", "flash"])
    err = capsys.readouterr().err
    assert "--memory: invalid choice: 'flash'" in err and "'host', 'dram'" in err, err
