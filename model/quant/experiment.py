"""The quantization study of the digits CNN: every scheme's accuracy and weight memory.

:func:`run_study` takes the study's networks (:mod:`model.quant.trained`:
trained on first use, or from their cache) and measures, on the held-out
images:

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
from dataclasses import dataclass

import numpy as np

from model.quant.mixed_precision import choose_bits
from model.quant.network import LAYER_NAMES, LAYERS, QuantPlan, accuracy, loss_and_gradients, predict
from model.quant.plans import power_of_two_plan, uniform_plan, weight_quantizer
from model.quant.settings import StudySettings
from model.quant.trained import Network, TrainedNetworks
from model.quant.training import Track, untracked

__all__ = ["StudySettings", "Study", "run_study", "weight_bytes", "activation_description", "integer_check",
           "calibration_comparison"]

_WEIGHT_COUNTS = tuple(int(np.prod(l.weight_shape)) for l in LAYERS)


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
    """

    rows: list[dict]
    integer_checks: list[dict]
    calibration_rows: list[dict]
    sensitivity: dict
    mixed_assignment: dict
    activation_ranges: dict


def weight_bytes(bits_per_layer) -> int:
    """Bytes of weight memory: ``sum(ceil(weights * bits / 8))`` over layers (scales and biases not counted)."""
    return int(sum(-(-count * bits // 8) for count, bits in zip(_WEIGHT_COUNTS, bits_per_layer)))


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


def run_study(networks: TrainedNetworks, track: Track = untracked) -> Study:
    """Measure every row of the study (see the module notes); ``track`` is told of each network as it is ready."""
    data, settings = networks.data, networks.settings
    trained = {name: networks[name] for name in track(tuple(Network), "study networks", len(Network))}
    params = trained[Network.FP32]

    def test(name: Network, plan: QuantPlan | None = None) -> float:
        return accuracy(trained[name], data.x_test, data.y_test, networks.plan(name) if plan is None else plan)

    rows = [_row("fp32", 32, "tensor", "float", test(Network.FP32), weight_bytes([32] * 3))]
    ranges = {b: networks.ranges(b) for b in (8, 4, 2)}
    for bits, granularity, scheme in itertools.product((8, 4, 2), ("tensor", "channel"), ("symmetric", "asymmetric")):
        plan = uniform_plan(bits, scheme, granularity, bits, ranges[bits])
        rows.append(_row("ptq", bits, granularity, scheme, test(Network.FP32, plan), weight_bytes([bits] * 3)))
    for name, bits in ((Network.QAT4, 4), (Network.QAT2, 2)):
        rows.append(_row("qat", bits, "channel", "symmetric", test(name), weight_bytes([bits] * 3)))
    rows.append(_row("ternary", 2, "channel", "threshold 0.7*mean(abs(w))", test(Network.TERNARY),
                     weight_bytes([2] * 3)))
    rows.append(_row("binary", 1, "channel", "xnor, alpha=mean(abs(w))", test(Network.BINARY),
                     weight_bytes([1] * 3)))

    sensitivity = _sensitivity(params, data.x_cal, data.y_cal, settings.mixed_bits)
    budget = int(sum(_WEIGHT_COUNTS) * settings.mixed_budget_bits / 8)
    assignment = choose_bits([sensitivity[n] for n in LAYER_NAMES], _WEIGHT_COUNTS, budget)
    mixed = uniform_plan(assignment, "symmetric", "channel", 8, ranges[8])
    label = "/".join(str(b) for b in assignment)
    rows.append(_row("mixed", label, "channel", "symmetric", test(Network.FP32, mixed), weight_bytes(assignment)))

    ptq8 = uniform_plan(8, "symmetric", "channel", 8, ranges[8])
    checks = [integer_check("ptq", 8, networks.integer_network(Network.FP32, 8), params, ptq8, data),
              integer_check("qat", 4, networks.integer_network(Network.QAT4, 4), trained[Network.QAT4],
                            networks.plan(Network.QAT4), data),
              integer_check("binary", 1, networks.binary_network(), trained[Network.BINARY],
                            networks.plan(Network.BINARY), data)]
    return Study(rows=rows, integer_checks=checks,
                 calibration_rows=calibration_comparison(params, data.x_test, data.y_test, ranges[8]),
                 sensitivity=sensitivity,
                 mixed_assignment={"bits": dict(zip(LAYER_NAMES, assignment)), "budget_bytes": budget,
                                   "weight_bytes": weight_bytes(assignment)},
                 activation_ranges=ranges)


def integer_check(method: str, bits: int, network, params, plan: QuantPlan, data) -> dict:
    """An integer-only network (``IntegerNetwork`` or ``BinaryNetwork``) against the fake-quantized float model
    it was built from (``params`` through ``plan``): both accuracies on ``data``'s held-out images and how often
    their predictions agree."""
    integer_pred, float_pred = network.predict(data.x_test), predict(params, data.x_test, plan)
    return {"method": method, "bits": bits, "integer_accuracy": round(float(np.mean(integer_pred == data.y_test)), 4),
            "fake_quant_accuracy": round(float(np.mean(float_pred == data.y_test)), 4),
            "agreement": round(float(np.mean(integer_pred == float_pred)), 4)}


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
