"""Mapped loop nests: trace-driven == analytical accesses, closed forms, the search, sweeps and the CLI."""

import json
import sys
import types

import numpy as np
import pytest

from model.accesses import Mapping, analytical_counts, footprints, trace_counts
from model.energy import HIERARCHIES, Hierarchy
from model.layer import ConvLayer
from model.loopnest import conv_nest, matmul_nest
from model.mapping import (
    _candidates, _full, _glb_words, conv_mapping, dram_words, handwritten, pareto_front, search, sweep,
)
from sim.cli import main

SMALL = [
    ConvLayer(C=3, H=7, W=6, M=5, R=3, S=2, stride=2, pad=1),
    ConvLayer(C=4, H=6, W=6, M=4, R=3, S=3, pad=1),
    ConvLayer(N=2, C=3, H=8, W=8, M=4, R=1, S=1, stride=2),
]
TINY = "N=1,C=4,H=6,W=6,M=4,R=3,S=3,stride=1,pad=1"


def _random_mapping(nest, rng):
    nest = nest.interchange(list(rng.permutation(nest.names)))
    n = len(nest.names)
    glb = int(rng.integers(0, n - 1))
    rf = int(rng.integers(glb + 2, n + 1))
    spatial = tuple(nest.names[rf - 2:rf])
    held = frozenset(t.name for t in nest.tensors if rng.random() < 0.5)
    return Mapping(nest, glb, rf, spatial, held)


@pytest.mark.parametrize("layer", SMALL, ids=str)
def test_trace_driven_and_analytical_accesses_agree(layer):
    rng = np.random.default_rng(0)
    base = conv_nest(layer).tile("m", 2, "m1", "m0").tile("e", 2, "e1", "e0").tile("c", 2, "c1", "c0")
    for _ in range(12):
        m = _random_mapping(base, rng)
        exact, fast = trace_counts(m), analytical_counts(m)
        assert exact == fast, m.describe()
        assert exact.macs == layer.macs


def test_agreement_on_search_style_mappings_and_matmul():
    layer = SMALL[1]
    hier = Hierarchy(rows=2, cols=3, rf_words=4, glb_words=400)
    for m in handwritten(layer, hier).values():
        assert trace_counts(m) == analytical_counts(m)
        assert footprints(m)["GLB"] <= hier.glb_words
    m = conv_mapping(layer, glb_tile={"m": 3, "c": 2, "e": 4, "f": 6, "r": 3, "s": 3}, spatial=(("f", 2), ("m", 3)),
                     rf_tile={"c": 2, "r": 3, "s": 3, "f": 2}, dram_order="cmef", glb_order="efm",
                     rf_order="crsf", rf_tensor="output")
    assert trace_counts(m) == analytical_counts(m)
    mm = matmul_nest(5, 4, 7).tile("k", 3).tile("i", 2).interchange(["i_o", "k_o", "j", "i_i", "k_i"])
    m = Mapping(mm, 2, 4, ("j", "i_i"), frozenset({"C"}))
    assert trace_counts(m) == analytical_counts(m)


def test_compulsory_traffic_and_hand_checkable_counts():
    layer = SMALL[1]
    whole = Mapping(conv_nest(layer, "nmefcrs"), 0, 4, (), frozenset({"output"}))
    c = analytical_counts(whole)
    # everything fits the GLB: each word crosses DRAM once; the output is drained once, never re-read
    assert c.accesses["DRAM"]["weights"] == (layer.M * layer.C * layer.R * layer.S, 0)
    assert c.accesses["DRAM"]["input"] == (layer.C * layer.H * layer.W, 0)
    assert c.accesses["DRAM"]["output"] == (0, layer.M * layer.E * layer.F)
    # the RF holds the psum over c r s: one drain per output, a read and a write per MAC
    assert c.accesses["NoC"]["output"] == (layer.M * layer.E * layer.F, 0)
    assert c.accesses["RF"]["output"] == (layer.macs, layer.macs)
    assert c.compute_cycles == layer.macs


def test_closed_form_dram_words_and_glb_footprint():
    rng = np.random.default_rng(1)
    for layer in SMALL:
        full = _full(layer)
        for _ in range(15):
            tile = dict(full) | {d: int(rng.choice(_candidates(full[d]))) for d in "nmcef"}
            order = "".join(rng.permutation(list("nmcef")))
            m = conv_mapping(layer, glb_tile=tile, spatial=(), rf_tile={}, dram_order=order, glb_order="nmcefrs",
                             rf_order="", rf_tensor="output")
            assert dram_words(layer, tile, order) == analytical_counts(m).accesses["DRAM"]
            assert footprints(m)["GLB"] == _glb_words(layer, tile)


def test_search_beats_the_hand_written_dataflows():
    layer = ConvLayer.parse(TINY)
    hier = Hierarchy(rows=2, cols=2, rf_words=2, glb_words=300)
    result = search(layer, hier, table="horowitz", bits=8, keep=4)
    best = result.best[0]
    assert result.evaluated == len(result.points) > 0
    for hand in ("os", "ws"):
        assert best.energy <= result.handwritten[hand].energy
    assert best.energy == result.points[:, 0].min()
    assert sum(sum(v.values()) for v in best.breakdown.values()) == pytest.approx(best.energy)
    assert footprints(best.mapping)["RF"] <= hier.rf_words
    assert footprints(best.mapping)["GLB"] <= hier.glb_words
    assert trace_counts(best.mapping) == best.counts  # the winner's counts hold on the executed nest
    assert set(result.per_dataflow) == {"os", "ws", "is"}
    fastest = search(layer, hier, objective="cycles", keep=4).best[0]
    assert fastest.cycles <= best.cycles
    assert fastest.cycles >= -(-layer.macs // hier.pes)


def test_search_errors():
    layer = ConvLayer.parse(TINY)
    with pytest.raises(ValueError, match="no GLB tile"):
        search(layer, Hierarchy(glb_words=5))
    with pytest.raises(ValueError, match="objective must be one of"):
        search(layer, objective="area")
    with pytest.raises(ValueError, match="spatial loops"):
        Mapping(conv_nest(layer), 0, 7, ("m",), frozenset())


def test_pareto_front():
    pts = np.array([[3, 1], [1, 3], [2, 2], [2, 3], [4, 4], [1, 4]])
    assert sorted(pareto_front(pts).tolist()) == [0, 1, 2]


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
    serial = [search(layer, hier, keep=2).summary() for layer in layers]
    local = sweep(layers, hier, workers=2, keep=2)
    _fake_engines(monkeypatch)
    dask = sweep(layers, hier, address="dask://127.0.0.1:8786", keep=2)
    ray = sweep(layers, hier, address="ray:auto", keep=2)
    assert _strip(serial) == _strip(local) == _strip(dask) == _strip(ray)


def test_sweep_engine_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match="needs Dask: pip install"):
        sweep([ConvLayer.parse(TINY)], address="tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match="needs Ray: pip install"):
        sweep([ConvLayer.parse(TINY)], address="ray://127.0.0.1:10001")


def test_qconv_map_and_analyze(tmp_path, capsys):
    out = tmp_path / "map.json"
    assert main(["map", "--layer", TINY, "--hierarchy", "qconv-tiny", "--keep", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "hand os" in text and "best ws" in text and "best #1" in text and "DRAM" in text
    data = json.loads(out.read_text())
    assert data[0]["best"][0]["energy"] <= data[0]["handwritten"]["ws"]["energy"]
    assert main(["map", "--hierarchy", "rows=0"]) == 2
    assert "rows must be in 1..1024, not 0" in capsys.readouterr().err
    assert main(["map", "--address", "ray:auto"]) == 2
    assert main(["analyze", "--layer", TINY, "--reuse-layer", TINY, "--hierarchy", "qconv-tiny",
                 "--keep", "1", "--out", str(tmp_path / "an")]) == 0
    for name in ("reuse_histograms.png", "hit_rate.png", "energy_breakdown.png", "mapping_pareto.png"):
        assert (tmp_path / "an" / name).stat().st_size > 10_000
    summary = json.loads((tmp_path / "an" / "summary.json").read_text())
    assert summary["search"]["best"][0]["energy"] <= summary["search"]["handwritten"]["os"]["energy"]
