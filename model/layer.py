"""Convolution layer shapes: the seven loop bounds N, M, C, E, F, R, S, the groups G, and their text form.

One set of dimension letters is used everywhere in the project:
N batch, C input channels, H x W input size, M filters (output channels),
R x S kernel, E x F output size, G groups. Activations are NCHW, weights
MCRS with ``C/G`` channels per filter, outputs NMEF.

A grouped convolution (``groups = G > 1``) splits the C input channels and
the M filters into G equal groups; filter ``m`` of group ``g = m // (M/G)``
sees only the input channels ``g*(C/G) .. (g+1)*(C/G) - 1``. Depthwise is
``G = C = M`` (one channel per filter).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from model.validate import check_int

__all__ = ["ConvLayer", "NAMED_LAYERS", "MOBILENET_V1_BLOCKS", "NETWORK_LAYERS", "network_layers", "parse_layer"]

_DIM_MAX = 65535  # every loop bound must fit the 16-bit fields of the hardware layer descriptor


@dataclass(frozen=True, kw_only=True)
class ConvLayer:
    """Shape of one 2-D convolution layer.

    Parameters
    ----------
    N, C, H, W, M, R, S : int
        Batch, input channels, input height and width, filters, kernel
        height and width; each 1..65535.
    stride : int
        Step of the window in both directions, 1..65535.
    pad : int
        Zero rows/columns added on every side of the input, 0..65535.
    groups : int
        Channel groups G, 1..65535; C and M must both be multiples of G
        (depthwise: ``G = C = M``).

    Raises
    ------
    ValueError
        If a field is out of range, C or M is not a multiple of ``groups``, or
        the kernel is larger than the padded input (which would give an empty
        output rather than an error).
    """

    N: int = 1
    C: int
    H: int
    W: int
    M: int
    R: int
    S: int
    stride: int = 1
    pad: int = 0
    groups: int = 1

    def __post_init__(self) -> None:
        for name in ("N", "C", "H", "W", "M", "R", "S", "stride", "groups"):
            check_int(name, getattr(self, name), 1, _DIM_MAX)
        check_int("pad", self.pad, 0, _DIM_MAX)
        for name in ("C", "M"):
            if getattr(self, name) % self.groups:
                raise ValueError(f"{name}={getattr(self, name)} is not a multiple of groups={self.groups}; "
                                 f"C and M must both be multiples of groups")
        for k, size, kname, sname in ((self.R, self.H, "R", "H"), (self.S, self.W, "S", "W")):
            if k > size + 2 * self.pad:
                raise ValueError(
                    f"kernel {kname}={k} is larger than the padded input "
                    f"{sname}+2*pad={size + 2 * self.pad}; allowed {kname} <= {size + 2 * self.pad}"
                )

    @property
    def E(self) -> int:
        """Output height: ``(H + 2*pad - R) // stride + 1``."""
        return (self.H + 2 * self.pad - self.R) // self.stride + 1

    @property
    def F(self) -> int:
        """Output width: ``(W + 2*pad - S) // stride + 1``."""
        return (self.W + 2 * self.pad - self.S) // self.stride + 1

    @property
    def group_channels(self) -> int:
        """Input channels each filter sees, ``C / groups``."""
        return self.C // self.groups

    @property
    def group_filters(self) -> int:
        """Filters of each group, ``M / groups``."""
        return self.M // self.groups

    @property
    def depthwise(self) -> bool:
        """True when every group holds one channel and one filter (``groups = C = M``)."""
        return self.groups == self.C == self.M

    @property
    def reduction(self) -> int:
        """Length of each output's dot product, ``(C / groups) * R * S``."""
        return self.group_channels * self.R * self.S

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the loop nest, ``N*M*E*F*(C/groups)*R*S``."""
        return self.N * self.M * self.E * self.F * self.reduction

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Activation shape, NCHW."""
        return (self.N, self.C, self.H, self.W)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """Weight shape, MCRS with ``C / groups`` channels per filter."""
        return (self.M, self.group_channels, self.R, self.S)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """Output shape, NMEF."""
        return (self.N, self.M, self.E, self.F)

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready; :meth:`from_dict` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ConvLayer":
        """The layer of a dict such as :meth:`to_dict` writes (``N``, ``stride``, ``pad``, ``groups`` optional).

        Raises
        ------
        TypeError, ValueError
            On a non-dict, an unknown key or an invalid field.
        """
        if not isinstance(data, dict):
            raise TypeError(f"layer must be a JSON object, not {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown layer field(s) {unknown}; allowed: {', '.join(names)}")
        return cls(**data)

    def __str__(self) -> str:
        """The text form; ``groups`` appears only when it is not 1 (so ungrouped layers read as before)."""
        return ",".join(f"{k}={v}" for k, v in self.to_dict().items() if k != "groups" or v != 1)

    @classmethod
    def parse(cls, text: str) -> "ConvLayer":
        """Parse ``"N=1,C=8,H=16,W=16,M=16,R=3,S=3,stride=1,pad=1"`` or a name of :data:`NAMED_LAYERS`."""
        return parse_layer(text)


def parse_layer(text: str) -> ConvLayer:
    """Parse a layer from its compact text form or its name.

    Parameters
    ----------
    text : str
        Either a key of :data:`NAMED_LAYERS` or comma-separated ``KEY=VALUE``
        pairs with keys N, C, H, W, M, R, S, stride, pad, groups (N, stride,
        pad and groups may be left out: 1, 1, 0 and 1).

    Raises
    ------
    ValueError
        Naming the malformed item, the unknown key or the missing keys.
    """
    if not isinstance(text, str):
        raise TypeError(f"layer must be a string, not {type(text).__name__}")
    text = text.strip()
    if text in NAMED_LAYERS:
        return NAMED_LAYERS[text]
    if "=" not in text:
        raise ValueError(
            f"layer {text!r} is neither a named layer ({', '.join(sorted(NAMED_LAYERS))}) "
            f"nor of the form 'N=1,C=8,H=16,W=16,M=16,R=3,S=3,stride=1,pad=1'"
        )
    names = [f.name for f in dataclasses.fields(ConvLayer)]
    values: dict[str, int] = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise ValueError(f"layer item {item!r} is not KEY=VALUE (in {text!r})")
        if key not in names:
            raise ValueError(f"unknown layer field {key!r} in {text!r}; allowed: {', '.join(names)}")
        if key in values:
            raise ValueError(f"layer field {key!r} given twice in {text!r}")
        try:
            values[key] = int(value)
        except ValueError:
            raise ValueError(f"layer field {key}={value!r} is not an integer (in {text!r})") from None
    missing = [k for k in ("C", "H", "W", "M", "R", "S") if k not in values]
    if missing:
        raise ValueError(f"layer {text!r} is missing field(s) {', '.join(missing)}")
    return ConvLayer(**values)


#: Layers from real networks, by name (batch 1).
NAMED_LAYERS: dict[str, ConvLayer] = {
    # LeNet-5 (LeCun et al. 1998): 32x32 input, two 5x5 conv layers.
    "lenet5_conv1": ConvLayer(C=1, H=32, W=32, M=6, R=5, S=5),
    "lenet5_conv2": ConvLayer(C=6, H=14, W=14, M=16, R=5, S=5),
    # ResNet-18 (He et al. 2016), 224x224 input: conv1 here, the residual stages below. The four
    # names of one layer per shape, kept from before the whole network was named.
    "resnet18_conv1": ConvLayer(C=3, H=224, W=224, M=64, R=7, S=7, stride=2, pad=3),
    "resnet18_conv2": ConvLayer(C=64, H=56, W=56, M=64, R=3, S=3, pad=1),
    "resnet18_conv3_down": ConvLayer(C=64, H=56, W=56, M=128, R=1, S=1, stride=2),
    "resnet18_conv4": ConvLayer(C=256, H=14, W=14, M=256, R=3, S=3, pad=1),
    "resnet18_conv5": ConvLayer(C=512, H=7, W=7, M=512, R=3, S=3, pad=1),
    # MobileNet-style pointwise (1x1) layer.
    "mobilenet_pw": ConvLayer(C=64, H=14, W=14, M=64, R=1, S=1),
    # MobileNet-v1 (Howard et al. 2017, table 1), 224x224 input: the first standard layer, then
    # thirteen depthwise 3x3 (pad 1) + pointwise 1x1 pairs (below).
    "mobilenet_v1_conv1": ConvLayer(C=3, H=224, W=224, M=32, R=3, S=3, stride=2, pad=1),
    # Layers whose sizes are not multiples of the array: the utilisation targets.
    "small_3x3": ConvLayer(C=8, H=16, W=16, M=16, R=3, S=3),
    "cifar_5x5": ConvLayer(C=3, H=32, W=32, M=32, R=5, S=5),
}

#: MobileNet-v1's depthwise-separable blocks: (input channels, output channels, input size, depthwise stride).
#: The table's stride 2 on dw13 is a known misprint (the 7x7 map stays 7x7); the reference model uses 1.
MOBILENET_V1_BLOCKS = (
    (32, 64, 112, 1), (64, 128, 112, 2), (128, 128, 56, 1), (128, 256, 56, 2), (256, 256, 28, 1),
    (256, 512, 28, 2), (512, 512, 14, 1), (512, 512, 14, 1), (512, 512, 14, 1), (512, 512, 14, 1),
    (512, 512, 14, 1), (512, 1024, 14, 2), (1024, 1024, 7, 1),
)


def _mobilenet_v1_blocks() -> dict[str, ConvLayer]:
    """``mobilenet_v1_dw<i>`` (depthwise 3x3, pad 1) and ``mobilenet_v1_pw<i>`` (1x1) for i = 1..13."""
    layers = {}
    for i, (c, m, size, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        dw = ConvLayer(C=c, H=size, W=size, M=c, R=3, S=3, stride=stride, pad=1, groups=c)
        layers[f"mobilenet_v1_dw{i}"] = dw
        layers[f"mobilenet_v1_pw{i}"] = ConvLayer(C=c, H=dw.E, W=dw.F, M=m, R=1, S=1)
    return layers


def _resnet18_stages() -> dict[str, ConvLayer]:
    """ResNet-18's residual stages in torchvision's names: ``resnet18_layer<s>_<b>_conv<1|2>`` and
    ``resnet18_layer<s>_0_downsample`` (1x1, stride 2) for stages s = 2..4."""
    layers = {}
    for stage, (c_in, c, size) in enumerate(((64, 64, 56), (64, 128, 56), (128, 256, 28), (256, 512, 14)), start=1):
        stride = 1 if stage == 1 else 2
        out = size // stride
        layers[f"resnet18_layer{stage}_0_conv1"] = ConvLayer(C=c_in, H=size, W=size, M=c, R=3, S=3, stride=stride, pad=1)
        layers[f"resnet18_layer{stage}_0_conv2"] = ConvLayer(C=c, H=out, W=out, M=c, R=3, S=3, pad=1)
        if stride == 2:
            layers[f"resnet18_layer{stage}_0_downsample"] = ConvLayer(C=c_in, H=size, W=size, M=c, R=1, S=1, stride=2)
        for conv in (1, 2):
            layers[f"resnet18_layer{stage}_1_conv{conv}"] = ConvLayer(C=c, H=out, W=out, M=c, R=3, S=3, pad=1)
    return layers


def _vgg16_layers() -> dict[str, ConvLayer]:
    """VGG-16's thirteen 3x3 (pad 1) layers ``vgg16_conv<block>_<i>`` (Simonyan and Zisserman 2015, config D)."""
    layers, c_in, size = {}, 3, 224
    for block, (c, count) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, count + 1):
            layers[f"vgg16_conv{block}_{i}"] = ConvLayer(C=c_in, H=size, W=size, M=c, R=3, S=3, pad=1)
            c_in = c
        size //= 2  # the 2x2 max-pool after each block
    return layers


NAMED_LAYERS.update(_mobilenet_v1_blocks())
NAMED_LAYERS.update(_resnet18_stages())
NAMED_LAYERS.update(_vgg16_layers())

#: Every convolution layer of each network, in execution order, by name in :data:`NAMED_LAYERS`.
NETWORK_LAYERS: dict[str, tuple[str, ...]] = {
    "resnet18": ("resnet18_conv1", *_resnet18_stages()),
    "vgg16": tuple(_vgg16_layers()),
    "mobilenet_v1": ("mobilenet_v1_conv1", *_mobilenet_v1_blocks()),
}


def network_layers(net: str) -> dict[str, ConvLayer]:
    """The convolution layers of network ``net`` (a key of :data:`NETWORK_LAYERS`), in order."""
    if net not in NETWORK_LAYERS:
        raise ValueError(f"network {net!r} is not one of {', '.join(NETWORK_LAYERS)}")
    return {name: NAMED_LAYERS[name] for name in NETWORK_LAYERS[net]}
