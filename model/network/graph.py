"""The imported integer graph: quantized tensors and the nodes between them.

:func:`model.network.importer.import_model` turns a quantized ONNX model
(QDQ or QOperator) into a :class:`Graph`. Every tensor of the graph is a
quantized integer tensor with a per-tensor :class:`Grid`, named as in the ONNX
model (a ``QuantizeLinear`` output in QDQ form, a ``QLinear*`` output in
QOperator form), so each one can be compared with what ONNX Runtime computes
for the same name. Every node produces one tensor:

* :class:`ConvNode` -- a convolution, Gemm or MatMul with its
  requantization (and a fused Relu/Clip): runs on the **accelerator**;
* the others run on the **host** with ONNX Runtime's integer semantics
  (:mod:`model.network.host_ops`).

Node parameters are kept as ONNX Runtime sees them (``uint8`` values
0..255, zero points, float32 scales); how they map onto the accelerator's
signed operands is :mod:`model.network.lowering`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from model.network.host_ops import QType

__all__ = ["Where", "ConvKind", "PoolKind", "ModelForm", "Grid", "Node", "QuantizeNode", "ConvNode", "AddNode",
           "PoolNode", "ActivationNode", "ReshapeNode", "ConcatNode", "InputSpec", "OutputSpec", "Graph"]


class Where(StrEnum):
    """Where a node runs."""

    ACCELERATOR = "accelerator"
    HOST = "host"


class ConvKind(StrEnum):
    """What an accelerator node was in the ONNX model: a convolution, or a matrix product as a 1x1 convolution."""

    CONV = "conv"
    MATMUL = "matmul"  #: Gemm or MatMul: input (N, K) -> (N, K, 1, 1), output (N, M, 1, 1) -> (N, M)


class PoolKind(StrEnum):
    """Pooling operations."""

    MAX = "max"
    AVERAGE = "average"
    GLOBAL_AVERAGE = "global_average"


class ModelForm(StrEnum):
    """How the ONNX model is quantized."""

    QDQ = "qdq"  #: QuantizeLinear/DequantizeLinear around float ops
    QOPERATOR = "qoperator"  #: QLinear* operators
    MIXED = "mixed"


@dataclass(frozen=True)
class Grid:
    """Per-tensor quantization: real value ``scale * (q - zero_point)``; ``scale`` is a float32 value."""

    scale: float
    zero_point: int
    qtype: QType

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive finite float32, not {self.scale!r}")
        if not self.qtype.lo <= self.zero_point <= self.qtype.hi:
            raise ValueError(f"zero point {self.zero_point} is outside the {self.qtype} range "
                             f"{self.qtype.lo}..{self.qtype.hi}")


@dataclass(frozen=True, eq=False, kw_only=True)
class Node:
    """One node: integer inputs (tensor names), one integer output.

    Attributes
    ----------
    name : str
        The ONNX node name of the core operation (its output name if it has none).
    op : str
        The ONNX op type of the core operation (``Conv``, ``QLinearConv``, ``Add`` ...).
    inputs : tuple of str
        Integer tensors read.
    output : str
        Integer tensor written.
    grid : Grid
        Quantization of the output.
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    output: str
    grid: Grid

    where = Where.HOST


@dataclass(frozen=True, eq=False, kw_only=True)
class QuantizeNode(Node):
    """``QuantizeLinear`` of the float network input (``inputs`` is the float input's name)."""


@dataclass(frozen=True, eq=False, kw_only=True)
class ConvNode(Node):
    """A convolution (or matrix product) with bias, requantization and an optional fused Relu/Clip.

    Attributes
    ----------
    input_grid : Grid
    weights : ndarray
        int64, MCRS with ``C/groups`` channels (a matrix product: M, K, 1, 1), the stored values.
    weight_zero_point : ndarray
        int64 per filter.
    weight_scale : ndarray
        float32 per filter.
    bias : ndarray
        int64 per filter: ONNX Runtime's int32 bias (0 without one), in accumulator units.
    stride : tuple of int
        (vertical, horizontal).
    pads : tuple of int
        (top, left, bottom, right).
    groups : int
    clamp : tuple of int
        Output range the fused activation leaves, ``(lo, hi)`` in output values (the type's range without one).
    kind : ConvKind
    """

    input_grid: Grid
    weights: np.ndarray
    weight_zero_point: np.ndarray
    weight_scale: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    clamp: tuple[int, int]
    kind: ConvKind = ConvKind.CONV

    where = Where.ACCELERATOR


@dataclass(frozen=True, eq=False, kw_only=True)
class AddNode(Node):
    """Element-wise add of two tensors of one shape, with an optional fused Relu/Clip.

    ``fused`` selects ONNX Runtime's ``QLinearAdd`` rule (then the activation
    is the integer ``clamp``); otherwise its float path, the activation's real
    bounds ``act`` applied in float (ONNX Runtime does not fuse an add whose
    activation it cannot drop).
    """

    input_grids: tuple[Grid, Grid]
    fused: bool = True
    act: tuple[float, float] | None = None
    clamp: tuple[int, int]


@dataclass(frozen=True, eq=False, kw_only=True)
class PoolNode(Node):
    """Max, average or global average pooling (2-D)."""

    kind: PoolKind
    input_grid: Grid
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    count_include_pad: bool = False


@dataclass(frozen=True, eq=False, kw_only=True)
class ActivationNode(Node):
    """A Relu or Clip between DequantizeLinear and QuantizeLinear (ONNX Runtime's float path)."""

    input_grid: Grid
    lo: float = 0.0
    hi: float = float("inf")


@dataclass(frozen=True, eq=False, kw_only=True)
class ReshapeNode(Node):
    """Flatten (``axis``) or Reshape (``shape``, ONNX's 0 and -1 rules), requantized if the grid changes."""

    input_grid: Grid
    flatten_axis: int | None = None
    shape: tuple[int, ...] | None = None
    allowzero: bool = False


@dataclass(frozen=True, eq=False, kw_only=True)
class ConcatNode(Node):
    """Concatenation along ``axis``, each input requantized to the output grid (``QLinearConcat``)."""

    input_grids: tuple[Grid, ...]
    axis: int = 1


@dataclass(frozen=True)
class InputSpec:
    """The network input: ONNX name, shape (``None`` for a dynamic dimension) and element type.

    ``qtype`` is None for a float32 input (quantized by a :class:`QuantizeNode`).
    """

    name: str
    shape: tuple[int | None, ...]
    qtype: QType | None = None


@dataclass(frozen=True)
class OutputSpec:
    """The network output: ONNX name, the integer tensor it is, and whether it is dequantized to float32."""

    name: str
    tensor: str
    dequantized: bool


@dataclass(frozen=True, eq=False, kw_only=True)
class Graph:
    """An imported quantized network.

    Attributes
    ----------
    input : InputSpec
    nodes : tuple of Node
        In execution (topological) order.
    output : OutputSpec
    grids : dict
        Integer tensor name -> :class:`Grid` (the network input included when it is integer).
    form : ModelForm
    metadata : dict
        The ONNX model's ``metadata_props``.
    """

    input: InputSpec
    nodes: tuple[Node, ...]
    output: OutputSpec
    grids: dict[str, Grid]
    form: ModelForm
    metadata: dict = field(default_factory=dict)

    @property
    def accelerator_nodes(self) -> tuple[ConvNode, ...]:
        """The nodes that run on the accelerator."""
        return tuple(n for n in self.nodes if n.where is Where.ACCELERATOR)
