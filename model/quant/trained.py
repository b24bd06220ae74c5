"""The study's trained digits networks: the data split, training on first use, and a cache folder.

``qconv quant`` (the study), ``qconv infer`` (the networks on the RTL) and the
ONNX export all need the same networks. :class:`TrainedNetworks` gives each
by name (:class:`Network`): from its cache file when a copy trained with the
same settings is there, else trained (and cached). Every network has its own
seeded generator, so it is the same whether the study trains it among the
others or a caller asks for it alone:

* ``fp32``: from He-normal weights, ``rng = default_rng([seed, 1])``,
  ``float_schedule``;
* ``qat4``, ``qat2``, ``ternary``, ``binary``: fine-tuned from ``fp32``
  through their plans (:meth:`TrainedNetworks.plan`) with
  ``default_rng([seed, 3, k])``, ``k`` their place in :class:`Network`;
  ``finetune_schedule`` (``binary_schedule`` for ``binary``).

Training is bit-for-bit deterministic on any machine and core count (see
:mod:`model.quant.training`). The data comes in as arrays so that ``model``
stays numpy-only; the caller loads scikit-learn's bundled digits::

    from sklearn.datasets import load_digits
    digits = load_digits()
    networks = TrainedNetworks(split_digits(digits.images, digits.target, StudySettings()), StudySettings(),
                               Path("build/quant"))
    network = networks.integer_network()          # the 8-bit integer-only network
    networks.data.x_test, networks.data.y_test    # its held-out images
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.quant.binary_network import BinaryNetwork, build_binary_network
from model.quant.integer_network import IntegerNetwork, build_integer_network
from model.quant.network import FLOAT, LAYERS, Parameters, QuantPlan, forward, init_parameters
from model.quant.plans import activation_ranges, binary_plan, ternary_plan, uniform_plan
from model.quant.settings import StudySettings
from model.quant.training import Schedule, Track, split, train, untracked
from model.validate import check_int

__all__ = ["Network", "FINE_TUNED", "TRAINING_VERSION", "DigitsSplit", "split_digits", "TrainedNetworks"]

#: Part of every cache key: raised when a change to the training code changes the networks it trains,
#: so that copies trained by older code are not taken for current ones. 2: portable exp/log/cos,
#: one generator per network.
TRAINING_VERSION = 2


class Network(enum.StrEnum):
    """A network of the study; the value is its cache file's stem (``fp32`` -> ``fp32.npz``)."""

    FP32 = "fp32"
    QAT4 = "qat4"
    QAT2 = "qat2"
    TERNARY = "ternary"
    BINARY = "binary"


#: The networks fine-tuned from ``fp32``, in the order the study trains them.
FINE_TUNED = (Network.QAT4, Network.QAT2, Network.TERNARY, Network.BINARY)


@dataclass(frozen=True, eq=False)
class DigitsSplit:
    """The seeded split of the digits: NCHW float64 images in [0, 1] and their labels.

    ``x_cal, y_cal`` are the first ``calibration_images`` of a seeded permutation of the training images:
    the activation ranges and the mixed-precision sensitivities are measured on them.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_cal: np.ndarray
    y_cal: np.ndarray


def split_digits(images: np.ndarray, labels: np.ndarray, settings: StudySettings) -> DigitsSplit:
    """Split N x 8 x 8 digit images (grey levels 0..16) and labels as ``settings`` says (seed, limits)."""
    x_train, y_train, x_test, y_test = split(images, labels, settings.test_fraction,
                                             np.random.default_rng([settings.seed, 0]))
    if settings.train_limit is not None:
        x_train, y_train = x_train[:settings.train_limit], y_train[:settings.train_limit]
    if settings.test_limit is not None:
        x_test, y_test = x_test[:settings.test_limit], y_test[:settings.test_limit]
    calib = np.random.default_rng([settings.seed, 2]).permutation(len(x_train))[:settings.calibration_images]
    return DigitsSplit(x_train, y_train, x_test, y_test, x_train[calib], y_train[calib])


class TrainedNetworks:
    """The study's networks for one split and settings, trained on first use and cached in ``folder``.

    Parameters
    ----------
    data : DigitsSplit
        What they are trained and calibrated on.
    settings : StudySettings
        Seed and schedules.
    folder : Path, optional
        Cache folder (``<name><suffix>.npz`` per network); none: nothing is read or written.
    retrain : iterable of Network
        Networks to train even when a cached copy matches (the new copy replaces it).
    track : Track
        Told of each epoch of training (``"training <name>"``).
    suffix : str
        Added to the cache files' stems (``"_smoke"`` keeps smoke runs apart from the real ones).
    """

    def __init__(self, data: DigitsSplit, settings: StudySettings, folder: Path | None = None, *,
                 retrain: Iterable[Network] = (), track: Track = untracked, suffix: str = ""):
        self._data, self._settings, self._folder = data, settings, folder
        self._retrain = frozenset(Network(n) for n in retrain)
        self._track, self._suffix = track, suffix
        self._networks: dict[Network, Parameters] = {}
        self._ranges: dict[int, list[tuple[float, float]]] = {}

    @property
    def data(self) -> DigitsSplit:
        """The split the networks are trained on."""
        return self._data

    @property
    def settings(self) -> StudySettings:
        """The settings they are trained with."""
        return self._settings

    def path(self, name: Network) -> Path | None:
        """The cache file of network ``name`` (None without a folder)."""
        return None if self._folder is None else self._folder / f"{Network(name).value}{self._suffix}.npz"

    def _key(self, name: Network) -> str:
        """What network ``name`` depends on, as text: a cached copy with another key is not used."""
        s = self._settings
        if name is Network.FP32:
            return repr((TRAINING_VERSION, name.value, s.seed, s.test_fraction, s.train_limit, s.float_schedule))
        return repr((TRAINING_VERSION, name.value, s))

    def schedule(self, name: Network) -> Schedule:
        """The training schedule of network ``name``."""
        name = Network(name)
        if name is Network.FP32:
            return self._settings.float_schedule
        return self._settings.binary_schedule if name is Network.BINARY else self._settings.finetune_schedule

    def ranges(self, bits: int) -> list[tuple[float, float]]:
        """Activation ranges of the float network at ``bits`` (each layer input, then the logits), on ``x_cal``."""
        check_int("bits", bits, 2, 16)
        if bits not in self._ranges:
            self._ranges[bits] = activation_ranges(self[Network.FP32], self._data.x_cal, bits)
        return self._ranges[bits]

    def plan(self, name: Network) -> QuantPlan:
        """How network ``name`` quantizes in its forward pass (and was trained through)."""
        name = Network(name)
        if name is Network.FP32:
            return FLOAT
        if name is Network.BINARY:
            return binary_plan()
        if name is Network.TERNARY:
            return ternary_plan(8, self.ranges(8))
        bits = 4 if name is Network.QAT4 else 2
        return uniform_plan(bits, "symmetric", "channel", bits, self.ranges(bits))

    def __getitem__(self, name: Network) -> Parameters:
        """Network ``name``: the cached copy, or trained now (and cached)."""
        name = Network(name)
        if name not in self._networks:
            path, key = self.path(name), self._key(name)
            params = None if path is None or name in self._retrain else Parameters.load(path, key)
            if params is None:
                params = self._train(name)
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    params.save(path, key)
            self._networks[name] = params
        return self._networks[name]

    def _train(self, name: Network) -> Parameters:
        d, seed = self._data, self._settings.seed
        what = f"training {name.value}"
        if name is Network.FP32:
            rng = np.random.default_rng([seed, 1])
            return train(init_parameters(rng), d.x_train, d.y_train, self.schedule(name), rng,
                         track=self._track, what=what)
        rng = np.random.default_rng([seed, 3, list(Network).index(name)])
        return train(self[Network.FP32], d.x_train, d.y_train, self.schedule(name), rng, self.plan(name),
                     self._track, what)

    def integer_network(self, name: Network = Network.FP32, bits: int = 8) -> IntegerNetwork:
        """Network ``name`` for integer-only inference at ``bits`` (weights and activations), on the float
        network's calibrated ranges: ``fp32`` at 8 bits is the study's PTQ network, ``qat4`` at 4 its QAT one."""
        ranges = self.ranges(bits)
        return build_integer_network(self[name], ranges[:len(LAYERS)], ranges[-1], bits)

    def binary_network(self) -> BinaryNetwork:
        """The binary network in integers (XNOR-popcount, thresholds), its logit grid from ``x_cal``."""
        params = self[Network.BINARY]
        logits = forward(params, self._data.x_cal, binary_plan())[0]
        return build_binary_network(params, (float(logits.min()), float(logits.max())))
