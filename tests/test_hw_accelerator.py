"""Whole accelerator in amaranth.sim: outputs == model.conv, cycles and every counter == model.perf.predict.

One build per configuration runs every layer (the counters are compared as
differences over each layer's program).
"""

import numpy as np
import pytest
from hw_exec import run_layers
from tiled_layers import TILING, tiled_cases

from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands, random_requant
from model.layer import ConvLayer
from model.perf import predict
from model.tiling import plan

LAYERS = {
    "larger-than-array": ConvLayer(C=3, H=6, W=5, M=5, R=3, S=3),
    "stride2-pad1": ConvLayer(C=2, H=7, W=6, M=3, R=3, S=3, stride=2, pad=1),
    "1x1": ConvLayer(C=5, H=3, W=4, M=3, R=1, S=1),
    "N2": ConvLayer(N=2, C=2, H=4, W=4, M=3, R=2, S=2),
    "two-passes": ConvLayer(N=2, C=1, H=12, W=12, M=4, R=1, S=1),
    "one-pixel": ConvLayer(C=3, H=3, W=3, M=3, R=3, S=3),  # WS: P=1 < rows; fold after fold on one psum line
}

CONFIGS = [
    *(dict(dataflow=df, bits=b, rf_depth=rf) for df in ("ws", "os") for b in (1, 4, 8, 16) for rf in (2, 4)),
    *(dict(dataflow=df, bits=b, rf_depth=rf, rows=r, cols=c)
      for df in ("ws", "os") for (r, c, b, rf) in ((3, 2, 8, 2), (2, 3, 1, 4))),
    # one row, one register-file set: a period of one cycle, so a psum line is read in the cycle it is written
    dict(dataflow="ws", bits=4, rf_depth=2, rows=1, cols=3),
]


def _id(kw):
    return "-".join(f"{k}{v}" for k, v in kw.items())


@pytest.mark.parametrize("overrides", CONFIGS, ids=_id)
def test_layers_match_golden_model_and_performance_model(overrides):
    config = AcceleratorConfig.preset("tiny", **overrides)
    assert plan(config, LAYERS["two-passes"]).passes[1:], "the two-passes layer must need more than one pass"
    rng = np.random.default_rng(7)
    jobs = [(layer, *random_operands(layer, config.bits, rng)) for layer in LAYERS.values()]
    for name, (layer, x, w), (out, counters) in zip(LAYERS, jobs, run_layers(config, jobs)):
        want = conv2d_layer(x, w, layer, config.bits)
        bad = np.argwhere(out != want)
        assert not bad.size, f"{name}: output {tuple(bad[0])} is {out[tuple(bad[0])]}, want {want[tuple(bad[0])]}"
        predicted = predict(config, layer)
        wrong = {k: (v, predicted.counters[k]) for k, v in counters.items() if v != predicted.counters[k]}
        assert not wrong, f"{name}: counters (rtl, model) differ: {wrong}"
        assert counters["cycles"] == predicted.cycles and counters["macs"] == layer.macs


@pytest.mark.parametrize("overrides", [dict(dataflow=df, bits=b) for df in ("ws", "os") for b in (8, 4)], ids=_id)
def test_requantized_outputs_match_the_model(overrides):
    """Requant on: reads return requantize(conv) bit-exactly; cycles and counters are unchanged."""
    config = AcceleratorConfig.preset("tiny", **overrides)
    rng = np.random.default_rng(11)
    names = ("larger-than-array", "two-passes", "stride2-pad1")
    jobs = []
    for i, name in enumerate(names):
        layer = LAYERS[name]
        jobs.append((layer, *random_operands(layer, config.bits, rng), random_requant(layer, config.bits, rng, i % 2 == 0)))
    jobs.append(jobs[0][:3])  # and the raw accumulators again afterwards (requant off)
    for (layer, x, w, *rq), (out, counters) in zip(jobs, run_layers(config, jobs)):
        acc = conv2d_layer(x, w, layer, config.bits)
        want = rq[0].apply(acc) if rq else acc
        if rq:
            assert len(np.unique(want)) > 4, "the test parameters should spread the outputs"
        bad = np.argwhere(out != want)
        assert not bad.size, f"{layer}: output {tuple(bad[0])} is {out[tuple(bad[0])]}, want {want[tuple(bad[0])]}"
        predicted = predict(config, layer)
        assert counters == predicted.counters


@pytest.mark.parametrize("config, layer", [
    (AcceleratorConfig(rows=2, cols=1, bits=8, ifmap_depth=64, weight_depth=24, psum_depth=65),
     ConvLayer(C=1, H=4, W=7, M=3, R=3, S=1, stride=2)),
    *((AcceleratorConfig(rows=2, cols=2, bits=1, pack=8, dataflow=df, weight_depth=2048, ifmap_depth=1024, psum_depth=512),
       ConvLayer(C=3, H=5, W=5, M=2, R=3, S=3, pad=1)) for df in ("ws", "os")),
], ids=["psum-deeper-ws-bits8", "weight-deeper-ws-binary", "weight-deeper-os-binary"])
def test_buffer_deeper_than_ifmap_buffer(config, layer):
    """Regression: ``host_addr`` spans the deepest buffer; when it was wider than an ifmap address,
    the host/row-0 address Mux shifted the ifmap read addresses of rows 1.. (found by ``qconv regress``
    and by ``qconv infer`` on a binary build with weight_depth 2048 > ifmap_depth 1024)."""
    x, w = random_operands(layer, config.bits, np.random.default_rng(7))
    ((out, counters),) = run_layers(config, [(layer, x, w)])
    want = conv2d_layer(x, w, layer, config.bits)
    bad = np.argwhere(out != want)
    assert not bad.size, f"output {tuple(bad[0])} is {out[tuple(bad[0])]}, want {want[tuple(bad[0])]}"
    assert counters == predict(config, layer).counters


@pytest.mark.parametrize("overrides", [dict(dataflow=df, bits=b) for df in ("ws", "os") for b in (8, 1, 16)], ids=_id)
def test_tiled_layers_match_golden_model_and_performance_model(overrides):
    """Row bands (stride 2, padding), column bands, channel tiles (partial sums kept), filter and image tiles."""
    config = AcceleratorConfig(**TILING, **overrides)
    layers = tiled_cases(config)
    rng = np.random.default_rng(3)
    jobs = [(layer, *random_operands(layer, config.bits, rng)) for layer in layers.values()]
    for name, (layer, x, w), (out, counters) in zip(layers, jobs, run_layers(config, jobs)):
        want = conv2d_layer(x, w, layer, config.bits)
        bad = np.argwhere(out != want)
        assert not bad.size, f"{name}: output {tuple(bad[0])} is {out[tuple(bad[0])]}, want {want[tuple(bad[0])]}"
        predicted = predict(config, layer)
        wrong = {k: (v, predicted.counters[k]) for k, v in counters.items() if v != predicted.counters[k]}
        assert not wrong, f"{name}: counters (rtl, model) differ: {wrong}"
