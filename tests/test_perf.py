"""model.perf: hand-counted small cases and invariants."""

import pytest

from model.config import AcceleratorConfig
from model.layer import NAMED_LAYERS, ConvLayer
from model.contract import COUNTERS
from model.perf import predict

TINY = AcceleratorConfig.preset("tiny")  # 2x2 array, rf_depth 2 -> G = 1, span = rows*G = 2
# C=1, 3x3 input, one 2x2 filter: E=F=2, P=4 pixels, Kw=4 reduction words, one filter group.
LAYER = ConvLayer(C=1, H=3, W=3, M=1, R=2, S=2)


def test_ws_hand_counted():
    p = predict(TINY.replace(dataflow="ws"), LAYER)
    # Folds: Kw=4 words / (rows*G=2) = 2 k-folds x 1 filter group.
    # Periods: load fold 0 (2) + fold 0 streams 4 pixels while fold 1 loads (G*max(P, rows) = 4)
    #          + fold 1 streams alone (G*P = 4) = 10; + TAIL 5 (issue register 1, buffer read 1, PE
    #          operand register 1, product register 1, column accumulate 1) + the cycle done rises = 16.
    assert p.cycles == 16
    # Naive: each fold pays load 2 + stream 4 + tail 5 = 11; 2 folds + 1 = 23.
    assert p.naive_cycles == 23
    assert p.counters == {
        "cycles": 16, "macs": 16,  # 4 pixels x 4 words
        "dram_ifmap_reads": 9, "dram_weight_reads": 4, "dram_psum_writes": 4,
        "glb_ifmap_reads": 16, "glb_ifmap_writes": 9,  # no padding: every (pixel, word) read once
        "glb_weight_reads": 4, "glb_weight_writes": 4,  # each weight line loaded once
        "glb_psum_reads": 4 + 4,  # k-fold 1 reads the 4 psums of k-fold 0; the host reads 4 outputs
        "glb_psum_writes": 8,  # both k-folds write 4 psums
        "rf_weight_reads": 16, "rf_weight_writes": 4, "rf_psum_reads": 0, "rf_psum_writes": 0,
    }


def test_os_hand_counted():
    p = predict(TINY.replace(dataflow="os"), LAYER)
    # Folds: P=4 pixels / 2 = 2 pixel folds. Periods: walk fold 0's pixels (2) + fold 0 streams Kw=4
    # words while fold 1 is walked (4) + fold 1 streams while fold 0 drains (4) + drain fold 1 (2) = 12;
    # + TAIL 4 (issue register 1, buffer read 1, PE operand register 1, product register 1) + 1 = 17.
    assert p.cycles == 17
    # Naive: each fold pays walk 2 + stream 4 + drain 2 + tail 4 = 12; 2 folds + 1 = 25.
    assert p.naive_cycles == 25
    c = p.counters
    assert c["glb_weight_reads"] == 8  # each fold reads the 4 weight lines
    assert c["glb_psum_writes"] == 4 and c["glb_psum_reads"] == 4  # drained once; read once by the host
    assert c["rf_psum_writes"] == 16  # one accumulate per product
    assert c["rf_psum_reads"] == 16  # 3 accumulate reads + 1 drain read per output
    assert c["rf_weight_reads"] == c["rf_weight_writes"] == 0


def test_padding_is_not_read():
    # 2x2 input, 3x3 kernel, pad 1: E=F=2; every output window covers all 4 real pixels.
    layer = ConvLayer(C=1, H=2, W=2, M=1, R=3, S=3, pad=1)
    for dataflow in ("ws", "os"):
        c = predict(TINY.replace(dataflow=dataflow), layer).counters
        assert c["glb_ifmap_reads"] == 4 * 4
        assert c["macs"] == layer.macs == 4 * 9


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("bits", [1, 8])
def test_invariants(dataflow, bits):
    config = AcceleratorConfig.preset("default", dataflow=dataflow, bits=bits)
    for layer in (NAMED_LAYERS["small_3x3"], NAMED_LAYERS["mobilenet_pw"], NAMED_LAYERS["lenet5_conv2"]):
        p = predict(config, layer)
        assert tuple(p.counters) == COUNTERS
        assert p.counters["cycles"] == p.cycles and p.macs == layer.macs
        assert p.ideal_cycles <= p.cycles < p.naive_cycles
        assert p.utilization == pytest.approx(p.macs / (p.cycles * config.pes * config.channels_per_word))


@pytest.mark.parametrize(
    "name, preset, dataflow",
    [(n, pre, df) for n, pre in (("small_3x3", "default"), ("cifar_5x5", "large"), ("mobilenet_pw", "default"))
     for df in ("ws", "os")],
)
def test_utilisation_targets(name, preset, dataflow):
    p = predict(AcceleratorConfig.preset(preset, dataflow=dataflow), NAMED_LAYERS[name])
    assert p.utilization >= 0.90
    assert p.cycles < p.naive_cycles
