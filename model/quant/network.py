"""The digits CNN: a fixed small network, its forward pass and backpropagation, in numpy.

Architecture (input 1x8x8, NCHW; every layer a :class:`model.layer.ConvLayer`
with MCRS weights, so each can run on the accelerator)::

    conv1  3x3, 1 -> 16, pad 1   ReLU   max-pool 2x2   -> 16x4x4
    conv2  3x3, 16 -> 32, pad 1  ReLU   max-pool 2x2   -> 32x2x2
    fc     2x2, 32 -> 10 (a convolution covering the whole map: the dense layer)

A :class:`QuantPlan` says how a forward pass quantizes: a quantizer for each
layer's weights and for each layer's input activations (each returns the
value used and its straight-through mask), and whether hidden layers apply
ReLU (binary networks binarize the pre-activation instead). The convolutions
and their gradients all use :func:`model.conv.conv2d_float`: the input
gradient is a convolution of the output gradient with the flipped,
transposed filters, the weight gradient a convolution of the input with the
output gradient (both for the stride-1 layers of this network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from model.conv import conv2d_float
from model.layer import ConvLayer
from model.quant import portable_math

__all__ = ["LAYERS", "LAYER_NAMES", "RELU", "POOL", "CLASSES", "Parameters", "QuantPlan", "init_parameters",
           "forward", "loss_and_gradients", "predict", "accuracy", "layer_shapes"]

#: The three layers for a batch of one image.
LAYERS = (
    ConvLayer(C=1, H=8, W=8, M=16, R=3, S=3, pad=1),
    ConvLayer(C=16, H=4, W=4, M=32, R=3, S=3, pad=1),
    ConvLayer(C=32, H=2, W=2, M=10, R=2, S=2),
)
LAYER_NAMES = ("conv1", "conv2", "fc")
#: ReLU after each layer (the last layer gives the logits).
RELU = (True, True, False)
#: Max-pool window after each layer (1 = none).
POOL = (2, 2, 1)
#: Number of classes (digits 0..9).
CLASSES = 10

#: A quantizer: values -> (values used in the forward pass, straight-through mask).
Quantizer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def layer_shapes(batch: int) -> tuple[ConvLayer, ...]:
    """The layers for a batch of ``batch`` images."""
    return tuple(ConvLayer(**{**layer.to_dict(), "N": batch}) for layer in LAYERS)


@dataclass
class Parameters:
    """Weights (MCRS) and biases (M) of the three layers, float64."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def copy(self) -> "Parameters":
        """A deep copy."""
        return Parameters([w.copy() for w in self.weights], [b.copy() for b in self.biases])

    def save(self, path, key: str) -> None:
        """Write to an ``.npz`` file, tagged with ``key`` (what the values depend on)."""
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)} | {f"b{i}": b for i, b in enumerate(self.biases)}
        np.savez(path, key=np.array(key), **arrays)

    @classmethod
    def load(cls, path, key: str) -> "Parameters | None":
        """Read what :meth:`save` wrote, or None if the file is missing, malformed or tagged otherwise."""
        try:
            with np.load(path) as data:
                if str(data["key"]) != key:
                    return None
                n = len(LAYERS)
                params = cls([data[f"w{i}"] for i in range(n)], [data[f"b{i}"] for i in range(n)])
        except (OSError, KeyError, ValueError):
            return None
        shapes_ok = all(w.shape == l.weight_shape and b.shape == (l.M,)
                        for w, b, l in zip(params.weights, params.biases, LAYERS))
        return params if shapes_ok else None


@dataclass(frozen=True)
class QuantPlan:
    """How a forward pass quantizes; ``None`` entries stay in float.

    Attributes
    ----------
    weights : tuple
        One :data:`Quantizer` (or None) per layer, applied to its MCRS weights.
    activations : tuple
        One :data:`Quantizer` (or None) per layer, applied to its NCHW input.
    relu : bool
        Whether hidden layers apply ReLU (False for binary activations).
    """

    weights: tuple = (None, None, None)
    activations: tuple = (None, None, None)
    relu: bool = True


FLOAT = QuantPlan()


def init_parameters(rng: np.random.Generator) -> Parameters:
    """He-normal weights and zero biases."""
    weights = [rng.normal(0.0, np.sqrt(2.0 / (l.C * l.R * l.S)), l.weight_shape) for l in LAYERS]
    return Parameters(weights, [np.zeros(l.M) for l in LAYERS])


def _apply(quantizer: Quantizer | None, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    return (x, None) if quantizer is None else quantizer(x)


def _pool(x: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return x
    N, C, H, W = x.shape
    return x.reshape(N, C, H // k, k, W // k, k).max(axis=(3, 5))


def _upsample(a: np.ndarray, k: int) -> np.ndarray:
    return a.repeat(k, axis=2).repeat(k, axis=3)


def _unpool(grad: np.ndarray, x: np.ndarray, pooled: np.ndarray, k: int) -> np.ndarray:
    """Gradient of max-pooling: shared equally by the positions that hold the maximum."""
    if k == 1:
        return grad
    winners = (x == _upsample(pooled, k)).astype(np.float64)
    N, C, H, W = x.shape
    count = winners.reshape(N, C, H // k, k, W // k, k).sum(axis=(3, 5))
    return winners * _upsample(grad / count, k)


def forward(params: Parameters, x: np.ndarray, plan: QuantPlan = FLOAT) -> tuple[np.ndarray, list[dict]]:
    """Logits (N x 10) of a batch of NCHW images, and what backpropagation needs.

    Returns
    -------
    logits : ndarray
        float64, N x 10.
    cache : list of dict
        Per layer: the quantized input and weights, their masks, the
        pre-activation, the activation and the pooled output.
    """
    cache = []
    a = x
    for i, layer in enumerate(LAYERS):
        aq, amask = _apply(plan.activations[i], a)
        wq, wmask = _apply(plan.weights[i], params.weights[i])
        z = conv2d_float(aq, wq, layer.stride, layer.pad) + params.biases[i][None, :, None, None]
        r = np.maximum(z, 0.0) if RELU[i] and plan.relu else z
        out = _pool(r, POOL[i])
        cache.append(dict(aq=aq, amask=amask, wq=wq, wmask=wmask, z=z, r=r, out=out))
        a = out
    return a.reshape(len(x), CLASSES), cache


def loss_and_gradients(params: Parameters, x: np.ndarray, labels: np.ndarray,
                       plan: QuantPlan = FLOAT) -> tuple[float, Parameters]:
    """Mean softmax cross-entropy of a batch and its gradients (straight-through for quantizers)."""
    logits, cache = forward(params, x, plan)
    shifted = logits - logits.max(axis=1, keepdims=True)
    prob = portable_math.exp(shifted)  # not np.exp: its last bit depends on the CPU (see portable_math)
    prob /= prob.sum(axis=1, keepdims=True)
    n = len(x)
    loss = float(-portable_math.log(prob[np.arange(n), labels] + 1e-300).mean())
    grad = prob
    grad[np.arange(n), labels] -= 1.0
    grad = (grad / n).reshape(cache[-1]["out"].shape)
    gw, gb = [None] * len(LAYERS), [None] * len(LAYERS)
    for i in reversed(range(len(LAYERS))):
        layer, c = LAYERS[i], cache[i]
        grad = _unpool(grad, c["r"], c["out"], POOL[i])
        if RELU[i] and plan.relu:
            grad = grad * (c["z"] > 0)
        gb[i] = grad.sum(axis=(0, 2, 3))
        # dL/dw[m,c,r,s] = sum_{n,e,f} grad[n,m,e,f] * x_padded[n,c,e+r,f+s]
        # (contiguous operands: numpy's einsum inside conv2d_float is several times faster on them)
        channels_first = [np.ascontiguousarray(a.transpose(1, 0, 2, 3)) for a in (c["aq"], grad)]
        gwq = conv2d_float(*channels_first, 1, layer.pad).transpose(1, 0, 2, 3)
        gw[i] = gwq if c["wmask"] is None else gwq * c["wmask"]
        if i:
            # dL/dx = full correlation of grad with the flipped, transposed filters (stride 1)
            flipped = c["wq"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            grad = conv2d_float(grad, flipped, 1, layer.R - 1 - layer.pad)
            if c["amask"] is not None:
                grad = grad * c["amask"]
    return loss, Parameters(gw, gb)


def predict(params: Parameters, x: np.ndarray, plan: QuantPlan = FLOAT) -> np.ndarray:
    """Predicted classes (int64) of a batch of NCHW images."""
    return forward(params, x, plan)[0].argmax(axis=1)


def accuracy(params: Parameters, x: np.ndarray, labels: np.ndarray, plan: QuantPlan = FLOAT) -> float:
    """Fraction of ``labels`` predicted correctly."""
    return float(np.mean(predict(params, x, plan) == labels))
