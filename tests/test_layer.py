"""ConvLayer: output size, MACs, validation, text form, named layers."""

import json

import pytest

from model.layer import NAMED_LAYERS, ConvLayer, parse_layer


def test_hand_worked_shape():
    layer = ConvLayer(N=2, C=3, H=7, W=9, M=4, R=3, S=2, stride=2, pad=1)
    # E = (7 + 2 - 3) // 2 + 1 = 4, F = (9 + 2 - 2) // 2 + 1 = 5
    assert (layer.E, layer.F) == (4, 5)
    assert layer.macs == 2 * 4 * 4 * 5 * 3 * 3 * 2
    assert layer.output_shape == (2, 4, 4, 5)


def test_text_round_trip():
    text = "N=1,C=8,H=16,W=16,M=16,R=3,S=3,stride=1,pad=1"
    layer = parse_layer(text)
    assert str(layer) == text
    assert ConvLayer.parse(" C=1, H=4,W=4,M=1,R=1,S=1 ") == ConvLayer(C=1, H=4, W=4, M=1, R=1, S=1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("C=8,H=16", "missing field"),
        ("C=8,H=16,W=16,M=16,R=3,S=3,Q=2", "unknown layer field 'Q'"),
        ("C=8,H=x,W=16,M=16,R=3,S=3", "H='x' is not an integer"),
        ("C=8,,H=16", "is not KEY=VALUE"),
        ("C=8,C=9,H=16,W=16,M=16,R=3,S=3", "given twice"),
        ("resnet99", "neither a named layer"),
        ("C=8,H=2,W=16,M=16,R=3,S=3", "kernel R=3 is larger than the padded input H"),
        ("C=8,H=16,W=16,M=16,R=3,S=3,stride=0", "stride must be in 1..65535, not 0"),
        ("C=0,H=16,W=16,M=16,R=3,S=3", "C must be in 1..65535, not 0"),
        ("C=1,H=16,W=16,M=-2,R=3,S=3", "M must be in 1..65535, not -2"),
        ("C=6,H=8,W=8,M=6,R=3,S=3,groups=4", "C=6 is not a multiple of groups=4"),
        ("C=8,H=8,W=8,M=6,R=3,S=3,groups=4", "M=6 is not a multiple of groups=4"),
        ("C=8,H=8,W=8,M=8,R=3,S=3,groups=0", "groups must be in 1..65535, not 0"),
    ],
)
def test_bad_layer_text(text, message):
    with pytest.raises(ValueError, match=message):
        parse_layer(text)


def test_kernel_fits_only_with_padding():
    assert ConvLayer(C=1, H=2, W=2, M=1, R=3, S=3, pad=1).E == 2
    with pytest.raises(ValueError, match="allowed S <= 4"):
        ConvLayer(C=1, H=2, W=2, M=1, R=3, S=5, pad=1)


def test_named_layers():
    lenet = NAMED_LAYERS["lenet5_conv1"]
    assert (lenet.E, lenet.F, lenet.M) == (28, 28, 6)
    assert parse_layer("lenet5_conv2").macs == 16 * 10 * 10 * 6 * 5 * 5
    conv1 = parse_layer("resnet18_conv1")
    assert (conv1.E, conv1.F) == (112, 112)
    assert parse_layer("vgg16_conv1_1").E == 224


def test_groups_text_json_and_derived_sizes():
    dw = parse_layer("C=32,H=112,W=112,M=32,R=3,S=3,stride=1,pad=1,groups=32")
    assert str(dw) == "N=1,C=32,H=112,W=112,M=32,R=3,S=3,stride=1,pad=1,groups=32"
    assert dw.depthwise and dw.weight_shape == (32, 1, 3, 3) and dw.reduction == 9
    assert dw.macs == 32 * 112 * 112 * 9
    assert ConvLayer.from_dict(json.loads(json.dumps(dw.to_dict()))) == dw
    grouped = ConvLayer(C=8, H=4, W=4, M=12, R=3, S=3, groups=4)  # 2 channels, 3 filters per group
    assert (grouped.group_channels, grouped.group_filters, grouped.reduction) == (2, 3, 18)
    assert not grouped.depthwise
    # groups=1 keeps the old text form; the JSON form always carries it
    plain = parse_layer("N=1,C=8,H=16,W=16,M=16,R=3,S=3,stride=1,pad=1")
    assert "groups" not in str(plain) and plain.to_dict()["groups"] == 1
    assert ConvLayer.from_dict({k: v for k, v in plain.to_dict().items() if k != "groups"}) == plain
    with pytest.raises(ValueError, match=r"unknown layer field\(s\) \['G'\]"):
        ConvLayer.from_dict({**plain.to_dict(), "G": 2})


def test_mobilenet_v1_named_layers():
    """MobileNet-v1 at 224x224 (Howard et al. 2017, table 1): 27 conv layers, 569 M MACs with the classifier."""
    names = ["mobilenet_v1_conv1"] + [f"mobilenet_v1_{kind}{i}" for i in range(1, 14) for kind in ("dw", "pw")]
    layers = [NAMED_LAYERS[n] for n in names]
    assert all(NAMED_LAYERS[f"mobilenet_v1_dw{i}"].depthwise for i in range(1, 14))
    # each layer's input is the previous layer's output
    for prev, layer in zip(layers, layers[1:]):
        assert (layer.C, layer.H, layer.W) == (prev.M, prev.E, prev.F)
    assert [i for i in range(1, 14) if NAMED_LAYERS[f"mobilenet_v1_dw{i}"].stride == 2] == [2, 4, 6, 12]
    assert (layers[-1].M, layers[-1].E) == (1024, 7)
    fc_macs = 1024 * 1000
    assert round((sum(l.macs for l in layers) + fc_macs) / 1e6) == 569


def test_every_network_layer_is_named_with_the_published_mac_counts():
    """Convolution MACs of the whole networks, as published (ResNet-18 1.81 G, VGG-16 15.35 G,
    MobileNet-v1 568 M without its classifier), and the layer counts (20, 13, 27)."""
    from model.layer import network_layers

    expected = {"resnet18": (20, 1_813_561_344), "vgg16": (13, 15_346_630_656), "mobilenet_v1": (27, 567_716_352)}
    for net, (count, macs) in expected.items():
        layers = network_layers(net)
        assert len(layers) == count
        assert sum(layer.macs for layer in layers.values()) == macs
    with pytest.raises(ValueError, match="is not one of"):
        network_layers("alexnet")
