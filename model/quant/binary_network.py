"""Integer-only inference of the binary (XNOR) digits CNN, for the accelerator's ``bits=1`` mode.

The float model (:func:`model.quant.experiment.binary_plan`) computes, per
layer, ``z[m] = alpha[m] * conv(a, sign(w))[m] + b[m]`` on +-1 activations
``a`` and passes ``sign(z)`` (``sign(0) = +1``) on. With ``alpha[m] > 0`` that is
a comparison of the integer XNOR-popcount accumulator with a threshold::

    bit[m] = acc[m] >= threshold[m],    threshold[m] = ceil(-b[m] / alpha[m])

(+1 -> bit 1, -1 -> bit 0), and max-pooling of +-1 values is the OR of the
bits. The last layer's logits ``alpha[m] * acc + b[m]`` go through the
ordinary requantization stage (:func:`model.quant.requantize.requantize`)
to :data:`~model.quant.integer_network.LOGIT_BITS` bits, with the bias
rounded to accumulator units (an error of at most ``alpha[m] / 2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.conv import conv2d_layer
from model.quant.integer_network import LOGIT_BITS, ActivationGrid
from model.quant.network import LAYERS, POOL, Parameters, layer_shapes
from model.quant.nonuniform import binarize
from model.quant.requantize import quantize_multiplier, requantize
from model.quant.rounding import round_to_int

__all__ = ["BinaryNetwork", "build_binary_network"]


@dataclass(frozen=True, eq=False)
class BinaryNetwork:
    """The binary digits CNN in integers.

    Attributes
    ----------
    weight_bits : tuple of ndarray
        Per layer, MCRS uint8 bits (+1 -> 1, -1 -> 0), as :func:`model.conv.conv2d_binary` takes them.
    thresholds : tuple of ndarray
        Per hidden layer, int64 per filter: output bit 1 where ``acc >= threshold``.
    logit_bias, logit_multiplier, logit_shift : ndarray
        Requantization of the last layer (int64 per class).
    logit_grid : ActivationGrid
    """

    weight_bits: tuple[np.ndarray, ...]
    thresholds: tuple[np.ndarray, ...]
    logit_bias: np.ndarray
    logit_multiplier: np.ndarray
    logit_shift: np.ndarray
    logit_grid: ActivationGrid

    @staticmethod
    def input_bits(images: np.ndarray) -> np.ndarray:
        """Bits of NCHW images in [0, 1]: 1 (+1) where the grey level is at least 1/2."""
        return (np.asarray(images) >= 0.5).astype(np.uint8)

    def accumulate(self, i: int, x_bits: np.ndarray) -> np.ndarray:
        """Raw XNOR-popcount accumulators of layer ``i`` (what the accelerator computes with ``bits=1``), NMEF."""
        return conv2d_layer(x_bits, self.weight_bits[i], layer_shapes(len(x_bits))[i], 1)

    def forward(self, images: np.ndarray) -> list[np.ndarray]:
        """The input bits, every hidden layer's output bits and the N x 10 integer logits."""
        outputs = [self.input_bits(images)]
        for i in range(len(LAYERS) - 1):
            bits = (self.accumulate(i, outputs[-1]) >= self.thresholds[i][None, :, None, None]).astype(np.uint8)
            N, M, E, F = bits.shape
            k = POOL[i]
            outputs.append(bits.reshape(N, M, E // k, k, F // k, k).max(axis=(3, 5)))
        acc = self.accumulate(len(LAYERS) - 1, outputs[-1])
        logits = requantize(acc, self.logit_multiplier, self.logit_shift, self.logit_grid.zero_point,
                            self.logit_grid.bits, bias=self.logit_bias)
        outputs.append(logits.reshape(len(images), -1))
        return outputs

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted classes, int64."""
        return self.forward(images)[-1].argmax(axis=1)


def build_binary_network(params: Parameters, logit_range: tuple[float, float]) -> BinaryNetwork:
    """Integer form of a binary network trained with :func:`model.quant.experiment.binary_plan`.

    Parameters
    ----------
    params : Parameters
        Latent float weights (binarized here, ``alpha = mean|w|`` per filter) and biases.
    logit_range : (lo, hi)
        Real range of the logits, for their grid.
    """
    signs = [binarize(w, axis=0) for w in params.weights]
    alphas = [s.alpha.reshape(-1) for s in signs]
    if any(np.any(a <= 0) for a in alphas):
        raise ValueError("every filter needs alpha = mean|w| > 0 to turn its sign into a threshold")
    thresholds = tuple(np.ceil(-b / a).astype(np.int64) for b, a in zip(params.biases[:-1], alphas[:-1]))
    grid = ActivationGrid.from_range(*logit_range, LOGIT_BITS)
    multiplier, shift = quantize_multiplier(alphas[-1] / grid.scale)
    bias = round_to_int(params.biases[-1] / alphas[-1]).astype(np.int64)
    return BinaryNetwork(tuple(s.bits for s in signs), thresholds, bias, multiplier, shift, grid)
