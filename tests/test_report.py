"""The qconv sim report: the JSON keys users rely on and the table's verdicts."""

from model.config import AcceleratorConfig
from model.layer import parse_layer
from model.contract import COUNTERS
from model.perf import predict
from sim.report import format_table, make_report

REQUIRED = {"config", "layer", "simulator", "seed", "macs", "cycles", "counters", "utilization", "outputs_match", "pass"}


def _result(prediction, rtl_delta=0, match=True):
    counters = {name: {"rtl": prediction.counters[name], "model": prediction.counters[name]} for name in COUNTERS}
    counters["glb_ifmap_reads"]["rtl"] += rtl_delta
    return {"seed": 7, "outputs_match": match, "first_mismatch": None if match else {"index": [0, 1, 2, 3], "expected": 5, "actual": 4},
            "cycles": counters["cycles"], "counters": counters, "error": None, "pass": match and not rtl_delta}


def test_report_keys_and_utilisation():
    config = AcceleratorConfig.preset("tiny")
    layer = parse_layer("N=1,C=3,H=5,W=5,M=3,R=3,S=3")
    prediction = predict(config, layer)
    report = make_report(config, layer, "verilator", _result(prediction), prediction)
    assert REQUIRED <= set(report)
    assert report["cycles"] == {"rtl": prediction.cycles, "model": prediction.cycles}
    assert report["macs"] == 3 * 3 * 3 * 27  # M * E * F * C*R*S
    assert report["utilization"] == report["macs"] / (prediction.cycles * 4)
    assert report["energy"]["horowitz"]["unit"] == "pJ" and report["energy"]["horowitz"]["total"] > 0
    table = format_table(report)
    assert "PASS" in table and "mismatch" not in table


def test_report_shows_counter_and_output_mismatches():
    config = AcceleratorConfig.preset("tiny", dataflow="os")
    layer = parse_layer("N=1,C=3,H=5,W=5,M=3,R=3,S=3")
    prediction = predict(config, layer)
    report = make_report(config, layer, "icarus", _result(prediction, rtl_delta=1, match=False), prediction)
    assert report["pass"] is False and report["outputs_match"] is False
    table = format_table(report)
    assert "glb_ifmap_reads" in table and "<-- mismatch" in table
    assert "first output mismatch at (n, m, e, f) = (0, 1, 2, 3): expected 5, got 4" in table and "FAIL" in table
