"""Grouped layers with 1 < groups < C on the System (model/grouped.py): ungrouped blocks of dense weights.

The blocks against a hand-worked split, the planner's passes covering every output once, refusals
(binary words or column groups that would mix groups), and whole layers in amaranth.sim on the
System with random AXI pauses: outputs against the golden grouped conv (model.conv, checked against
a per-group loop nest in tests/test_conv.py), every accelerator counter against model/system_perf.py.
"""

import numpy as np
import pytest

from model.commands import system_plan
from model.config import AcceleratorConfig
from model.grouped import blocks
from model.layer import ConvLayer
from model.system_perf import predict_accelerator
from tests.test_hw_system import check_layer
from tests.tiled_layers import SYSTEM_TILING

#: (bits, layer): whole column groups per group; two groups in a column group; 16-bit, stride 2,
#: two images; binary with whole words and column groups per group; depthwise on a build whose
#: ifmap has fewer banks than columns (8x8 16-bit: four words a beat), run as blocks.
CASES = {
    "8bit-group-per-block": (dict(bits=8), ConvLayer(C=6, H=5, W=4, M=6, R=3, S=3, pad=1, groups=3)),
    "8bit-groups-share-columns": (dict(bits=8), ConvLayer(C=6, H=5, W=4, M=3, R=3, S=3, pad=1, groups=3)),
    "16bit-stride2-images": (dict(bits=16), ConvLayer(N=2, C=8, H=4, W=4, M=4, R=3, S=3, stride=2, pad=1, groups=2)),
    "binary-whole-words": (dict(bits=1, pack=8), ConvLayer(C=16, H=4, W=4, M=4, R=3, S=3, pad=1, groups=2)),
    "16bit-depthwise-8x8": (dict(bits=16, rows=8, cols=8),
                            ConvLayer(C=8, H=4, W=4, M=8, R=3, S=3, pad=1, groups=8)),
}


def test_blocks_by_hand():
    config = AcceleratorConfig(rows=2, cols=2)
    # 3 groups of 2 channels and 2 filters: a column group is a group
    assert blocks(config, ConvLayer(C=6, H=3, W=3, M=6, R=1, S=1, groups=3)) == [(0, 2, 0, 2), (2, 2, 2, 2), (4, 2, 4, 2)]
    # 3 groups of 2 channels and 1 filter: column group 0 holds groups 0 and 1, column group 1 group 2
    assert blocks(config, ConvLayer(C=6, H=3, W=3, M=3, R=1, S=1, groups=3)) == [(0, 2, 0, 4), (2, 1, 4, 2)]
    # 2 groups of 4 filters: both column groups of a group share its channels, one block
    assert blocks(config, ConvLayer(C=4, H=3, W=3, M=8, R=1, S=1, groups=2)) == [(0, 4, 0, 2), (4, 4, 2, 2)]


def test_binary_refusals_name_the_fields():
    binary = AcceleratorConfig(bits=1, pack=8, rows=2, cols=2)
    with pytest.raises(ValueError, match="C/groups=4 channels per group, not a multiple of the 8 channels"):
        system_plan(binary, ConvLayer(C=8, H=3, W=3, M=4, R=1, S=1, groups=2))
    with pytest.raises(ValueError, match="M/groups=1 filters per group, not a multiple of cols=2"):
        system_plan(binary, ConvLayer(C=16, H=3, W=3, M=2, R=1, S=1, groups=2))


@pytest.mark.parametrize("name", sorted(CASES))
def test_passes_cover_every_output_once(name):
    extra, layer = CASES[name]
    config = AcceleratorConfig(**(SYSTEM_TILING | extra))
    count = np.zeros((layer.N, layer.M, layer.E, layer.F), np.int64)
    for ps in system_plan(config, layer).passes:
        if ps.read_out:
            t = ps.tile
            count[ps.n0:ps.n0 + t.N, ps.m0:ps.m0 + t.M, ps.e0:ps.e0 + t.E, ps.f0:ps.f0 + t.F] += 1
    assert (count == 1).all()
    # the layer's MACs, not the zero products of the blocks, make the utilisation
    assert predict_accelerator(config, layer).macs == layer.macs


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_system_runs_a_grouped_layer(name, dataflow):
    extra, layer = CASES[name]
    check_layer(AcceleratorConfig(**(SYSTEM_TILING | extra), dataflow=dataflow), layer, 9, 11)
