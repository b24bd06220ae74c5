"""A convolution node in the accelerator's terms: signed operands, folded bias, requantization, layers it runs.

The accelerator multiplies signed ``bits``-wide integers. A node's stored
values are mapped onto them exactly (:func:`plan_conv`):

* **input**: ``x_hw = x - offset`` with ``offset = zx`` when ``x - zx`` fits
  (then real zero is 0 and the accelerator pads by itself), otherwise the
  middle of the type (128 for uint8: ``x - 128`` always fits 8 bits). Real
  zero is then ``p = zx - offset``; the host pads the input with ``p`` and
  the layer runs with ``pad=0`` (as :mod:`model.infer` does), and ``p`` is
  folded into the bias: ``bias_hw[m] = bias[m] - p * sum(w_hw[m])``, so that
  ``acc_hw + bias_hw`` is exactly ONNX Runtime's ``sum((x - zx) * (w - zw)) + bias``.
  Asymmetric ONNX pads are also applied on the host.
* **weights**: ``w_hw = w - zw`` (per filter); it must fit ``bits`` (int8
  weights with zero point 0, uint8 with 128, or a wider accelerator).
* **output**: the requantization stage (:class:`model.program.RequantParams`,
  gemmlowp's Q31 multiplier and rounding shift, ties to even) with the
  multiplier of ONNX Runtime's own float32 scale ``m = fl(fl(sx*sw)/sy)``
  (a float32 has 24 significant bits, so the Q31 multiplier is ``m``
  exactly), zero point ``zy - 128`` for uint8 outputs (``zy`` for int8);
  the host adds 128 back. A fused ReLU is the stage's ``relu``; a Clip's
  upper bound is clamped on the host.

The requantization rules differ in one case only: ONNX Runtime rounds
``fl(acc * m)`` to float32 before rounding to an integer, the stage rounds the
exact product; when the exact product lies within a float32 rounding of a
half-integer the two results differ by one step. :class:`RequantRule`
``ONNXRUNTIME`` instead reads the raw accumulators back and applies ONNX
Runtime's rule on the host (bit-exact with it).

Lowering to what the hardware runs (:meth:`ConvPlan.calls`): a grouped or
depthwise convolution becomes one ungrouped convolution per group (the
hardware runs ``groups=1`` only), a layer with more than
:data:`model.contract.REQUANT_CHANNELS` filters is split into filter chunks
(the stage holds that many channels), and Gemm/MatMul run as 1x1
convolutions over a 1x1 image.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.network.graph import ConvKind, ConvNode
from model.network.host_ops import QType, accumulator_scale, requantize_accumulators
from model.contract import REQUANT_CHANNELS
from model.program import RequantParams
from model.quant.integer_conv import fold_input_zero_point
from model.quant.requantize import quantize_multiplier

__all__ = ["OUT_BITS", "RequantRule", "AcceleratorCall", "ConvPlan", "plan_conv"]

_INT32_MAX = 2**31 - 1
#: Output width of the requantization stage for 8-bit quantized tensors.
OUT_BITS = 8


class RequantRule(StrEnum):
    """Which requantization a convolution's outputs get."""

    ACCELERATOR = "accelerator"  #: the hardware's stage (gemmlowp Q31, ties to even)
    ONNXRUNTIME = "onnxruntime"  #: raw accumulators read back, ONNX Runtime's float32 rule on the host


@dataclass(frozen=True, eq=False)
class AcceleratorCall:
    """One layer for the accelerator: operands, requantization (None: raw accumulators), output channels."""

    layer: ConvLayer
    x: np.ndarray
    w: np.ndarray
    requant: RequantParams | None
    channels: slice


def _signed_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _input_offset(node: ConvNode, bits: int) -> int:
    """``offset`` of the module notes: the zero point if ``x - zx`` fits, else the middle of the type."""
    lo, hi = _signed_range(bits)
    q = node.input_grid.qtype
    for offset in (node.input_grid.zero_point, (q.lo + q.hi + 1) // 2):
        if lo <= q.lo - offset and q.hi - offset <= hi:
            return offset
    raise ValueError(f"node {node.name!r} ({node.op}): its {q} input does not fit the accelerator's signed "
                     f"{bits}-bit operands; use --bits 8 or more")


@dataclass(frozen=True, eq=False)
class ConvPlan:
    """A :class:`ConvNode` on one accelerator build (made by :func:`plan_conv`).

    Attributes
    ----------
    node : ConvNode
    rule : RequantRule
    input_offset : int
        ``x_hw = x - input_offset``.
    pad_value : int
        ``x_hw`` of real zero, ``zx - input_offset``.
    host_pad : bool
        Whether the host pads the input (``pad_value != 0`` or asymmetric pads).
    weights : ndarray
        ``w_hw = w - zw``, int64 MCRS.
    bias : ndarray
        ``bias_hw`` (int64 per filter).
    scale : ndarray
        ONNX Runtime's float32 requantization scales ``m``.
    requant : RequantParams
        The hardware stage's parameters for all filters.
    output_offset : int
        Added to the stage's signed outputs (128 for uint8).
    notes : tuple of str
        What was changed for the hardware (for the report).
    """

    node: ConvNode
    rule: RequantRule
    input_offset: int
    pad_value: int
    host_pad: bool
    weights: np.ndarray
    bias: np.ndarray
    scale: np.ndarray
    requant: RequantParams
    output_offset: int
    notes: tuple[str, ...]

    def accelerator_input(self, x: np.ndarray) -> np.ndarray:
        """The accelerator's NCHW operand from the node's input values (padded on the host if planned)."""
        n = self.node
        x = np.asarray(x, dtype=np.int64)
        if n.kind is ConvKind.MATMUL:
            if x.ndim != 2:
                raise ValueError(f"node {n.name!r} ({n.op}): input of shape {x.shape}; a matrix product needs (N, K)")
            x = x.reshape(*x.shape, 1, 1)
        x = x - self.input_offset
        if self.host_pad:
            top, left, bottom, right = n.pads
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=self.pad_value)
        return x

    def layer(self, x_hw: np.ndarray) -> ConvLayer:
        """The node's layer (groups included) for an accelerator operand ``x_hw``."""
        n = self.node
        N, C, H, W = x_hw.shape
        M, _, R, S = self.weights.shape
        return ConvLayer(N=N, C=C, H=H, W=W, M=M, R=R, S=S, stride=n.stride[0],
                         pad=0 if self.host_pad else n.pads[0], groups=n.groups)

    def calls(self, x_hw: np.ndarray) -> list[AcceleratorCall]:
        """The ungrouped layers the hardware runs: one per group, filters in chunks of the stage's channels."""
        whole = self.layer(x_hw)
        cg, mg = whole.group_channels, whole.group_filters
        chunk = REQUANT_CHANNELS if self.rule is RequantRule.ACCELERATOR else mg
        calls = []
        for g in range(whole.groups):
            xg = x_hw[:, g * cg:(g + 1) * cg]
            for m0 in range(g * mg, (g + 1) * mg, chunk):
                m1 = min(m0 + chunk, (g + 1) * mg)
                layer = ConvLayer(**(whole.to_dict() | {"C": cg, "M": m1 - m0, "groups": 1}))
                calls.append(AcceleratorCall(layer, xg, self.weights[m0:m1], self._requant(m0, m1), slice(m0, m1)))
        return calls

    def _requant(self, m0: int, m1: int) -> RequantParams | None:
        if self.rule is RequantRule.ONNXRUNTIME:
            return None
        rq = self.requant
        return RequantParams(rq.bias[m0:m1], rq.multiplier[m0:m1], rq.shift[m0:m1], rq.zero_point, rq.out_bits,
                             rq.relu)

    def finish(self, acc_or_out: np.ndarray) -> np.ndarray:
        """The node's output values from the calls' results assembled along the channels (NMEF).

        Requantized outputs get the output offset; raw accumulators get the
        bias and ONNX Runtime's rule. Then the fused activation's clamp, and a
        matrix product's (N, M) shape.
        """
        n = self.node
        if self.rule is RequantRule.ONNXRUNTIME:
            out = requantize_accumulators(acc_or_out + self.bias[None, :, None, None], self.scale,
                                          n.grid.zero_point, n.grid.qtype)
        else:
            out = np.asarray(acc_or_out, dtype=np.int64) + self.output_offset
        out = np.clip(out, *n.clamp)
        return out.reshape(out.shape[:2]) if n.kind is ConvKind.MATMUL else out


def _fits(values: np.ndarray, bits: int) -> bool:
    lo, hi = _signed_range(bits)
    return values.size == 0 or (values.min() >= lo and values.max() <= hi)


def plan_conv(node: ConvNode, config: AcceleratorConfig, rule: RequantRule = RequantRule.ACCELERATOR) -> ConvPlan:
    """Map ``node`` onto ``config`` (see the module notes), refusing what cannot run exactly.

    Raises
    ------
    ValueError
        Naming the node if the build is binary, an operand does not fit the
        build's ``bits``, the stride differs between directions, a
        requantization scale is out of range, or an accumulator could
        overflow the build's ``acc_bits`` or the stage's int32 range.
    """
    where = f"node {node.name!r} ({node.op})"
    if config.binary:
        raise ValueError(f"{where}: a quantized network needs a multi-bit accelerator (--bits 8), not a binary one")
    if node.stride[0] != node.stride[1]:
        raise ValueError(f"{where}: strides {node.stride} differ; the accelerator steps both directions alike")
    offset = _input_offset(node, config.bits)
    pad_value = node.input_grid.zero_point - offset
    top, left, bottom, right = node.pads
    host_pad = pad_value != 0 or len({top, left, bottom, right}) > 1
    weights = node.weights - node.weight_zero_point[:, None, None, None]
    if not _fits(weights, config.bits):
        raise ValueError(f"{where}: weights minus their zero points span {int(weights.min())}..{int(weights.max())}, "
                         f"beyond the accelerator's signed {config.bits}-bit operands (quantize weights symmetrically: "
                         f"int8 with zero point 0)")
    bias = fold_input_zero_point(node.bias, weights, pad_value)
    q = node.input_grid.qtype
    peak_input = max(abs(q.lo - offset), abs(q.hi - offset))
    groups_sum = np.abs(weights).reshape(len(weights), -1).sum(axis=1)
    peak = int(groups_sum.max(initial=0)) * peak_input
    acc_max = 2 ** (config.acc_bits - 1) - 1
    if peak > acc_max:
        raise ValueError(f"{where}: its accumulators could reach {peak} (max |x| {peak_input} times the largest "
                         f"sum |w| {int(groups_sum.max())}), beyond the accelerator's acc_bits={config.acc_bits} "
                         f"(|acc| <= {acc_max})")
    if peak + int(np.abs(bias).max(initial=0)) > _INT32_MAX:
        raise ValueError(f"{where}: accumulator plus bias could exceed the int32 range of the requantization")
    scale = accumulator_scale(node.input_grid.scale, node.weight_scale, node.grid.scale)
    try:
        multiplier, shift = quantize_multiplier(scale.astype(np.float64))
    except ValueError as err:
        raise ValueError(f"{where}: requantization scale {err}") from None
    output_offset = 128 if node.grid.qtype is QType.UINT8 else 0
    requant = RequantParams(bias, multiplier, shift, node.grid.zero_point - output_offset, OUT_BITS,
                            relu=node.clamp[0] == node.grid.zero_point)
    return ConvPlan(node, rule, offset, pad_value, host_pad, weights, bias, scale, requant, output_offset,
                    _notes(node, weights.shape[0] // node.groups, host_pad, rule))


def _notes(node: ConvNode, group_filters: int, host_pad: bool, rule: RequantRule) -> tuple[str, ...]:
    notes = []
    if node.kind is ConvKind.MATMUL:
        notes.append(f"{node.op} run as a 1x1 convolution")
    if node.groups > 1:
        notes.append(f"grouped convolution (groups={node.groups}) run as {node.groups} ungrouped convolutions, "
                     f"one per group")
    if rule is RequantRule.ACCELERATOR and group_filters > REQUANT_CHANNELS:
        notes.append(f"{group_filters} filters per group run in chunks of {REQUANT_CHANNELS} "
                     f"(the requantization stage's channels)")
    if host_pad and any(node.pads):
        notes.append("input padded on the host with its zero point")
    if node.clamp[1] < node.grid.qtype.hi:
        notes.append("Clip's upper bound clamped on the host")
    return tuple(notes)
