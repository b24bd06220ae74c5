"""Training the digits CNN: seeded data split and mini-batch SGD with momentum.

The same loop trains the float network and fine-tunes quantized ones
(quantization-aware training): a :class:`model.quant.network.QuantPlan`
puts fake quantizers in the forward pass, and their straight-through masks
shape the gradients.

Training is deterministic for a given generator, on any machine: the
learning-rate schedule and the softmax use :mod:`model.quant.portable_math`
(not numpy's CPU-dependent ``cos``, ``exp`` and ``log``), and nothing calls
BLAS (the convolutions are numpy's own ``einsum`` loops), so neither the CPU's
vector units nor the number of threads changes a bit of the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from model.quant import portable_math
from model.quant.network import FLOAT, Parameters, QuantPlan, loss_and_gradients
from model.validate import check_int

__all__ = ["Schedule", "Track", "untracked", "split", "train"]

#: Progress of a loop: ``track(items, what, total)`` yields ``items`` unchanged and may report each one
#: as done (``sim.progress.track`` draws a bar or prints a line; :func:`untracked` stays silent).
Track = Callable[[Iterable, str, int], Iterable]


def untracked(items: Iterable, what: str, total: int) -> Iterable:
    """The silent :data:`Track`: ``items`` as they are."""
    return items


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """SGD settings: epochs, batch size, learning rate (cosine-decayed to 0), momentum, weight decay."""

    epochs: int = 40
    batch: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 0, 10_000)
        check_int("batch", self.batch, 1, 1 << 20)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, not {self.lr!r}")


def split(images: np.ndarray, labels: np.ndarray, test_fraction: float, rng: np.random.Generator):
    """Seeded train/test split: ``(x_train, y_train, x_test, y_test)``, images as NCHW float64 in [0, 1].

    Parameters
    ----------
    images : ndarray
        N x 8 x 8 grey levels 0..16 (scikit-learn's ``digits``).
    labels : ndarray
        N class labels.
    """
    x = (np.asarray(images, dtype=np.float64) / 16.0)[:, None]
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train_ = order[:n_test], order[n_test:]
    return x[train_], labels[train_], x[test], labels[test]


def train(params: Parameters, x: np.ndarray, labels: np.ndarray, schedule: Schedule, rng: np.random.Generator,
          plan: QuantPlan = FLOAT, track: Track = untracked, what: str = "training") -> Parameters:
    """Train (a copy of) ``params`` on ``(x, labels)``; deterministic for a given ``rng``.

    ``track`` is told of each epoch (as ``what``).

    Returns
    -------
    Parameters
        The trained copy (``params`` is left unchanged).
    """
    params = params.copy()
    velocity = [np.zeros_like(p) for p in (*params.weights, *params.biases)]
    steps = schedule.epochs * -(-len(x) // schedule.batch)
    step = 0
    for _ in track(range(schedule.epochs), what, schedule.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), schedule.batch):
            batch = order[start:start + schedule.batch]
            _, grads = loss_and_gradients(params, x[batch], labels[batch], plan)
            lr = schedule.lr * 0.5 * (1.0 + float(portable_math.cos(np.pi * step / steps)))
            values = (*params.weights, *params.biases)
            for k, (p, g) in enumerate(zip(values, (*grads.weights, *grads.biases))):
                decay = schedule.weight_decay * p if k < len(params.weights) else 0.0
                velocity[k] = schedule.momentum * velocity[k] - lr * (g + decay)
                p += velocity[k]
            step += 1
    return params
