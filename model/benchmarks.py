"""Benchmarks of the pure-numpy model: the golden convolution, reuse distances, accelerator quality, energy.

Each figure is a ratio measured side by side in one run (median of
repetitions) or an exact model count; the simulator benchmarks and the
summary are :mod:`sim.bench`'s.

1. :func:`bench_golden` -- vectorised ``conv2d_int`` against the literal loop
   nest (small layer) and against a float64 im2col + BLAS convolution (large layer).
2. :func:`bench_reuse` -- ``model.reuse``'s O(N log N) reuse distances against
   its naive reference, in accesses per second.
3. :func:`bench_quality` -- PE utilisation and cycles against the ideal
   ``ceil(MACs/PEs)`` for OS and WS on real layers (:func:`model.perf.predict`),
   layers scaled down to fit the buffers where needed.
4. :func:`bench_energy` -- energy per inference of a small CNN at 8, 4 and 1
   bits from :mod:`model.energy`.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np

from model.config import AcceleratorConfig, Dataflow
from model.conv import conv2d_int, conv2d_loops
from model.data import random_operands
from model.energy import accelerator_energy, total
from model.layer import NAMED_LAYERS, ConvLayer
from model.perf import predict
from model.quant.network import layer_shapes
from model.reuse import benchmark as reuse_benchmark
from model.tiling import plan

__all__ = [
    "GOLDEN_SMALL", "GOLDEN_LARGE", "QUALITY_LAYERS", "median_seconds", "conv2d_blas", "bench_golden",
    "bench_reuse", "scale_to_fit", "bench_quality", "bench_energy",
]

#: Layer for the loop-nest comparison (the loop nest runs in pure Python).
GOLDEN_SMALL = ConvLayer(C=8, H=12, W=12, M=8, R=3, S=3, pad=1)
#: Layer for the BLAS comparison (ResNet-18 conv4: 116 M MACs).
GOLDEN_LARGE = NAMED_LAYERS["resnet18_conv4"]
#: Real layers of the quality section, by their names in :data:`model.layer.NAMED_LAYERS`.
QUALITY_LAYERS = (
    "lenet5_conv1", "lenet5_conv2",
    "resnet18_conv1", "resnet18_conv2", "resnet18_conv3_down", "resnet18_conv4", "resnet18_conv5",
    "mobilenet_pw",
)


def median_seconds(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn()`` (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv2d_blas(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Float64 convolution the usual fast way: im2col (a strided view) and one BLAS matrix product.

    The baseline of :func:`bench_golden`: what a numpy user would write with no
    exactness guarantee. Layouts NCHW x MCRS -> NMEF, float64.
    """
    M, C, R, S = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (R, S), axis=(2, 3))[:, :, ::stride, ::stride]
    N, _, E, F = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N * E * F, C * R * S)
    out = cols @ w.reshape(M, C * R * S).astype(np.float64).T
    return out.reshape(N, E, F, M).transpose(0, 3, 1, 2)


def bench_golden(small: ConvLayer = GOLDEN_SMALL, large: ConvLayer = GOLDEN_LARGE, *, bits: int = 8,
                 repeat: int = 5, seed: int = 1) -> dict:
    """Time ``conv2d_int`` against ``conv2d_loops`` (small) and :func:`conv2d_blas` (large), same operands.

    Returns
    -------
    dict
        Per comparison the layer, MACs, median seconds of each side and the
        speed-up of ``conv2d_int`` (``> 1`` means faster); the results are
        checked equal first.
    """
    rng = np.random.default_rng(seed)
    xs, ws = random_operands(small, bits, rng)
    xl, wl = random_operands(large, bits, rng)
    if not np.array_equal(conv2d_int(xs, ws, small.stride, small.pad), conv2d_loops(xs, ws, small.stride, small.pad)):
        raise AssertionError("conv2d_int and conv2d_loops disagree on the benchmark layer")
    if not np.array_equal(conv2d_int(xl, wl, large.stride, large.pad),
                          conv2d_blas(xl, wl, large.stride, large.pad).astype(np.int64)):
        raise AssertionError("conv2d_int and the BLAS convolution disagree on the benchmark layer")
    t_int_s = median_seconds(lambda: conv2d_int(xs, ws, small.stride, small.pad), repeat)
    t_loops = median_seconds(lambda: conv2d_loops(xs, ws, small.stride, small.pad), max(1, repeat // 2))
    t_int_l = median_seconds(lambda: conv2d_int(xl, wl, large.stride, large.pad), repeat)
    t_blas = median_seconds(lambda: conv2d_blas(xl, wl, large.stride, large.pad), repeat)
    return {
        "vs_loops": {"layer": str(small), "macs": small.macs, "conv2d_int_s": t_int_s, "conv2d_loops_s": t_loops,
                     "speedup": t_loops / t_int_s},
        "vs_blas": {"layer": str(large), "macs": large.macs, "conv2d_int_s": t_int_l, "float64_blas_s": t_blas,
                    "speedup": t_blas / t_int_l},
        "repeat": repeat,
    }


def bench_reuse(n: int = 1_000_000, naive_n: int = 4_000) -> dict:
    """:func:`model.reuse.benchmark` (the O(N log N) reuse distances against the naive reference)."""
    result = reuse_benchmark(n=n, naive_n=naive_n)
    return {**result, "speedup": result["accesses_per_s"] / result["naive_accesses_per_s"]}


def scale_to_fit(configs: list[AcceleratorConfig], layer: ConvLayer, whole_images: bool = False) -> ConvLayer:
    """``layer`` unchanged if it fits every config; else with C and then H, W reduced until it does.

    C is cut to the largest value whose ``C*R*S`` fits ``max_reduction`` (and, with
    ``whole_images``, the weight buffer's lanes); H
    and W are halved (never below the kernel) until the layer can be tiled --
    or, with ``whole_images``, until it runs in passes of whole images (no row
    bands or channel tiles, :attr:`model.tiling.Plan.whole_images`). With ``whole_images``, a plan
    that tiles the channels (its passes accumulate) has C halved instead: a smaller image does not
    remove a channel tile, and the planner may prefer one even where whole images would fit.
    """
    for _ in range(32):
        try:
            plans = [plan(config, layer) for config in configs]
        except ValueError as err:
            plans, error = None, err
        else:
            split = [c for c, p in zip(configs, plans) if not p.whole_images]
            if not (whole_images and split):
                return layer
            error = ValueError(f"{layer} runs in bands or channel tiles on {split[0]}")
        # whole images: one filter's reduction words must fit a weight-buffer lane, as before tiling
        limit = min(min(c.max_reduction, c.weight_depth * c.channels_per_word) if whole_images else c.max_reduction
                    for c in configs)
        channel_tiles = plans is not None and any(s.accumulate for p in plans for s in p.passes)
        if layer.reduction > limit:
            layer = dataclasses.replace(layer, C=max(1, limit // (layer.R * layer.S)))
        elif channel_tiles and layer.C > 1:
            layer = dataclasses.replace(layer, C=(layer.C + 1) // 2)
        elif layer.H > layer.R or layer.W > layer.S:
            layer = dataclasses.replace(layer, H=max(layer.R, (layer.H + 1) // 2), W=max(layer.S, (layer.W + 1) // 2))
        else:
            raise error
    raise ValueError(f"could not scale {layer} to fit the configurations")


def bench_quality(base: AcceleratorConfig | None = None, layers=QUALITY_LAYERS) -> dict:
    """Utilisation and cycles against ``ceil(MACs/PEs)`` for OS and WS, from :func:`model.perf.predict`.

    Parameters
    ----------
    base : AcceleratorConfig, optional
        The build (default preset); its dataflow is replaced by each of OS and WS.
    layers : iterable of str
        Names in :data:`model.layer.NAMED_LAYERS`.

    Returns
    -------
    dict
        ``{layer name: {"layer", "scaled", "macs", "ideal_cycles", "os": {...}, "ws": {...}}}``
        with per dataflow ``cycles``, ``naive_cycles``, ``utilization``, ``vs_ideal`` (cycles / ideal)
        and ``passes`` (:mod:`sim.bench` adds RTL spot checks).
    """
    base = base or AcceleratorConfig.preset("default")
    configs = {df.value: base.replace(dataflow=df) for df in Dataflow}
    out: dict = {}
    for name in layers:
        layer = scale_to_fit(list(configs.values()), NAMED_LAYERS[name])
        row = {"layer": str(layer), "scaled": layer != NAMED_LAYERS[name], "macs": layer.macs}
        for df, config in configs.items():
            p = predict(config, layer)
            row["ideal_cycles"] = p.ideal_cycles
            row[df] = {"cycles": p.cycles, "naive_cycles": p.naive_cycles, "utilization": p.utilization,
                       "vs_ideal": p.cycles / p.ideal_cycles, "passes": p.passes}
        out[name] = row
    return out


def bench_energy(base: AcceleratorConfig | None = None, bits=(8, 4, 1), table: str = "eyeriss") -> dict:
    """Energy of one inference of the small digits CNN (:mod:`model.quant.network`) per bit width.

    Every layer of the network (its two conv layers and the dense layer, which
    is a 2x2 conv of the last feature map) runs on the accelerator; the
    energy comes from :func:`model.energy.accelerator_energy` of the
    analytical model's counters.

    Returns
    -------
    dict
        ``{"table", "layers", "bits": {bits: {"total", "per_layer", "relative_to_8bit"}}}`` in
        units of ``table`` (``eyeriss``: one 16-bit MAC; ``horowitz``: pJ).
    """
    base = base or AcceleratorConfig.preset("default")
    layers = layer_shapes(1)
    out: dict = {"table": table, "layers": [str(layer) for layer in layers], "bits": {}}
    for b in bits:
        config = base.replace(bits=b)
        per_layer = {str(layer): total(accelerator_energy(config, predict(config, layer).counters, table))
                     for layer in layers}
        out["bits"][str(b)] = {"total": sum(per_layer.values()), "per_layer": per_layer}
    ref = out["bits"].get("8", {}).get("total")
    for entry in out["bits"].values():
        entry["relative_to_8bit"] = entry["total"] / ref if ref else None
    return out
