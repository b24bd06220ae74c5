"""model.quant.trained: the study's networks trained on first use, cached by settings, independent of order."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from model.quant.network import predict
from model.quant.plans import uniform_plan
from model.quant.settings import StudySettings
from model.quant.trained import FINE_TUNED, Network, TrainedNetworks, split_digits
from model.quant.training import Schedule

SETTINGS = StudySettings(train_limit=64, test_limit=40, calibration_images=16, float_schedule=Schedule(epochs=1),
                         finetune_schedule=Schedule(epochs=1, lr=0.01), binary_schedule=Schedule(epochs=1))


@pytest.fixture(scope="module")
def data():
    digits = load_digits()
    return split_digits(digits.images, digits.target, SETTINGS)


class _Log:
    """A Track that records which trainings ran."""

    def __init__(self):
        self.trained = []

    def __call__(self, items, what, total):
        self.trained.append(what)
        return items


def _same(a, b) -> bool:
    return all(x.tobytes() == y.tobytes() for x, y in zip(a.weights + a.biases, b.weights + b.biases))


def test_split_is_seeded_and_limited(data):
    assert data.x_train.shape == (64, 1, 8, 8) and data.x_test.shape == (40, 1, 8, 8) and len(data.x_cal) == 16
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1
    digits = load_digits()
    other = split_digits(digits.images, digits.target, StudySettings(seed=1, train_limit=64))
    assert not np.array_equal(other.y_train, data.y_train)
    # the calibration images are training images
    assert all(any(np.array_equal(c, t) for t in data.x_train) for c in data.x_cal)


def test_a_network_is_the_same_alone_or_after_the_others(data):
    all_of_them = TrainedNetworks(data, SETTINGS)
    for name in Network:
        all_of_them[name]
    alone = TrainedNetworks(data, SETTINGS)
    assert _same(alone[Network.BINARY], all_of_them[Network.BINARY])
    assert not _same(all_of_them[Network.QAT4], all_of_them[Network.QAT2])  # each has its own plan and generator


def test_cache_is_used_when_the_settings_match_and_ignored_otherwise(data, tmp_path):
    log = _Log()
    first = TrainedNetworks(data, SETTINGS, tmp_path, track=log)[Network.QAT4]
    assert log.trained == ["training fp32", "training qat4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fp32.npz", "qat4.npz"]
    log.trained.clear()
    again = TrainedNetworks(data, SETTINGS, tmp_path, track=log)[Network.QAT4]
    assert log.trained == [] and _same(again, first)
    TrainedNetworks(data, SETTINGS, tmp_path, track=log, retrain=[Network.QAT4])[Network.QAT4]
    assert log.trained == ["training qat4"]
    log.trained.clear()
    longer = StudySettings(**{**SETTINGS.__dict__, "finetune_schedule": Schedule(epochs=2, lr=0.01)})
    TrainedNetworks(data, longer, tmp_path, track=log)[Network.QAT4]
    assert log.trained == ["training qat4"]  # the float network's settings did not change: it is reused


def test_integer_networks_match_their_float_models(data):
    networks = TrainedNetworks(data, SETTINGS)
    fake8 = predict(networks[Network.FP32], data.x_test, uniform_plan(8, "symmetric", "channel", 8, networks.ranges(8)))
    assert np.mean(networks.integer_network().predict(data.x_test) == fake8) >= 0.9
    binary = predict(networks[Network.BINARY], data.x_test, networks.plan(Network.BINARY))
    assert np.mean(networks.binary_network().predict(data.x_test) == binary) >= 0.8
    assert [n.value for n in FINE_TUNED] == ["qat4", "qat2", "ternary", "binary"]
    assert networks.path(Network.FP32) is None


def test_bad_names_are_clear_errors(data):
    networks = TrainedNetworks(data, SETTINGS)
    with pytest.raises(ValueError, match="'qat3' is not a valid Network"):
        networks["qat3"]
    with pytest.raises(ValueError, match="bits must be in 2..16, not 1"):
        networks.ranges(1)
