"""Whole accelerator in amaranth.sim: outputs == model.conv, cycles and every counter == model.perf.predict.

One build per configuration runs every layer (the counters are compared as
differences over each layer's program).
"""

import numpy as np
import pytest
from hw_exec import run_layers

from model.config import AcceleratorConfig
from model.conv import conv2d_layer
from model.data import random_operands
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


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_binary_weight_buffer_deeper_than_ifmap_buffer(dataflow):
    """Regression: weight_depth 2048 > ifmap_depth 1024 made ``host_addr`` (as wide as the deepest buffer)
    one bit wider than an ifmap address, and the host/row-0 address Mux shifted rows 1.. of the ifmap
    read addresses: binary padded 3x3 layers computed wrong accumulators (weight_depth <= 1024 was fine)."""
    config = AcceleratorConfig(rows=2, cols=2, bits=1, pack=8, dataflow=dataflow,
                               weight_depth=2048, ifmap_depth=1024, psum_depth=512)
    layer = ConvLayer(N=1, C=3, H=5, W=5, M=2, R=3, S=3, pad=1)
    x, w = random_operands(layer, config.bits, np.random.default_rng(7))
    (out, counters), = run_layers(config, [(layer, x, w)])
    want = conv2d_layer(x, w, layer, config.bits)
    bad = np.argwhere(out != want)
    assert not bad.size, f"output {tuple(bad[0])} is {out[tuple(bad[0])]}, want {want[tuple(bad[0])]}"
    predicted = predict(config, layer)
    assert counters == predicted.counters and counters["cycles"] == predicted.cycles
