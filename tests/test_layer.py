"""ConvLayer: output size, MACs, validation, text form, named layers."""

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
