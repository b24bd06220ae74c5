"""Integer-only inference of the digits CNN: the bit-exact golden model for the accelerator.

Per layer (:class:`IntegerLayer`) everything is integer:

1. the input ``xq`` (NCHW, signed ``bits``-bit, zero point ``input_zero_point``)
   is padded on the host with its zero point (:func:`pad_with_zero_point`);
2. **the accelerator** computes the raw accumulators ``conv(xq_padded, wq)``
   with ``pad=0`` (:meth:`IntegerLayer.accelerator_layer`, exactly
   :func:`model.conv.conv2d_layer`), weights symmetric per filter (zero point 0);
3. **the requantization stage** adds the folded bias
   ``round(b / (sx * sw[m])) - input_zero_point * sum(wq[m])`` and applies
   :func:`model.quant.requantize.requantize` with the filter's multiplier and
   shift, the output zero point and ReLU;
4. max-pooling on the integers (exact: pooling commutes with a monotone grid).

Activations use asymmetric per-tensor grids stored signed: the unsigned code
``u`` of :mod:`model.quant.grid` is kept as ``u - 2**(bits-1)``, with the
zero point moved by the same amount. The logits (last layer) are requantized
to :data:`LOGIT_BITS` bits so that ties in the class decision stay rare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.conv import conv2d_layer
from model.layer import ConvLayer
from model.quant.grid import grid_parameters, quantize_values
from model.quant.integer_conv import fold_input_zero_point, pad_with_zero_point
from model.quant.network import LAYERS, POOL, RELU, Parameters
from model.quant.requantize import quantize_multiplier, requantize
from model.quant.rounding import round_to_int
from model.quant.uniform import quantize
from model.validate import check_int

__all__ = ["LOGIT_BITS", "ActivationGrid", "IntegerLayer", "IntegerNetwork", "build_integer_network"]

#: Width of the requantized logits.
LOGIT_BITS = 16


@dataclass(frozen=True)
class ActivationGrid:
    """A per-tensor activation grid stored signed: ``x ~ scale * (q - zero_point)``, ``q`` in the signed ``bits`` range."""

    scale: float
    zero_point: int
    bits: int

    @classmethod
    def from_range(cls, lo: float, hi: float, bits: int) -> "ActivationGrid":
        """The asymmetric grid of ``[lo, hi]``, its unsigned codes shifted down by ``2**(bits-1)``."""
        scale, zero = grid_parameters(lo, hi, bits, "asymmetric")
        return cls(float(scale), int(zero) - 2 ** (bits - 1), bits)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Signed codes of real values, int64."""
        offset = 2 ** (self.bits - 1)
        return quantize_values(x, self.scale, self.zero_point + offset, self.bits, "asymmetric") - offset

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Real values of codes, float64."""
        return self.scale * (np.asarray(q) - self.zero_point)


@dataclass(frozen=True, eq=False)
class IntegerLayer:
    """One quantized layer: accelerator operands and requantization parameters.

    Attributes
    ----------
    layer : ConvLayer
        The layer's shape (batch 1, with its own padding).
    weights : ndarray
        MCRS int64, signed ``bits``-bit, zero point 0.
    weight_scale : ndarray
        float64 per filter: ``w[m] ~ weight_scale[m] * weights[m]``.
    bias : ndarray
        int64 per filter, the input zero point folded in.
    multiplier, shift : ndarray
        int64 per filter, see :func:`model.quant.requantize.quantize_multiplier`.
    input_zero_point, output_zero_point : int
    bits : int
        Input and weight width.
    output_bits : int
    relu : bool
    pool : int
        Max-pool window after requantization (1 = none).
    """

    layer: ConvLayer
    weights: np.ndarray
    weight_scale: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    input_zero_point: int
    output_zero_point: int
    bits: int
    output_bits: int
    relu: bool
    pool: int

    def accelerator_layer(self, batch: int) -> ConvLayer:
        """The shape the accelerator runs: input pre-padded with the zero point, ``pad=0``."""
        l = self.layer
        return ConvLayer(N=batch, C=l.C, H=l.H + 2 * l.pad, W=l.W + 2 * l.pad, M=l.M, R=l.R, S=l.S, stride=l.stride)

    def accelerator_input(self, xq: np.ndarray) -> np.ndarray:
        """The accelerator's NCHW input: ``xq`` padded with the input zero point."""
        return pad_with_zero_point(xq, self.input_zero_point, self.layer.pad)

    def accumulate(self, xq: np.ndarray) -> np.ndarray:
        """Raw accumulators NMEF, int64: what the accelerator computes."""
        return conv2d_layer(self.accelerator_input(xq), self.weights, self.accelerator_layer(len(xq)), self.bits)

    def finish(self, acc: np.ndarray) -> np.ndarray:
        """Requantization stage (bias, multiplier, shift, zero point, ReLU) then max-pooling, int64."""
        out = requantize(acc, self.multiplier, self.shift, self.output_zero_point, self.output_bits, self.relu,
                         bias=self.bias)
        if self.pool == 1:
            return out
        N, M, E, F = out.shape
        k = self.pool
        return out.reshape(N, M, E // k, k, F // k, k).max(axis=(3, 5))

    def forward(self, xq: np.ndarray) -> np.ndarray:
        """``finish(accumulate(xq))``."""
        return self.finish(self.accumulate(xq))


@dataclass(frozen=True, eq=False)
class IntegerNetwork:
    """The quantized digits CNN.

    Attributes
    ----------
    grids : tuple of ActivationGrid
        The grid of each layer's input, and last of the logits.
    layers : tuple of IntegerLayer
    """

    grids: tuple[ActivationGrid, ...]
    layers: tuple[IntegerLayer, ...]

    @property
    def input_grid(self) -> ActivationGrid:
        """The grid of the network input."""
        return self.grids[0]

    def quantize_input(self, images: np.ndarray) -> np.ndarray:
        """Signed codes of NCHW images in [0, 1]."""
        return self.input_grid.quantize(images)

    def forward(self, images: np.ndarray) -> list[np.ndarray]:
        """The integer input and every layer's integer output (the last: N x 10 logits)."""
        outputs = [self.quantize_input(images)]
        for layer in self.layers:
            outputs.append(layer.forward(outputs[-1]))
        outputs[-1] = outputs[-1].reshape(len(images), -1)
        return outputs

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted classes, int64."""
        return self.forward(images)[-1].argmax(axis=1)


def build_integer_network(params: Parameters, input_ranges: list[tuple[float, float]],
                          logit_range: tuple[float, float], bits: int, weight_calibration: str = "mse") -> IntegerNetwork:
    """Quantize a trained float network for integer-only inference.

    Parameters
    ----------
    params : Parameters
        Float weights and biases.
    input_ranges : list of (lo, hi)
        Calibrated real range of each layer's input (layer 0: the image).
    logit_range : (lo, hi)
        Calibrated real range of the logits.
    bits : int
        Width of weights and activations, 2..16.
    weight_calibration : str
        Calibration of the symmetric per-filter weight grids.
    """
    check_int("bits", bits, 2, 16)
    grids = [ActivationGrid.from_range(lo, hi, bits) for lo, hi in input_ranges]
    grids.append(ActivationGrid.from_range(*logit_range, LOGIT_BITS))
    layers = []
    for i, shape in enumerate(LAYERS):
        wq = quantize(params.weights[i], bits, "symmetric", "channel", axis=0, calibration=weight_calibration)
        weight_scale = wq.scale.reshape(-1)
        accumulator_scale = grids[i].scale * weight_scale
        bias = round_to_int(params.biases[i] / accumulator_scale).astype(np.int64)
        multiplier, shift = quantize_multiplier(accumulator_scale / grids[i + 1].scale)
        layers.append(IntegerLayer(
            layer=shape, weights=wq.q, weight_scale=weight_scale, bias=fold_input_zero_point(bias, wq.q, grids[i].zero_point),
            multiplier=multiplier, shift=shift, input_zero_point=grids[i].zero_point,
            output_zero_point=grids[i + 1].zero_point, bits=bits, output_bits=grids[i + 1].bits,
            relu=RELU[i], pool=POOL[i]))
    return IntegerNetwork(tuple(grids), tuple(layers))
