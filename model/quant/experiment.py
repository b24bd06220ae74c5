"""The quantization study of the digits CNN: every scheme's accuracy and weight memory.

:func:`run_study` trains (or reuses) the float network and measures, on the
held-out images:

* ``fp32``; ``ptq`` at 8, 4 and 2 bits, per tensor and per channel,
  symmetric and asymmetric weights (post-training, MSE-calibrated);
* ``qat`` at 4 and 2 bits (fine-tuned with straight-through estimators);
* ``ternary`` weights and ``binary`` (XNOR) weights *and* activations, both fine-tuned;
* ``mixed``: bits per layer chosen under a weight-memory budget from measured sensitivity.

In every uniform row the activations use the row's bit width (asymmetric, per
tensor, MSE-calibrated ranges); ``ternary`` and ``mixed`` use 8-bit
activations; ``binary`` uses +-1 activations. The network input and the
logits stay as described in :mod:`model.quant.integer_network`.
It also runs the integer-only networks (8-bit PTQ, 4-bit QAT, binary) against
their fake-quantized float models, and compares calibration methods and the
power-of-two weight quantizer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from model.quant.binary_network import build_binary_network
from model.quant.integer_network import build_integer_network
from model.quant.mixed_precision import choose_bits
from model.quant.network import (FLOAT, LAYER_NAMES, LAYERS, Parameters, QuantPlan, accuracy, forward,
                                 init_parameters, loss_and_gradients, predict)
from model.quant.plans import (activation_ranges, binary_plan, power_of_two_plan, ternary_plan, uniform_plan,
                               weight_quantizer)
from model.quant.training import Schedule, split, train
from model.validate import check_int

__all__ = ["StudySettings", "Study", "run_study", "weight_bytes", "split_data", "train_float", "float_cache_key",
           "activation_description", "integer_check", "binary_integer_check", "calibration_comparison"]

_WEIGHT_COUNTS = tuple(int(np.prod(l.weight_shape)) for l in LAYERS)


@dataclass(frozen=True, kw_only=True)
class StudySettings:
    """Everything the study's numbers depend on.

    Attributes
    ----------
    seed : int
        Seeds the split, the initial weights and the batch order.
    test_fraction : float
        Share of images held out for measuring accuracy.
    train_limit, test_limit : int or None
        Use only this many training or held-out images (smoke runs).
    calibration_images : int
        Training images used to calibrate ranges and measure sensitivity.
    float_schedule, finetune_schedule, binary_schedule : Schedule
        Training of the float network, of QAT/ternary fine-tuning, and of the binary network.
    mixed_bits : tuple of int
        Bit widths mixed precision chooses from.
    mixed_budget_bits : float
        Weight-memory budget of mixed precision, in average bits per weight
        (a fraction, so that no uniform width fills it exactly).
    """

    seed: int = 0
    test_fraction: float = 0.2
    train_limit: int | None = None
    test_limit: int | None = None
    calibration_images: int = 512
    float_schedule: Schedule = field(default_factory=lambda: Schedule(epochs=30))
    finetune_schedule: Schedule = field(default_factory=lambda: Schedule(epochs=8, lr=0.01))
    binary_schedule: Schedule = field(default_factory=lambda: Schedule(epochs=25, lr=0.03))
    mixed_bits: tuple = (2, 3, 4, 5, 6, 8)
    mixed_budget_bits: float = 3.5

    def __post_init__(self) -> None:
        check_int("seed", self.seed, 0)
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), not {self.test_fraction!r}")
        for name in ("train_limit", "test_limit"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        check_int("calibration_images", self.calibration_images, 1)
        for b in self.mixed_bits:
            check_int("mixed_bits", b, 2, 16)
        if not 2.0 <= self.mixed_budget_bits <= 16.0:
            raise ValueError(f"mixed_budget_bits must be in 2..16, not {self.mixed_budget_bits!r}")


@dataclass
class Study:
    """Results of :func:`run_study`.

    Attributes
    ----------
    rows : list of dict
        The accuracy table (``method, bits, granularity, scheme, accuracy, weight_bytes``).
    integer_checks : list of dict
        Integer-only networks against their fake-quantized float models.
    calibration_rows : list of dict
        Weight calibrations and the power-of-two quantizer compared.
    sensitivity : dict
        Per layer, ``{bits: calibration-loss increase}``.
    mixed_assignment : dict
        The chosen bits per layer, the budget and the bytes used.
    activation_ranges : dict
        Per activation width, the calibrated ``(lo, hi)`` of each layer input and of the logits
        (what :func:`model.quant.integer_network.build_integer_network` takes).
    trained : dict
        The fine-tuned networks by name (``"qat4"``, ``"qat2"``, ``"ternary"``, ``"binary"``).
    """

    rows: list[dict]
    integer_checks: list[dict]
    calibration_rows: list[dict]
    sensitivity: dict
    mixed_assignment: dict
    activation_ranges: dict
    trained: dict


def weight_bytes(bits_per_layer) -> int:
    """Bytes of weight memory: ``sum(ceil(weights * bits / 8))`` over layers (scales and biases not counted)."""
    return int(sum(-(-count * bits // 8) for count, bits in zip(_WEIGHT_COUNTS, bits_per_layer)))


def split_data(images: np.ndarray, labels: np.ndarray, settings: StudySettings):
    """Seeded split of the images: ``(x_train, y_train, x_test, y_test)``, cut to ``train_limit`` and ``test_limit``."""
    x_train, y_train, x_test, y_test = split(images, labels, settings.test_fraction,
                                             np.random.default_rng([settings.seed, 0]))
    if settings.train_limit is not None:
        x_train, y_train = x_train[:settings.train_limit], y_train[:settings.train_limit]
    if settings.test_limit is not None:
        x_test, y_test = x_test[:settings.test_limit], y_test[:settings.test_limit]
    return x_train, y_train, x_test, y_test


def train_float(x_train: np.ndarray, y_train: np.ndarray, settings: StudySettings) -> Parameters:
    """The float network trained from seeded initial weights."""
    rng = np.random.default_rng([settings.seed, 1])
    return train(init_parameters(rng), x_train, y_train, settings.float_schedule, rng)


def float_cache_key(settings: StudySettings) -> str:
    """What the trained float network depends on, as text (to validate a cached copy)."""
    return repr((settings.seed, settings.test_fraction, settings.train_limit, settings.float_schedule))


def activation_description(row: dict) -> str:
    """The activations a study row used (the JSON rows describe the weights)."""
    fixed = {"fp32": "fp32", "binary": "+-1", "ternary": "8-bit", "mixed": "8-bit"}
    return fixed.get(row["method"], f"{row['bits']}-bit")


def _row(method, bits, granularity, scheme, acc, nbytes) -> dict:
    return {"method": method, "bits": bits, "granularity": granularity, "scheme": scheme,
            "accuracy": round(float(acc), 4), "weight_bytes": int(nbytes)}


def _sensitivity(params, x, y, bits_options) -> dict:
    """Increase of the calibration loss when one layer's weights alone are quantized."""
    base, _ = loss_and_gradients(params, x, y)
    table = {}
    for i, name in enumerate(LAYER_NAMES):
        table[name] = {}
        for b in bits_options:
            weights = [None] * len(LAYERS)
            weights[i] = weight_quantizer(b, "symmetric", "channel")
            loss, _ = loss_and_gradients(params, x, y, QuantPlan(weights=tuple(weights)))
            table[name][b] = loss - base
    return table


def run_study(params: Parameters, x_train, y_train, x_test, y_test, settings: StudySettings) -> Study:
    """Measure every row of the study on a trained float network (see the module notes)."""
    rng = np.random.default_rng([settings.seed, 2])
    calib = rng.permutation(len(x_train))[:settings.calibration_images]
    x_cal, y_cal = x_train[calib], y_train[calib]

    def test(p: Parameters, plan: QuantPlan = FLOAT) -> float:
        return accuracy(p, x_test, y_test, plan)

    rows = [_row("fp32", 32, "tensor", "float", test(params), weight_bytes([32] * 3))]
    ranges = {b: activation_ranges(params, x_cal, b) for b in (8, 4, 2)}

    for bits, granularity, scheme in itertools.product((8, 4, 2), ("tensor", "channel"), ("symmetric", "asymmetric")):
        plan = uniform_plan(bits, scheme, granularity, bits, ranges[bits])
        rows.append(_row("ptq", bits, granularity, scheme, test(params, plan), weight_bytes([bits] * 3)))

    qat = {}
    for bits in (4, 2):
        plan = uniform_plan(bits, "symmetric", "channel", bits, ranges[bits])
        qat[bits] = train(params, x_train, y_train, settings.finetune_schedule, rng, plan)
        rows.append(_row("qat", bits, "channel", "symmetric", test(qat[bits], plan), weight_bytes([bits] * 3)))

    ternary = ternary_plan(8, ranges[8])
    ternary_params = train(params, x_train, y_train, settings.finetune_schedule, rng, ternary)
    rows.append(_row("ternary", 2, "channel", "threshold 0.7*mean(abs(w))", test(ternary_params, ternary),
                     weight_bytes([2] * 3)))

    binary = binary_plan()
    binary_params = train(params, x_train, y_train, settings.binary_schedule, rng, binary)
    rows.append(_row("binary", 1, "channel", "xnor, alpha=mean(abs(w))", test(binary_params, binary),
                     weight_bytes([1] * 3)))

    sensitivity = _sensitivity(params, x_cal, y_cal, settings.mixed_bits)
    budget = int(sum(_WEIGHT_COUNTS) * settings.mixed_budget_bits / 8)
    assignment = choose_bits([sensitivity[n] for n in LAYER_NAMES], _WEIGHT_COUNTS, budget)
    mixed = uniform_plan(assignment, "symmetric", "channel", 8, ranges[8])
    label = "/".join(str(b) for b in assignment)
    rows.append(_row("mixed", label, "channel", "symmetric", test(params, mixed), weight_bytes(assignment)))

    return Study(rows=rows,
                 integer_checks=[integer_check("ptq", params, x_test, y_test, ranges[8], 8),
                                 integer_check("qat", qat[4], x_test, y_test, ranges[4], 4),
                                 binary_integer_check(binary_params, x_cal, x_test, y_test)],
                 calibration_rows=calibration_comparison(params, x_test, y_test, ranges[8]),
                 sensitivity=sensitivity,
                 mixed_assignment={"bits": dict(zip(LAYER_NAMES, assignment)), "budget_bytes": budget,
                                   "weight_bytes": weight_bytes(assignment)},
                 activation_ranges=ranges,
                 trained={"qat4": qat[4], "qat2": qat[2], "ternary": ternary_params, "binary": binary_params})


def integer_check(method: str, params, x_test, y_test, ranges, bits: int) -> dict:
    """Integer-only network against its fake-quantized float model: accuracy and agreement of predictions."""
    network = build_integer_network(params, ranges[:len(LAYERS)], ranges[-1], bits)
    float_pred = predict(params, x_test, uniform_plan(bits, "symmetric", "channel", bits, ranges))
    return _agreement(method, bits, network.predict(x_test), float_pred, y_test)


def _agreement(method: str, bits: int, integer_pred, float_pred, y_test) -> dict:
    return {"method": method, "bits": bits, "integer_accuracy": round(float(np.mean(integer_pred == y_test)), 4),
            "fake_quant_accuracy": round(float(np.mean(float_pred == y_test)), 4),
            "agreement": round(float(np.mean(integer_pred == float_pred)), 4)}


def binary_integer_check(params, x_cal, x_test, y_test) -> dict:
    """The binary network in integers (XNOR-popcount, thresholds) against its float model."""
    logits = forward(params, x_cal, binary_plan())[0]
    network = build_binary_network(params, (float(logits.min()), float(logits.max())))
    return _agreement("binary", 1, network.predict(x_test), predict(params, x_test, binary_plan()), y_test)


def calibration_comparison(params, x_test, y_test, ranges8) -> list[dict]:
    """4-bit per-channel symmetric weights (8-bit activations) under each calibration, and power-of-two weights."""
    rows = []
    for method in ("minmax", "percentile", "mse"):
        plan = uniform_plan(4, "symmetric", "channel", 8, ranges8, calibration=method)
        rows.append({"weights": f"uniform 4-bit, {method}",
                     "accuracy": round(accuracy(params, x_test, y_test, plan), 4)})
    plan = power_of_two_plan(4, 8, ranges8)
    rows.append({"weights": "power-of-two 4-bit (sign + 3-bit exponent)",
                 "accuracy": round(accuracy(params, x_test, y_test, plan), 4)})
    return rows
