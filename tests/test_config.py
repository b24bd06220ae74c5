"""AcceleratorConfig: validation, derived widths, JSON, presets."""

import json

import pytest

from model.config import PRESETS, AcceleratorConfig


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("rows", 0, "rows must be in 1..64, not 0"),
        ("cols", 65, "cols must be in 1..64, not 65"),
        ("bits", 0, "bits must be in 1..16, not 0"),
        ("bits", 17, "bits must be in 1..16, not 17"),
        ("dataflow", "is", "dataflow must be one of 'os', 'ws', not 'is'"),
        ("rf_depth", 3, "rf_depth must be even"),
        ("rf_depth", 0, "rf_depth must be in 2..64, not 0"),
        ("pack", 65, "pack must be in 1..64, not 65"),
        ("ifmap_depth", 8, "ifmap_depth must be in 16..1048576, not 8"),
        ("weight_depth", 0, "weight_depth must be in 1..65536, not 0"),
        ("psum_depth", -1, "psum_depth must be in 1..1048576, not -1"),
    ],
)
def test_bad_field_names_field_value_and_range(field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        AcceleratorConfig(**{field: value})


@pytest.mark.parametrize("value", [2.0, "8", True, None])
def test_non_integer_field_is_a_type_error(value):
    with pytest.raises(TypeError, match="bits must be an integer"):
        AcceleratorConfig(bits=value)


def test_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        AcceleratorConfig(8, 8)  # noqa: the fields are keyword-only
    config = AcceleratorConfig()
    with pytest.raises(AttributeError):
        config.rows = 4


@pytest.mark.parametrize("bits", range(2, 17))
@pytest.mark.parametrize("max_reduction", [1, 2, 3, 1000, 2048, 4608, 8192])
def test_accumulator_holds_worst_case_and_is_minimal(bits, max_reduction):
    config = AcceleratorConfig(bits=bits, max_reduction=max_reduction)
    k = config.max_reduction
    worst = k * (-(2 ** (bits - 1))) ** 2  # every product at its largest: (-2^(b-1))^2
    most_negative = k * (-(2 ** (bits - 1))) * (2 ** (bits - 1) - 1)
    assert worst <= 2 ** (config.acc_bits - 1) - 1
    assert most_negative >= -(2 ** (config.acc_bits - 1))
    assert worst > 2 ** (config.acc_bits - 2) - 1  # one bit fewer would overflow


@pytest.mark.parametrize("pack", [1, 7, 64])
@pytest.mark.parametrize("max_reduction", [1, 5, 2048, 8192])
def test_binary_accumulator_holds_plus_minus_k(pack, max_reduction):
    config = AcceleratorConfig(bits=1, pack=pack, max_reduction=max_reduction)
    k = config.max_reduction
    assert k <= 2 ** (config.acc_bits - 1) - 1 and -k >= -(2 ** (config.acc_bits - 1))
    assert k > 2 ** (config.acc_bits - 2) - 1
    assert config.word_bits == pack


def test_multibit_word_is_one_channel():
    config = AcceleratorConfig(bits=4, pack=16)
    assert config.word_bits == 4 and config.channels_per_word == 1


def test_max_reduction_is_validated_and_serialised():
    with pytest.raises(ValueError, match="max_reduction"):
        AcceleratorConfig(max_reduction=0)
    config = AcceleratorConfig(max_reduction=300)
    assert AcceleratorConfig.from_json(config.to_json()) == config
    assert AcceleratorConfig().acc_bits == 2 * 8 + 13  # 8-bit products, K up to 8192


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip(name):
    config = PRESETS[name]
    text = config.to_json()
    assert json.loads(text)["derived"]["acc_bits"] == config.acc_bits
    assert AcceleratorConfig.from_json(text) == config


def test_json_with_wrong_derived_block_is_rejected():
    data = json.loads(AcceleratorConfig().to_json())
    data["derived"]["acc_bits"] += 1
    with pytest.raises(ValueError, match="does not match"):
        AcceleratorConfig.from_dict(data)


def test_json_unknown_field_and_bad_text():
    with pytest.raises(ValueError, match=r"unknown configuration field\(s\) \['colls'\]"):
        AcceleratorConfig.from_dict({"colls": 4})
    with pytest.raises(ValueError, match="not valid JSON"):
        AcceleratorConfig.from_json("{rows: 4")


def test_presets():
    assert (PRESETS["default"].rows, PRESETS["default"].cols) == (8, 8)
    assert PRESETS["tiny"].pes == 4
    assert AcceleratorConfig.preset("tiny", bits=4).bits == 4
    with pytest.raises(ValueError, match="preset must be one of"):
        AcceleratorConfig.preset("huge")
