"""Float ONNX models written with ``onnx.helper``: the project's digits CNN, ResNet-18 and MobileNet-v1.

Nothing is downloaded and PyTorch is not needed. The digits CNN takes the
trained parameters of :mod:`model.quant.network`; ResNet-18 and MobileNet-v1
get seeded random weights (He-normal) with a seeded batch normalisation
folded into each convolution (``w * gamma / sqrt(var + eps)``,
``beta - mean * gamma / sqrt(var + eps)``), so they have the shapes, the
per-channel spread and the biases of trained networks. Every model has a
dynamic batch dimension ``N`` and says in its metadata (``qconv.dataset``)
which images ``qconv run --images`` feeds it. Quantizing them is ONNX
Runtime's job (:mod:`sim.onnx_reference`).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model.layer import MOBILENET_V1_BLOCKS
from model.quant.network import LAYERS, Parameters

__all__ = ["Dataset", "DATASET_KEY", "OPSET", "MOBILENET_V1", "ModelBuilder", "digits_cnn", "resnet", "resnet18",
           "mobilenet_v1"]

#: Metadata key naming the images a model takes (:class:`Dataset`).
DATASET_KEY = "qconv.dataset"
#: ONNX opset of the built models.
OPSET = 17
_BN_EPS = 1e-5


class Dataset(StrEnum):
    """Images a built model is meant for (``qconv run --images``)."""

    DIGITS = "sklearn-digits"  #: the held-out 8x8 digits of the quantization study, NCHW in [0, 1]
    GAUSSIAN = "gaussian"  #: seeded standard-normal images (normalised-ImageNet statistics)


class ModelBuilder:
    """A float graph under construction: nodes, initializers, fresh names.

    Each method adds nodes and returns the name of its output tensor.
    """

    def __init__(self, name: str, input_shape: tuple[int, ...]):
        self.name = name
        self.input = "input"
        self.input_shape = input_shape
        self.nodes: list = []
        self.initializers: list = []
        self._count: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        """A new unique name ``base`` or ``base_<k>``."""
        k = self._count.get(base, 0)
        self._count[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    def constant(self, base: str, value: np.ndarray) -> str:
        """Add an initializer (float arrays as float32)."""
        name = self.fresh(base)
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], base: str, **attrs) -> str:
        """Add one node with one output."""
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0, groups: int = 1,
             base: str = "conv") -> str:
        """A 2-D convolution with bias (weights MCRS, ``C/groups`` channels)."""
        return self.node("Conv", [x, self.constant(f"{base}_w", w), self.constant(f"{base}_b", b)], base,
                         kernel_shape=list(w.shape[2:]), strides=[stride, stride], pads=[pad] * 4, group=groups)

    def relu(self, x: str) -> str:
        """ReLU."""
        return self.node("Relu", [x], "relu")

    def relu6(self, x: str) -> str:
        """ReLU6 as Clip(0, 6)."""
        return self.node("Clip", [x, self.constant("zero", np.float32(0)), self.constant("six", np.float32(6))], "relu6")

    def max_pool(self, x: str, k: int, stride: int, pad: int = 0) -> str:
        """Max pooling."""
        return self.node("MaxPool", [x], "maxpool", kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def global_average_pool(self, x: str) -> str:
        """Global average pooling."""
        return self.node("GlobalAveragePool", [x], "gap")

    def flatten(self, x: str) -> str:
        """Flatten to (N, rest)."""
        return self.node("Flatten", [x], "flatten", axis=1)

    def gemm(self, x: str, w: np.ndarray, b: np.ndarray) -> str:
        """Fully connected: ``x @ w.T + b`` with ``w`` of shape (out, in)."""
        return self.node("Gemm", [x, self.constant("fc_w", w), self.constant("fc_b", b)], "fc", transB=1)

    def add(self, a: str, b: str) -> str:
        """Element-wise add."""
        return self.node("Add", [a, b], "add")

    def model(self, output: str, output_shape: tuple, dataset: Dataset) -> onnx.ModelProto:
        """The checked float model: input ``input``, the tensor ``output`` renamed ``output``."""
        (last,) = [n for n in self.nodes if output in n.output]
        last.output[0] = "output"
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(self.input, TensorProto.FLOAT, ["N", *self.input_shape])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", *output_shape])],
            self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="qconv")
        model.ir_version = 8
        helper.set_model_props(model, {DATASET_KEY: dataset.value})
        onnx.checker.check_model(model, full_check=True)
        return model


def digits_cnn(params: Parameters) -> onnx.ModelProto:
    """The trained digits CNN (:mod:`model.quant.network`) as a float ONNX model.

    conv1 3x3 (pad 1) + ReLU + 2x2 max-pool, conv2 likewise, then the dense
    layer as Flatten + Gemm: the 2x2 "fc" convolution over the 2x2 map is the
    product with its weights flattened in C, H, W order, the order Flatten
    uses. Input (N, 1, 8, 8) in [0, 1], output (N, 10) logits.
    """
    b = ModelBuilder("digits_cnn", (1, 8, 8))
    x = b.input
    for i in (0, 1):
        x = b.conv(x, params.weights[i], params.biases[i], pad=LAYERS[i].pad, base=f"conv{i + 1}")
        x = b.max_pool(b.relu(x), 2, 2)
    fc = params.weights[2]
    logits = b.gemm(b.flatten(x), fc.reshape(fc.shape[0], -1), params.biases[2])
    return b.model(logits, (fc.shape[0],), Dataset.DIGITS)


def _conv_bn(rng: np.random.Generator, c: int, m: int, k: int, gamma: tuple[float, float] = (0.5, 1.0)):
    """He-normal MCRS weights (``c`` channels per filter) with a seeded batch norm folded in: ``(w, b)``."""
    w = rng.normal(0.0, np.sqrt(2.0 / (c * k * k)), (m, c, k, k))
    g = rng.uniform(*gamma, m)
    beta, mean, var = rng.normal(0.0, 0.1, m), rng.normal(0.0, 0.1, m), rng.uniform(0.5, 1.5, m)
    factor = g / np.sqrt(var + _BN_EPS)
    return w * factor[:, None, None, None], beta - mean * factor


def _classifier(rng: np.random.Generator, inputs: int, classes: int):
    return rng.normal(0.0, np.sqrt(1.0 / inputs), (classes, inputs)), rng.normal(0.0, 0.01, classes)


def resnet(seed: int = 0, size: int = 224, widths: tuple[int, ...] = (64, 128, 256, 512),
           blocks: tuple[int, ...] = (2, 2, 2, 2), classes: int = 1000) -> onnx.ModelProto:
    """A ResNet with basic blocks (He et al. 2016), batch norm folded, seeded weights.

    The default is ResNet-18: a 7x7/2 stem with 3x3/2 max-pool, four stages of
    two basic blocks (3x3 conv, ReLU, 3x3 conv, residual add, ReLU; a 1x1/2
    projection where the shape changes), global average pool, fully connected.
    Smaller ``size``, ``widths`` and ``blocks`` give test-sized networks of
    the same structure.
    """
    rng = np.random.default_rng([seed, 18])
    b = ModelBuilder("resnet", (3, size, size))
    x = b.relu(b.conv(b.input, *_conv_bn(rng, 3, widths[0], 7), stride=2, pad=3, base="stem"))
    x = b.max_pool(x, 3, 2, 1)
    channels = widths[0]
    for stage, (width, count) in enumerate(zip(widths, blocks)):
        for block in range(count):
            stride = 2 if stage > 0 and block == 0 else 1
            base = f"s{stage + 1}b{block + 1}"
            y = b.relu(b.conv(x, *_conv_bn(rng, channels, width, 3), stride=stride, pad=1, base=f"{base}_conv1"))
            y = b.conv(y, *_conv_bn(rng, width, width, 3, gamma=(0.2, 0.5)), pad=1, base=f"{base}_conv2")
            if stride != 1 or channels != width:
                x = b.conv(x, *_conv_bn(rng, channels, width, 1), stride=stride, base=f"{base}_down")
            x = b.relu(b.add(y, x))
            channels = width
    logits = b.gemm(b.flatten(b.global_average_pool(x)), *_classifier(rng, channels, classes))
    return b.model(logits, (classes,), Dataset.GAUSSIAN)


def resnet18(seed: int = 0) -> onnx.ModelProto:
    """ResNet-18 at 224x224, 1000 classes (:func:`resnet` with its defaults)."""
    return resnet(seed)


#: MobileNet-v1's depthwise-separable blocks at width 1: (output channels, depthwise stride), from
#: :data:`model.layer.MOBILENET_V1_BLOCKS` (the named layers ``mobilenet_v1_dw*`` / ``pw*``).
MOBILENET_V1 = tuple((m, stride) for _, m, _, stride in MOBILENET_V1_BLOCKS)


def mobilenet_v1(seed: int = 0, size: int = 224, alpha: float = 1.0, blocks: tuple = MOBILENET_V1,
                 classes: int = 1000) -> onnx.ModelProto:
    """MobileNet-v1 (Howard et al. 2017), batch norm folded, ReLU6, seeded weights.

    A 3x3/2 standard convolution to 32 channels, then per block a depthwise
    3x3 (pad 1, ``groups = channels``) and a pointwise 1x1, each followed by
    ReLU6; global average pool and fully connected. ``alpha`` scales every
    width; smaller ``size`` and ``blocks`` give test-sized networks.
    """
    rng = np.random.default_rng([seed, 1])
    scaled = lambda c: max(1, int(round(c * alpha)))  # noqa: E731
    b = ModelBuilder("mobilenet_v1", (3, size, size))
    channels = scaled(32)
    x = b.relu6(b.conv(b.input, *_conv_bn(rng, 3, channels, 3), stride=2, pad=1, base="conv1"))
    for i, (width, stride) in enumerate(blocks, start=1):
        x = b.relu6(b.conv(x, *_conv_bn(rng, 1, channels, 3), stride=stride, pad=1, groups=channels, base=f"dw{i}"))
        x = b.relu6(b.conv(x, *_conv_bn(rng, channels, scaled(width), 1), base=f"pw{i}"))
        channels = scaled(width)
    logits = b.gemm(b.flatten(b.global_average_pool(x)), *_classifier(rng, channels, classes))
    return b.model(logits, (classes,), Dataset.GAUSSIAN)
