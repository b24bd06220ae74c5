"""Throughput of a synthesised build on a layer: ``GMAC/s = PEs x MACs per PE-cycle x Fmax x utilisation``.

The utilisation is the exact one of the analytical model
(:func:`model.perf.predict`: the layer's MACs over cycles x MAC lanes, the
controller's cycles from the first issue to ``done``, host transfers not
counted), so the figure is what the routed clock gives on that layer. A PE
performs one MAC per cycle, or ``pack`` XNOR-popcount MACs when binary.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.config import AcceleratorConfig
from model.layer import NAMED_LAYERS, ConvLayer, parse_layer
from model.perf import predict
from model.tiling import plan
from model.benchmarks import scale_to_fit

__all__ = ["DEFAULT_LAYERS", "Workload", "throughput", "workload"]

#: Layers tried in turn when none is named: the first that fits the build's buffers whole (whole
#: images, no row bands or channel tiles: the runs the synthesis figures were measured on) is used;
#: when none does, the last one is scaled down until it does (C, then H and W).
DEFAULT_LAYERS = ("resnet18_conv2", "small_3x3")


def _fits(config: AcceleratorConfig, layer: ConvLayer) -> bool:
    """Whether ``layer`` runs on ``config`` in passes of whole images (no row bands, no channel tiles)."""
    try:
        return plan(config, layer).whole_images
    except ValueError:
        return False


@dataclass(frozen=True)
class Workload:
    """The layer a throughput figure is for: its name as asked, its shape and whether it was scaled.

    Parameters
    ----------
    name : str
        A name of :data:`model.layer.NAMED_LAYERS` or a spelled-out layer (``"C=8,H=16,..."``).
    layer : ConvLayer
        The shape run (the named one, or a scaled-down copy when ``scaled``).
    scaled : bool
        True when ``layer`` is ``name`` scaled down to fit the build's buffers.
    """

    name: str
    layer: ConvLayer
    scaled: bool

    def to_dict(self) -> dict:
        """``{"name", "shape", "scaled"}`` (the shape as :func:`model.layer.parse_layer` reads it)."""
        return {"name": self.name, "shape": str(self.layer), "scaled": self.scaled}


def workload(config: AcceleratorConfig, name: str | None = None) -> Workload:
    """The layer to measure ``config`` on: ``name`` if given, else the first of :data:`DEFAULT_LAYERS` that fits.

    Raises
    ------
    ValueError
        If ``name`` is given and does not fit ``config`` (a named layer is never
        scaled: the figure would not be for the layer asked for), or cannot be parsed.
    """
    if name is not None:
        layer = parse_layer(name)
        try:
            plan(config, layer)
        except ValueError as err:
            raise ValueError(f"layer {name!r} does not fit this build, so it has no throughput: {err}") from None
        return Workload(name, layer, scaled=False)
    for candidate in DEFAULT_LAYERS:
        if _fits(config, NAMED_LAYERS[candidate]):
            return Workload(candidate, NAMED_LAYERS[candidate], scaled=False)
    last = DEFAULT_LAYERS[-1]
    return Workload(last, scale_to_fit([config], NAMED_LAYERS[last], whole_images=True), scaled=True)


def throughput(config: AcceleratorConfig, fmax_mhz: float | None, work: Workload) -> dict:
    """Utilisation and GMAC/s of ``config`` clocked at ``fmax_mhz`` on ``work``.

    Returns
    -------
    dict
        ``layer`` (:meth:`Workload.to_dict`), ``macs``, ``cycles``, ``utilisation``,
        ``peak_gmacs`` (every MAC lane busy) and ``gmacs``, both None when ``fmax_mhz`` is None.
    """
    prediction = predict(config, work.layer)
    lanes = config.pes * config.channels_per_word  # a PE multiplies one word: 1 channel, or pack when binary
    peak = None if fmax_mhz is None else lanes * fmax_mhz / 1e3
    return {
        "layer": work.to_dict(),
        "macs": prediction.macs,
        "cycles": prediction.cycles,
        "utilisation": prediction.utilization,
        "peak_gmacs": peak,
        "gmacs": None if peak is None else peak * prediction.utilization,
    }
