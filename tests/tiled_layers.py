"""Small layers that force every kind of tile on a build with small buffers (shared by the hw and cosim tests)."""

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.tiling import plan

#: Small buffers (ifmap 64 words, weights 16 lines, psum 32 lines on a 2x2 array) that force every kind of tile.
TILING = dict(rows=2, cols=2, ifmap_depth=64, weight_depth=16, psum_depth=32)
#: Twice TILING's buffers: the System double-buffers them (model.commands.system_plan), each half
#: TILING's, so its passes cut the layers below exactly as TILING's plan does.
SYSTEM_TILING = dict(TILING, ifmap_depth=128, weight_depth=32, psum_depth=64)
TILED_LAYERS = {
    "row-bands-stride2-pad1": ConvLayer(C=1, H=12, W=6, M=2, R=3, S=3, stride=2, pad=1),
    "column-bands": ConvLayer(C=1, H=3, W=30, M=2, R=3, S=3, pad=1),
    "channels": ConvLayer(C=4, H=4, W=4, M=3, R=3, S=3, pad=1),  # Kw = 36 lines > 16
    "filters": ConvLayer(C=1, H=4, W=4, M=5, R=3, S=3),
    "images": ConvLayer(N=3, C=1, H=5, W=5, M=2, R=3, S=3),
}
BINARY_CHANNELS = ConvLayer(C=20, H=4, W=3, M=3, R=3, S=3, pad=1)  # 3 words of 8, the last with 4 channels
#: A strided 1x1 layer (a ResNet downsample): the System loads every other input row and column only
#: (model.commands.SystemPlan.step); on TILING's buffers it needs row bands and channel tiles.
STRIDED_1X1 = ConvLayer(C=5, H=11, W=13, M=3, R=1, S=1, stride=2)


def tiled_cases(config: AcceleratorConfig) -> dict:
    """The layers of :data:`TILED_LAYERS` (binary: a packed channel split), each checked to need its kind of tile."""
    layers = dict(TILED_LAYERS)
    if config.binary:
        layers["channels"] = BINARY_CHANNELS
    for name, layer in layers.items():
        sizes = plan(config, layer).sizes
        cut = {"row-bands-stride2-pad1": sizes.e < layer.E, "column-bands": sizes.f < layer.F,
               "channels": sizes.cw < -(-layer.C // config.channels_per_word), "filters": sizes.m < layer.M,
               "images": sizes.n < layer.N}[name]
        assert cut, f"{name} should be tiled that way on {config}, plan {sizes}"
    return layers
#: Depthwise layers (model/depthwise.py) on SYSTEM_TILING's buffers, each with the tiles its name says
#: (every one with a partial last channel group, or images): row bands with stride 2 and padding; two
#: images per pass; two channel groups per pass (a 3x1 kernel: 3 weight lines a group).
DEPTHWISE = {
    "depthwise-stride2-pad1": ConvLayer(C=5, H=7, W=6, M=5, R=3, S=3, stride=2, pad=1, groups=5),
    "depthwise-images": ConvLayer(N=2, C=6, H=3, W=2, M=6, R=3, S=1, pad=1, groups=6),
    "depthwise-groups": ConvLayer(C=7, H=3, W=3, M=7, R=3, S=1, groups=7),
}
#: A grouped layer with 1 < groups < C (model/grouped.py) whose column groups hold two groups' filters.
GROUPED = {"grouped-shared-columns": ConvLayer(C=6, H=5, W=4, M=3, R=3, S=3, pad=1, groups=3)}
