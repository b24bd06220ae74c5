"""The content-addressed build cache (sim/build_cache.py)."""

import os
from pathlib import Path

import pytest

import fanout_items
from model.config import AcceleratorConfig
from model.layer import ConvLayer
from sim.build_cache import CACHE_ENV, build_key, cache_root, cached_build
from sim.fanout import FanOut, fan_out
from sim.runner import build, run

VERILOG = "module top(input a, output b); assign b = a; endmodule\n"


def test_the_key_follows_every_input_and_nothing_else():
    key = build_key(VERILOG, "verilator", ["-O3"], {"waves": False})
    assert key == build_key(VERILOG, "verilator", ["-O3"], {"waves": False}) and len(key) == 24
    others = [build_key(VERILOG.replace("a;", "~a;"), "verilator", ["-O3"], {"waves": False}),
              build_key(VERILOG, "icarus", ["-O3"], {"waves": False}),
              build_key(VERILOG, "verilator", ["-O2"], {"waves": False}),
              build_key(VERILOG, "verilator", ["-O3"], {"waves": True})]
    assert len({key, *others}) == 5


def test_cache_root_is_the_environment_variable_or_build_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_root() == (Path("build") / "cache").resolve()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "shared"))
    assert cache_root() == tmp_path / "shared"


def test_a_build_is_made_once_and_reused(tmp_path):
    calls = []

    def compile_into(folder):
        calls.append(folder)
        (folder / "obj").mkdir()

    first = cached_build(VERILOG, "icarus", [], {}, compile_into, root=tmp_path)
    assert cached_build(VERILOG, "icarus", [], {}, compile_into, root=tmp_path) == first
    assert calls == [first] and first.parent == tmp_path / "icarus"
    other = cached_build(VERILOG, "icarus", ["-g2012"], {}, compile_into, root=tmp_path)
    assert other != first and len(calls) == 2


def test_a_build_cut_short_is_built_again(tmp_path):
    def broken(folder):
        (folder / "obj").mkdir()
        (folder / "obj" / "half.o").write_text("")
        raise RuntimeError("compiler killed")

    with pytest.raises(RuntimeError, match="compiler killed"):
        cached_build(VERILOG, "icarus", [], {}, broken, root=tmp_path)
    seen = []

    def good(folder):
        seen.append(sorted(os.listdir(folder)))
        (folder / "obj").mkdir()

    cached_build(VERILOG, "icarus", [], {}, good, root=tmp_path)
    assert seen and "obj" not in seen[0]  # the half-made objects were removed before the new build


def test_two_processes_wanting_one_build_at_once_build_it_once(tmp_path):
    marker = tmp_path / "compiles"
    outcomes = fan_out(fanout_items.build_once_slowly, [(tmp_path / "cache", marker)] * 2, FanOut(workers=2))
    assert all(o.ok for o in outcomes) and outcomes[0].value == outcomes[1].value
    assert len(marker.read_text().splitlines()) == 1


@pytest.mark.cosim
def test_a_design_built_for_one_folder_is_reused_from_another(require_simulator, tmp_path, monkeypatch):
    require_simulator("icarus")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    config = AcceleratorConfig(rows=1, cols=1, bits=8, rf_depth=2, ifmap_depth=16, weight_depth=1, psum_depth=1)
    first = build(config, "icarus", root=tmp_path / "a")
    stamp = (first.objects / "sim.vvp").stat().st_mtime_ns
    second = build(config, "icarus", root=tmp_path / "b")
    assert second.objects == first.objects and (second.objects / "sim.vvp").stat().st_mtime_ns == stamp
    assert second.directory != first.directory
    assert run(second, [(ConvLayer(C=1, H=1, W=1, M=1, R=1, S=1), 1)])[0]["pass"]
