"""``qconv map --sweep`` engines and the ``map``/``analyze`` commands: user tables, widths, word counts."""

import json
import sys
import types

import pytest

from model.energy import HIERARCHIES, Level
from model.layer import ConvLayer
from model.mapping import search
from sim.cli import main
from sim.map_sweep import sweep

TINY = "N=1,C=4,H=6,W=6,M=4,R=3,S=3,stride=1,pad=1"


def _fake_engines(monkeypatch):
    """Stand-ins for dask.distributed and ray that run the jobs in this process."""
    dask, distributed = types.ModuleType("dask"), types.ModuleType("dask.distributed")

    class Client:
        def __init__(self, address):
            self.address = address

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, fn, jobs, pure=True):
            return [fn(j) for j in jobs]

        def gather(self, futures):
            return futures

    distributed.Client = Client
    ray = types.ModuleType("ray")
    ray.init = lambda address=None, ignore_reinit_error=False: None
    ray.remote = lambda fn: types.SimpleNamespace(remote=fn)
    ray.get = lambda results: results
    monkeypatch.setitem(sys.modules, "dask", dask)
    monkeypatch.setitem(sys.modules, "dask.distributed", distributed)
    monkeypatch.setitem(sys.modules, "ray", ray)


def _strip(summaries):
    return [{k: v for k, v in s.items() if k != "seconds"} for s in summaries]


def test_sweep_gives_the_same_results_on_every_engine(monkeypatch):
    layers = [ConvLayer.parse(TINY), ConvLayer(C=2, H=5, W=5, M=3, R=3, S=3)]
    hier = HIERARCHIES["qconv-tiny"]
    serial = [search(layer, hier, margin=0.0, top=2).summary() for layer in layers]
    local = sweep(layers, hier, workers=2, margin=0.0, top=2)
    _fake_engines(monkeypatch)
    dask = sweep(layers, hier, address="dask://127.0.0.1:8786", margin=0.0, top=2)
    ray = sweep(layers, hier, address="ray:auto", margin=0.0, top=2)
    assert _strip(serial) == _strip(local) == _strip(dask) == _strip(ray)


def test_sweep_engine_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match="needs Dask: pip install"):
        sweep([ConvLayer.parse(TINY)], address="tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match="needs Ray: pip install"):
        sweep([ConvLayer.parse(TINY)], address="ray://127.0.0.1:10001")


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
    assert main(["map", "--address", "ray:auto"]) == 2
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
