"""Depthwise layers on the System (model/depthwise.py, the line reads of hw/global_buffer.py and hw/array.py).

The planner's tiles against a brute-force check (every output of every channel computed once, every
tile within the buffers, the closed-form cycles equal to the passes'), its refusals, and whole layers
in amaranth.sim on the System with random AXI pauses: outputs against the golden grouped conv
(model.conv, itself checked against a per-group loop nest in tests/test_conv.py), every accelerator
counter against model/system_perf.py.
"""

import itertools

import numpy as np
import pytest

from model.commands import system_plan
from model.config import AcceleratorConfig
from model.contract import pass_shape
from model.depthwise import _cycles, _passes, depthwise_passes
from model.layer import NAMED_LAYERS, ConvLayer
from model.system_perf import predict_accelerator
from model.tiling import pass_cycles, plan
from tests.test_hw_system import check_layer
from tests.tiled_layers import DEPTHWISE, SYSTEM_TILING

BITS = {"8bit": dict(bits=8), "16bit": dict(bits=16), "binary": dict(bits=1, pack=8)}


def _covered(config, layer, passes):
    """How often each output (m, n, e, f) is computed by ``passes``; every tile checked against the buffers."""
    count = np.zeros((layer.M, layer.N, layer.E, layer.F), np.int64)
    for ps in passes:
        t = ps.tile
        assert t.depthwise and t.C == 1
        groups = -(-ps.m_count // config.cols)
        assert ps.n_count * groups * t.H * t.W * config.cols <= config.ifmap_depth
        assert groups * t.R * t.S <= config.weight_depth and groups * ps.n_count * t.E * t.F <= config.psum_depth
        assert ps.m0 % config.cols == 0
        count[ps.m0:ps.m0 + ps.m_count, ps.n0:ps.n0 + ps.n_count, ps.e0:ps.e0 + t.E, ps.f0:ps.f0 + t.F] += 1
    return count


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("name", [f"mobilenet_v1_dw{i}" for i in (1, 2, 4, 12, 13)] + sorted(DEPTHWISE))
def test_tiles_cover_every_output_once_within_the_buffers(name, dataflow):
    layer = NAMED_LAYERS.get(name) or DEPTHWISE[name]
    config = AcceleratorConfig(dataflow=dataflow, **({} if name in NAMED_LAYERS else SYSTEM_TILING))
    half = config.replace(ifmap_depth=config.ifmap_depth // 2, weight_depth=config.weight_depth // 2,
                          psum_depth=config.psum_depth // 2)
    passes = depthwise_passes(half, layer)
    assert (_covered(half, layer, passes) == 1).all()
    n_e_f = {(ps.n_count, ps.tile.E, ps.tile.F) for ps in passes}
    sizes = max(ps.n_count for ps in passes), max(-(-ps.m_count // config.cols) for ps in passes), \
        max(e for _, e, _ in n_e_f), max(f for _, _, f in n_e_f)
    assert _cycles(half, layer, *sizes) == (sum(pass_cycles(half, ps.tile) for ps in passes), len(passes))
    assert system_plan(config, layer).passes == passes


@pytest.mark.parametrize("name", sorted(DEPTHWISE))
def test_no_tiling_loads_fewer_input_lines(name):
    """Brute force: every tile size of images, groups, rows and columns that fits, its passes' input lines
    counted tile by tile; none loads fewer than the plan, and none as few in fewer cycles."""
    layer = DEPTHWISE[name]
    config = AcceleratorConfig(**SYSTEM_TILING)
    half = config.replace(ifmap_depth=config.ifmap_depth // 2, weight_depth=config.weight_depth // 2,
                          psum_depth=config.psum_depth // 2)

    def cost(passes):
        lines = sum(ps.tile.N * -(-ps.tile.M // config.cols) * ps.tile.H * ps.tile.W for ps in passes)
        return lines, sum(pass_cycles(half, ps.tile) for ps in passes)

    chosen = cost(depthwise_passes(half, layer))
    groups = -(-layer.M // config.cols)
    for n, k, e, f in itertools.product(range(1, layer.N + 1), range(1, groups + 1), range(1, layer.E + 1),
                                        range(1, layer.F + 1)):
        passes = _passes(half, layer, n, k, e, f)
        try:
            _covered(half, layer, passes)
        except AssertionError:
            continue   # a tile over a buffer
        assert cost(passes) >= chosen, (n, k, e, f)


def test_a_depthwise_pass_is_a_one_channel_layer_of_its_groups():
    """A pass of k groups is a one-channel layer (Kw = R*S): WS of k filter groups, folds k per word group;
    OS of k images of one filter group, its folds over all k*E*F pixels (a fold may hold two groups)."""
    layer = NAMED_LAYERS["mobilenet_v1_dw7"]    # 14x14, 512 channels: 5 groups of 8 a pass
    ws, os_ = (system_plan(AcceleratorConfig(dataflow=d), layer).passes[0] for d in ("ws", "os"))
    assert ws.m_count == os_.m_count == 40
    shape = pass_shape(AcceleratorConfig(dataflow="ws"), ws.tile)
    assert (shape.Cw, shape.Kw, shape.P, shape.m_groups, shape.folds) == (1, 9, 196, 5, 5 * 2)
    shape = pass_shape(AcceleratorConfig(dataflow="os"), os_.tile)
    assert (shape.Cw, shape.Kw, shape.P, shape.m_groups, shape.folds) == (1, 9, 5 * 196, 1, 123)   # 980 / 8


def test_depthwise_utilisation_on_the_default_build():
    """OS keeps >= 90 % of the PEs busy on every MobileNet-v1 depthwise layer (issue 14's target: over the
    accelerator's busy cycles, each pass started in its predecessor's pipeline tail); WS folds the 9 taps
    over 8 rows: at most 9/16."""
    for i in range(1, 14):
        layer = NAMED_LAYERS[f"mobilenet_v1_dw{i}"]
        os_util = predict_accelerator(AcceleratorConfig(dataflow="os"), layer).utilization
        ws_util = predict_accelerator(AcceleratorConfig(dataflow="ws"), layer).utilization
        assert 0.90 <= os_util <= 1, (i, os_util)
        assert 0.5 <= ws_util <= 9 / 16, (i, ws_util)


def test_refusals_name_the_reason():
    config = AcceleratorConfig()
    depthwise = NAMED_LAYERS["mobilenet_v1_dw2"]
    with pytest.raises(ValueError, match="bank of the ifmap buffer per column.*axi_data_bits=64, bits=16"):
        depthwise_passes(AcceleratorConfig(bits=16), depthwise)   # 4 words a beat: 4 banks for 8 columns
    assert not system_plan(AcceleratorConfig(bits=16), depthwise).passes[0].tile.depthwise   # model/grouped.py
    with pytest.raises(ValueError, match="groups=64; the accelerator.s host-port path runs groups=1 only: run it from DRAM"):
        plan(config, depthwise)                             # the bare accelerator reads words, not lines
    with pytest.raises(ValueError, match="needs 9 lines of the weight buffer, which has 8"):
        depthwise_passes(config.replace(weight_depth=8), depthwise)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("kind, name", [("8bit", "depthwise-stride2-pad1"), ("8bit", "depthwise-images"),
                                        ("8bit", "depthwise-groups"), ("16bit", "depthwise-groups"),
                                        ("binary", "depthwise-stride2-pad1")])
def test_system_runs_a_depthwise_layer(kind, name, dataflow):
    layer = DEPTHWISE[name]
    predicted = check_layer(AcceleratorConfig(**SYSTEM_TILING, **BITS[kind], dataflow=dataflow), layer, 5, 7)
    # OS: a pass of several groups computes every lane, those past the last group's channels too
    assert predicted["macs"] == layer.macs if dataflow == "ws" else predicted["macs"] >= layer.macs


def test_many_groups_in_one_pass_on_the_default_build():
    """On the 8x8 build a 14x14 depthwise layer runs five channel groups per pass (the ifmap half holds 5*196 lines)."""
    passes = system_plan(AcceleratorConfig(dataflow="os"), NAMED_LAYERS["mobilenet_v1_dw7"]).passes
    assert {ps.m_count for ps in passes} == {40, 32} and len(passes) == 13


def test_os_folds_across_groups_with_two_register_file_sets():
    """rf_depth 4: a fold of rows*G = 4 pixels over groups of 6 (a fold's later slots compare their rows'
    groups with the fold's first pixel's, latched at its first slot)."""
    config = AcceleratorConfig(rows=2, cols=2, rf_depth=4, ifmap_depth=256, weight_depth=64, psum_depth=64,
                               dataflow="os")
    layer = ConvLayer(C=7, H=4, W=3, M=7, R=3, S=1, groups=7)
    (ps,) = system_plan(config, layer).passes
    assert (ps.tile.fold_groups, ps.m_count, ps.tile.E * ps.tile.F) == (True, 7, 6)   # 4 groups of 6 pixels
    assert pass_shape(config, ps.tile).P == 24   # the folds of 4 cross them
    check_layer(config, layer, 2, 3)
