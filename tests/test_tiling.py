"""model.tiling: pass plans and the errors of layers that cannot fit."""

import pytest

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.tiling import plan

TINY = AcceleratorConfig.preset("tiny")  # ifmap 1024 words, weights 128 lines, psum 512 lines, 2x2


def test_layer_that_fits_is_one_pass():
    p = plan(TINY, ConvLayer(N=2, C=2, H=4, W=4, M=3, R=2, S=2))
    assert len(p.passes) == 1
    (ps,) = p.passes
    assert (ps.n0, ps.n_count, ps.m0, ps.m_count, ps.load_ifmap, ps.load_weights) == (0, 2, 0, 3, True, True)


def test_psum_buffer_splits_the_filters_and_keeps_the_ifmap():
    # 12x12 1x1 conv, N=2, M=4: one filter group (2 filters) of both images needs 2*144 = 288 psum lines;
    # both groups would need 576 > 512. Plan: images 0..1 x filters 0..1, then x filters 2..3; the ifmap
    # tile stays. DRAM words: ifmap 2*144 = 288 + weights 4*1 = 4 + outputs 2*4*144 = 1152 -> 1444.
    p = plan(TINY, ConvLayer(N=2, C=1, H=12, W=12, M=4, R=1, S=1))
    assert [(s.n0, s.n_count, s.m0, s.m_count) for s in p.passes] == [(0, 2, 0, 2), (0, 2, 2, 2)]
    assert [(s.load_ifmap, s.load_weights) for s in p.passes] == [(True, True), (False, True)]
    assert p.dram_words == 1444


def test_ifmap_buffer_splits_the_images():
    # C=3, 16x16: 768 words per image; 1024 hold one image: 3 passes, weights written once.
    p = plan(TINY, ConvLayer(N=3, C=3, H=16, W=16, M=2, R=3, S=3))
    assert [(s.n0, s.n_count) for s in p.passes] == [(0, 1), (1, 1), (2, 1)]
    assert [s.load_weights for s in p.passes] == [True, False, False]


@pytest.mark.parametrize(
    "config, layer, words",
    [
        (TINY, ConvLayer(C=15, H=3, W=3, M=1, R=3, S=3), ["C*R*S=135", "max_reduction=128"]),
        (TINY, ConvLayer(C=1, H=33, W=33, M=1, R=1, S=1), ["needs 1089 words of the ifmap buffer", "has 1024"]),
        (TINY, ConvLayer(C=1, H=32, W=32, M=1, R=1, S=1), ["needs 1024 lines of the psum buffer", "has 512"]),
        # binary: C*R*S = 729 <= max_reduction 1024, but Cw=2 words x 81 taps = 162 lines > 128
        (TINY.replace(bits=1), ConvLayer(C=9, H=9, W=9, M=1, R=9, S=9),
         ["needs 162 lines of the weight buffer", "has 128"]),
    ],
)
def test_layers_that_cannot_fit_raise(config, layer, words):
    with pytest.raises(ValueError) as err:
        plan(config, layer)
    for w in words:
        assert w in str(err.value)


def test_grouped_layers_are_refused_until_the_hardware_runs_them():
    dw = ConvLayer(C=8, H=6, W=6, M=8, R=3, S=3, pad=1, groups=8)
    with pytest.raises(ValueError, match="groups=8; the accelerator runs groups=1 only"):
        plan(AcceleratorConfig(), dw)
