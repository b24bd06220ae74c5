"""model.program: descriptor packing and the host program's buffer layouts."""

import numpy as np
import pytest

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.contract import DIM_FIELDS, FLAG_FIELDS, Buffer, desc_bits, desc_fields, dim_bits, pack_descriptor, whole_tile
from model.program import HostRead, HostRun, HostWrite, build_program, descriptor_fields

IFMAP, WEIGHT, PSUM, REQUANT = Buffer.IFMAP, Buffer.WEIGHT, Buffer.PSUM, Buffer.REQUANT


def test_descriptor_packs_lsb_first():
    config = AcceleratorConfig.preset("tiny")
    dim = dim_bits(config)
    assert dim == 13  # 4 * (1024 + 2*2) = 4112 < 2**13
    fields = {name: 0 for name, _ in desc_fields(config)}
    fields["H"], fields["last_mask"] = 5, 1
    value = pack_descriptor(config, fields)
    assert value == (5 << dim) | (1 << (desc_bits(config) - 1))  # H is the second field, last_mask the last
    assert value < 2**desc_bits(config)
    assert desc_bits(config) == len(DIM_FIELDS) * dim + len(FLAG_FIELDS) + 1 + 1 + 5 + 16 + 1


def test_descriptor_rejects_bad_fields():
    config = AcceleratorConfig.preset("tiny")
    fields = {name: 0 for name, _ in desc_fields(config)}
    with pytest.raises(ValueError, match=r"pad_top=8192 does not fit the built design's 13 bits \(0..8191\)"):
        pack_descriptor(config, {**fields, "pad_top": 2**13})
    with pytest.raises(ValueError, match="missing"):
        pack_descriptor(config, {k: v for k, v in fields.items() if k != "H"})


def test_binary_descriptor_mask_is_one_word():
    config = AcceleratorConfig.preset("tiny", bits=1, pack=8)
    assert dict(desc_fields(config))["last_mask"] == 8


def test_unused_stride_is_not_sent():
    """A single-output layer's stride is never taken: 0 in the descriptor, however large."""
    config = AcceleratorConfig.preset("tiny")
    f = descriptor_fields(config, whole_tile(config, ConvLayer(C=1, H=4, W=4, M=1, R=4, S=4, stride=60000)))
    assert (f["stride"], f["strideW"]) == (0, 0)
    f = descriptor_fields(config, whole_tile(config, ConvLayer(C=1, H=1, W=9, M=1, R=1, S=1, stride=4)))
    assert (f["stride"], f["strideW"]) == (4, 0)  # E = 1: only the column step


def test_derived_descriptor_fields():
    config = AcceleratorConfig.preset("tiny", bits=1, pack=8)
    f = descriptor_fields(config, whole_tile(config, ConvLayer(C=11, H=5, W=4, M=3, R=3, S=3, stride=2, pad=1)))
    assert (f["Cw"], f["E"], f["F"], f["P"], f["Kw"]) == (2, 3, 2, 6, 18)
    assert (f["HW"], f["CwHW"], f["strideW"], f["pad_topW"], f["pad_left"]) == (20, 40, 8, 4, 1)
    assert (f["m_groups"], f["last_cols"], f["k_folds"], f["p_folds"]) == (2, 1, 9, 3)
    assert f["last_mask"] == 0b111  # channels 8..10 in the second word


def test_program_layouts_multibit():
    config = AcceleratorConfig.preset("tiny", bits=4)
    layer = ConvLayer(N=2, C=2, H=3, W=3, M=3, R=2, S=2)
    rng = np.random.default_rng(0)
    x = rng.integers(-8, 8, layer.input_shape)
    w = rng.integers(-8, 8, layer.weight_shape)
    ops = build_program(config, layer, x, w)
    writes = {(op.sel, op.addr, op.lane): op.data for op in ops if isinstance(op, HostWrite)}
    assert sum(isinstance(op, HostRun) for op in ops) == 1
    # ifmap word ((n*Cw + cw)*H + h)*W + w, 4-bit two's complement pattern
    assert writes[(IFMAP, ((1 * 2 + 1) * 3 + 2) * 3 + 0, 0)] == x[1, 1, 2, 0] & 0xF
    # weight line (m // cols)*Kw + k, lane m % cols, k = (cw*R + r)*S + s; Kw = 8
    assert writes[(WEIGHT, 1 * 8 + (1 * 2 + 0) * 2 + 1, 0)] == w[2, 1, 0, 1] & 0xF
    reads = [op for op in ops if isinstance(op, HostRead)]
    assert sorted(op.index for op in reads) == sorted(np.ndindex(*layer.output_shape))
    # psum line (m // cols)*P + p, P = 2*2*2 = 8
    (r,) = [op for op in reads if op.index == (1, 2, 0, 1)]
    assert (r.sel, r.addr, r.lane) == (PSUM, 1 * 8 + (1 * 2 + 0) * 2 + 1, 0)


def test_program_packs_binary_channels():
    config = AcceleratorConfig.preset("tiny", bits=1, pack=4)
    layer = ConvLayer(C=6, H=1, W=1, M=1, R=1, S=1)
    x = np.array([1, 0, 1, 1, 0, 1]).reshape(layer.input_shape)
    w = np.ones(layer.weight_shape, dtype=np.int64)
    writes = [op for op in build_program(config, layer, x, w) if isinstance(op, HostWrite) and op.sel == IFMAP]
    assert [(op.addr, op.data) for op in writes] == [(0, 0b1101), (1, 0b10)]


def test_program_with_requant_writes_parameters_and_sets_the_descriptor():
    from model.program import RequantParams

    config = AcceleratorConfig.preset("tiny", bits=8)
    layer = ConvLayer(C=2, H=3, W=3, M=3, R=2, S=2)
    x, w = np.zeros(layer.input_shape, np.int64), np.zeros(layer.weight_shape, np.int64)
    plain = build_program(config, layer, x, w)
    assert not any(isinstance(op, HostWrite) and op.sel == REQUANT for op in plain)
    assert all(op.fields["requant"] == 0 for op in plain if isinstance(op, HostRun))
    rq = RequantParams(np.array([-1, 2**31 - 1, -(2**31)]), np.array([2**30, 2**31 - 1, 0]), np.array([-31, 0, 31]),
                       -3, 8, True)
    ops = build_program(config, layer, x, w, rq)
    params = [op for op in ops if isinstance(op, HostWrite) and op.sel == REQUANT]
    assert len(params) == 3 * (4 + 4 + 1)  # 32-, 31- and 6-bit fields in 8-bit chunks
    # channel 0's bias, MSB chunk first; the last chunk of a field commits it (lane 1)
    assert [(op.addr, op.lane, op.data) for op in params[:4]] == [(0, 0, 0xFF), (0, 0, 0xFF), (0, 0, 0xFF), (0, 1, 0xFF)]
    assert (params[8].addr, params[8].lane, params[8].data) == (2, 1, 0)  # total shift 31 - 31
    run = next(op for op in ops if isinstance(op, HostRun))
    assert (run.fields["requant"], run.fields["relu"], run.fields["out_bits"], run.fields["zero_point"]) == (1, 1, 8, 0xFFFD)
    assert {op.chan for op in ops if isinstance(op, HostRead)} == {0, 1, 2}
    assert all(op.chan == op.index[1] for op in ops if isinstance(op, HostRead))
    with pytest.raises(ValueError, match="out_bits"):
        build_program(config, layer, x, w, RequantParams(rq.bias, rq.multiplier, rq.shift, 0, 17))


@pytest.mark.parametrize("bits, bad", [(4, 8), (4, -9), (1, 2), (8, 128)])
def test_out_of_range_operands_are_an_error_not_masked(bits, bad):
    config = AcceleratorConfig.preset("tiny", bits=bits)
    layer = ConvLayer(C=1, H=3, W=3, M=1, R=1, S=1)
    x = np.zeros(layer.input_shape, dtype=np.int64)
    x[0, 0, 1, 2] = bad
    with pytest.raises(ValueError, match=f"x holds {bad}"):
        build_program(config, layer, x, np.zeros(layer.weight_shape, dtype=np.int64))


def test_grouped_layer_is_refused_not_run_wrongly():
    layer = ConvLayer(C=4, H=3, W=3, M=4, R=1, S=1, groups=2)
    x, w = np.zeros(layer.input_shape, np.int64), np.zeros(layer.weight_shape, np.int64)
    with pytest.raises(ValueError, match="groups=2; the accelerator.s host-port path runs groups=1 only: run it from DRAM"):
        build_program(AcceleratorConfig.preset("tiny"), layer, x, w)


def test_raw_reads_of_more_filters_than_requant_channels_fit_host_chan():
    """Raw reads ignore ``host_chan``: a layer of 300 filters (more than the 256 parameter channels) sends 0."""
    from model.contract import REQUANT_CHANNELS

    config = AcceleratorConfig()
    layer = ConvLayer(C=1, H=1, W=1, M=REQUANT_CHANNELS + 44, R=1, S=1)
    ops = build_program(config, layer, np.ones(layer.input_shape, np.int64), np.ones(layer.weight_shape, np.int64))
    reads = [op for op in ops if isinstance(op, HostRead)]
    assert len(reads) == layer.M and {op.chan for op in reads} == {0}
