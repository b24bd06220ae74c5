"""A quantized network as accelerator stages: what runs on the RTL and what stays on the host.

Each conv layer of the digits CNN is one :class:`Stage`: the host prepares the
accelerator input from the previous stage's output (:meth:`Stage.prepare`),
the accelerator runs the layer with its requantization stage on
(:class:`model.program.RequantParams`), and the host finishes the read-back
outputs (:meth:`Stage.finish`: max-pooling, or the logits' reshape).

* 8-bit network (:class:`~model.quant.integer_network.IntegerNetwork`):
  activations are the network's signed codes with their zero points; the
  host pads the input with the zero point and the accelerator runs the layer
  with ``pad=0`` (the accelerator itself pads with 0, which is not real 0 on
  an asymmetric grid); the input zero point is already folded into the bias.
  The requantization parameters are the layer's own.
* binary network (:class:`~model.quant.binary_network.BinaryNetwork`): the
  accelerator runs every layer with ``bits=1`` (the first layer too: its input
  is the thresholded image, one channel). A hidden layer's threshold test
  ``acc >= t`` is the requantization stage with ``bias = 1 - t``,
  ``multiplier = 2**30``, ``shift = -1`` (an exact scale of 1), zero point 0,
  2-bit output and ReLU: ``clamp(acc + 1 - t, 0, 1)`` is 1 exactly when
  ``acc >= t``. The logits use the network's requantization to 16 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from model.layer import ConvLayer
from model.program import RequantParams
from model.quant.binary_network import BinaryNetwork
from model.quant.integer_network import IntegerNetwork
from model.quant.network import LAYER_NAMES, POOL, layer_shapes

__all__ = ["Stage", "accelerator_stages", "max_pool", "golden_stage_outputs"]


@dataclass(frozen=True, eq=False)
class Stage:
    """One layer on the accelerator.

    Attributes
    ----------
    name : str
    layer : ConvLayer
        The shape the accelerator runs (batch included).
    weights : ndarray
        MCRS operands in the accelerator's representation.
    requant : RequantParams
    prepare : callable
        Previous stage's host output (or the network input) -> accelerator input NCHW.
    finish : callable
        Requantized accelerator outputs NMEF -> this stage's host output.
    """

    name: str
    layer: ConvLayer
    weights: np.ndarray
    requant: RequantParams
    prepare: Callable[[np.ndarray], np.ndarray]
    finish: Callable[[np.ndarray], np.ndarray]


def max_pool(a: np.ndarray, k: int) -> np.ndarray:
    """``k x k`` max-pooling of NMEF integers (identity for ``k = 1``)."""
    if k == 1:
        return a
    N, M, E, F = a.shape
    return a.reshape(N, M, E // k, k, F // k, k).max(axis=(3, 5))


def _finisher(k: int, last: bool):
    if last:
        return lambda out: out.reshape(len(out), -1)
    return lambda out: max_pool(out, k)


def accelerator_stages(network, batch: int) -> list[Stage]:
    """The stages of ``network`` (an IntegerNetwork or a BinaryNetwork) for ``batch`` images."""
    n = len(LAYER_NAMES)
    stages = []
    if isinstance(network, IntegerNetwork):
        for i, il in enumerate(network.layers):
            rq = RequantParams(il.bias, il.multiplier, il.shift, il.output_zero_point, il.output_bits, il.relu)
            stages.append(Stage(LAYER_NAMES[i], il.accelerator_layer(batch), il.weights, rq, il.accelerator_input,
                                _finisher(il.pool, i == n - 1)))
        return stages
    if isinstance(network, BinaryNetwork):
        shapes = layer_shapes(batch)
        for i in range(n):
            if i < n - 1:
                t = network.thresholds[i]
                rq = RequantParams(1 - t, np.full(len(t), 2**30), np.full(len(t), -1), 0, 2, True)
            else:
                rq = RequantParams(network.logit_bias, network.logit_multiplier, network.logit_shift,
                                   network.logit_grid.zero_point, network.logit_grid.bits, False)
            stages.append(Stage(LAYER_NAMES[i], shapes[i], network.weight_bits[i], rq,
                                lambda x: np.asarray(x, dtype=np.int64), _finisher(POOL[i], i == n - 1)))
        return stages
    raise TypeError(f"network must be an IntegerNetwork or a BinaryNetwork, not {type(network).__name__}")


def golden_stage_outputs(network, images: np.ndarray) -> list[np.ndarray]:
    """Per stage, the golden model's host output (``network.forward``): pooled layer outputs, then logits."""
    return [np.asarray(o, dtype=np.int64) for o in network.forward(images)[1:]]
