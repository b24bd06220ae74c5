"""The roofline against hand-worked figures."""

import pytest

from model.config import AcceleratorConfig
from model.dram import DramConfig
from model.layer import NAMED_LAYERS, ConvLayer
from model.perf import predict
from model.roofline import Bound, roofline

DEFAULT = AcceleratorConfig.preset("default")  # 8x8, 8-bit


def test_resnet18_conv2_is_compute_bound_by_hand():
    # 64x56x56 input, 64 filters of 64x3x3, pad 1: 64*56*56*64*9 = 115,605,504 MACs on 64 lanes;
    # bytes: input 200,704 + weights 36,864 + output 200,704 = 438,272, at 8 B/cycle 54,784 cycles
    r = roofline(DEFAULT, NAMED_LAYERS["resnet18_conv2"], DramConfig(bandwidth=8))
    assert r.compute_cycles == 1_806_336
    assert r.compulsory_bytes == {"input": 200_704, "weights": 36_864, "output": 200_704}
    assert r.memory_cycles == 54_784
    assert (r.cycles, r.bound) == (1_806_336, Bound.COMPUTE)


def test_a_thin_pointwise_layer_is_memory_bound_by_hand():
    # 1 channel of 8x8, one 1x1 filter: 64 MACs -> 1 cycle on 64 lanes; 64 + 1 + 64 = 129 bytes -> 17 cycles at 8 B
    r = roofline(DEFAULT, ConvLayer(C=1, H=8, W=8, M=1, R=1, S=1))
    assert (r.compute_cycles, r.memory_cycles, r.bound) == (1, 17, Bound.MEMORY)
    # raw 32-bit accumulators out instead: 64 + 1 + 256 = 321 bytes -> 41 cycles
    assert roofline(DEFAULT, ConvLayer(C=1, H=8, W=8, M=1, R=1, S=1), output_bits=32).memory_cycles == 41


def test_binary_values_take_one_bit_and_a_word_holds_pack_channels():
    config = AcceleratorConfig.preset("default", bits=1)
    layer = ConvLayer(C=64, H=4, W=4, M=8, R=3, S=3, pad=1)
    r = roofline(config, layer)
    # 8*16*64*9 = 73,728 MACs on 64 PEs x pack channels; bits: 1024 in, 4608 weights, 128 out
    assert r.compute_cycles == -(-73_728 // (64 * config.pack))
    assert r.compulsory_bytes == {"input": 128, "weights": 576, "output": 16}


def test_no_run_of_the_model_beats_its_roofline():
    for name in ("small_3x3", "cifar_5x5", "mobilenet_pw"):
        layer = NAMED_LAYERS[name]
        cycles = predict(DEFAULT, layer).cycles
        assert 0 < roofline(DEFAULT, layer).fraction(cycles) <= 1


def test_a_run_faster_than_the_roofline_is_refused():
    r = roofline(DEFAULT, NAMED_LAYERS["small_3x3"])
    with pytest.raises(ValueError, match="below the roofline of 3528"):
        r.fraction(r.cycles - 1)
    with pytest.raises(ValueError, match="output_bits"):
        roofline(DEFAULT, NAMED_LAYERS["small_3x3"], output_bits=0)
