"""``qconv map --sweep`` engines and the ``map``/``analyze`` commands: user tables, widths, word counts."""

import json

import pytest

from model.energy import HIERARCHIES, Level
from model.layer import ConvLayer
from model.mapping import search
from sim.cli import main
from sim.fanout import Engine, FanOut, local_cluster
from sim.map_sweep import sweep

TINY = "N=1,C=4,H=6,W=6,M=4,R=3,S=3,stride=1,pad=1"


def _strip(summaries):
    return [{k: v for k, v in s.items() if k != "seconds"} for s in summaries]


def test_sweep_gives_the_same_results_on_every_engine():
    layers = [ConvLayer.parse(TINY), ConvLayer(C=2, H=5, W=5, M=3, R=3, S=3)]
    hier = HIERARCHIES["qconv-tiny"]
    serial = [search(layer, hier, margin=0.0, top=2).summary() for layer in layers]
    with local_cluster(2) as cluster:  # a real scheduler reached by its address
        engines = [FanOut(workers=2), FanOut(engine=Engine.DASK_LOCAL, workers=2),
                   FanOut(engine=Engine.DASK, address=cluster.scheduler_address)]
        for how in engines:
            outcomes = sweep(layers, hier, how=how, margin=0.0, top=2)
            assert all(o.ok for o in outcomes), how
            assert _strip([o.value for o in outcomes]) == _strip(serial), how


def test_qconv_map_sweep_on_a_local_cluster(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    assert main(["map", "--sweep", f"{TINY};N=1,C=2,H=5,W=5,M=3,R=3,S=3,stride=1,pad=0", "--hierarchy", "qconv-tiny",
                 "--dask", "local", "--workers", "2", "--top", "1", "--json", str(out)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("N=1")]
    expected = [search(ConvLayer.parse(spec), HIERARCHIES["qconv-tiny"], margin=0.1, top=1).best[0]
                for spec in (TINY, "N=1,C=2,H=5,W=5,M=3,R=3,S=3,stride=1,pad=0")]
    assert [float(r[1]) for r in rows] == pytest.approx([e.energy for e in expected], rel=1e-3)
    assert [int(r[2]) for r in rows] == [e.cycles for e in expected]
    assert len(json.loads(out.read_text())) == 2


def test_qconv_map_user_table_acc_bits_and_words(tmp_path, capsys):
    table = tmp_path / "zigzag.json"
    table.write_text(json.dumps({"ref_bits": 8, "MAC": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}))
    out = tmp_path / "map.json"
    assert main(["map", "--layer", TINY, "--hierarchy", "rows=2,cols=2,rf_words=0,glb_words=1000",
                 "--table", str(table), "--acc-bits", "8", "--top", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best #1" in text and "DRAM" in text and "pruned:" in text
    best = json.loads(out.read_text())[0]["best"][0]
    words = best["words"]
    assert set(words) == {str(lv) for lv in Level} and set(words["GLB"]) == {"input", "weights", "output"}
    # with every word 8 bits wide, the energy is the table's entries times the counted words (NoC is free)
    cost = {"REG": 1, "RF": 1, "NoC": 0, "GLB": 6, "DRAM": 200}
    layer = ConvLayer.parse(TINY)
    priced = layer.macs + sum(cost[lv] * (v["reads"] + v["writes"]) for lv, per in words.items() for v in per.values())
    assert best["energy"] == pytest.approx(priced)
    assert best["dram_words"] == sum(v["reads"] + v["writes"] for v in words["DRAM"].values())


def test_qconv_map_and_analyze_errors_and_figures(tmp_path, capsys):
    assert main(["map", "--hierarchy", "rows=0"]) == 2
    assert "rows must be in 1..1024, not 0" in capsys.readouterr().err
    assert main(["map", "--address", "tcp://127.0.0.1:8786"]) == 2
    assert "need --sweep" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ref_bits": 8, "MAC": 1, "RF": 1, "GLB": 6, "DRAM": 200}))
    assert main(["map", "--layer", TINY, "--table", str(bad)]) == 2
    assert "missing keys ['NoC']" in capsys.readouterr().err
    assert main(["map", "--layer", TINY, "--table", "cheap"]) == 2
    assert "or a .json file, not 'cheap'" in capsys.readouterr().err
    assert main(["analyze", "--layer", TINY, "--reuse-layer", TINY, "--hierarchy", "qconv-tiny",
                 "--margin", "0", "--out", str(tmp_path / "an")]) == 0
    for name in ("reuse_histograms.png", "hit_rate.png", "energy_breakdown.png", "mapping_pareto.png"):
        assert (tmp_path / "an" / name).stat().st_size > 10_000
    summary = json.loads((tmp_path / "an" / "summary.json").read_text())
    search_summary = summary["search"]
    assert search_summary["best"][0]["energy"] <= min(v["energy"] for v in search_summary["per_dataflow"].values())
