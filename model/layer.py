"""Convolution layer shapes: the seven loop bounds N, M, C, E, F, R, S and their text form.

One set of dimension letters is used everywhere in the project:
N batch, C input channels, H x W input size, M filters (output channels),
R x S kernel, E x F output size. Activations are NCHW, weights MCRS, outputs NMEF.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from model.validate import check_int

__all__ = ["ConvLayer", "NAMED_LAYERS", "parse_layer"]

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

    Raises
    ------
    ValueError
        If a field is out of range or the kernel is larger than the padded
        input (which would give an empty output rather than an error).
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

    def __post_init__(self) -> None:
        for name in ("N", "C", "H", "W", "M", "R", "S", "stride"):
            check_int(name, getattr(self, name), 1, _DIM_MAX)
        check_int("pad", self.pad, 0, _DIM_MAX)
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
    def reduction(self) -> int:
        """Length of each output's dot product, ``C * R * S``."""
        return self.C * self.R * self.S

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the seven-loop nest, ``N*M*E*F*C*R*S``."""
        return self.N * self.M * self.E * self.F * self.reduction

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Activation shape, NCHW."""
        return (self.N, self.C, self.H, self.W)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """Weight shape, MCRS."""
        return (self.M, self.C, self.R, self.S)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """Output shape, NMEF."""
        return (self.N, self.M, self.E, self.F)

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready)."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.to_dict().items())

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
        pairs with keys N, C, H, W, M, R, S, stride, pad (N, stride and pad
        may be left out: 1, 1 and 0).

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
    # ResNet-18 (He et al. 2016), 224x224 input.
    "resnet18_conv1": ConvLayer(C=3, H=224, W=224, M=64, R=7, S=7, stride=2, pad=3),
    "resnet18_conv2": ConvLayer(C=64, H=56, W=56, M=64, R=3, S=3, pad=1),
    "resnet18_conv3_down": ConvLayer(C=64, H=56, W=56, M=128, R=1, S=1, stride=2),
    "resnet18_conv4": ConvLayer(C=256, H=14, W=14, M=256, R=3, S=3, pad=1),
    "resnet18_conv5": ConvLayer(C=512, H=7, W=7, M=512, R=3, S=3, pad=1),
    # VGG-16 (Simonyan and Zisserman 2015).
    "vgg16_conv1_1": ConvLayer(C=3, H=224, W=224, M=64, R=3, S=3, pad=1),
    "vgg16_conv3_1": ConvLayer(C=128, H=56, W=56, M=256, R=3, S=3, pad=1),
    # MobileNet-style pointwise (1x1) layer.
    "mobilenet_pw": ConvLayer(C=64, H=14, W=14, M=64, R=1, S=1),
    # Layers whose sizes are not multiples of the array: the utilisation targets.
    "small_3x3": ConvLayer(C=8, H=16, W=16, M=16, R=3, S=3),
    "cifar_5x5": ConvLayer(C=3, H=32, W=32, M=32, R=5, S=5),
}
