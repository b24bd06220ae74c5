"""``qconv map --sweep``: map a pure function (the search) over many layers with :mod:`sim.fanout`.

The search (:func:`model.mapping.search`) is pure and deterministic, so the
sweep is a thin fan-out over the layers: a local process pool, a local Dask
cluster or an existing Dask scheduler (:class:`sim.fanout.FanOut`). Every
engine returns the same summaries (``seconds`` aside).
"""

from __future__ import annotations

from model.mapping import search
from sim.fanout import FanOut, Outcome, fan_out

__all__ = ["sweep"]


def _search_summary(job: tuple) -> dict:
    layer, hierarchy, kwargs = job
    return search(layer, hierarchy, **kwargs).summary()


def sweep(layers, hierarchy=None, *, how: FanOut = FanOut(), **kwargs) -> list[Outcome]:
    """Search every layer; one :class:`~sim.fanout.Outcome` per layer, in layer order.

    Parameters
    ----------
    layers : iterable of ConvLayer
        Layers to map.
    hierarchy : Hierarchy, optional
        Shared by all layers.
    how : FanOut
        Where the searches run (default: a local process pool of one process per CPU).
    **kwargs
        Passed on to :func:`~model.mapping.search` (no progress callback).

    Returns
    -------
    list of Outcome
        Each ``value`` is the layer's :meth:`~model.mapping.SearchResult.summary`; a layer whose
        search raised, or whose worker died twice, has the reason in ``error`` instead.
    """
    kwargs = dict(kwargs, progress=None)
    jobs = [(layer, hierarchy, kwargs) for layer in layers]
    return fan_out(_search_summary, jobs, how, what="mapping sweep", label=lambda job: str(job[0]))
