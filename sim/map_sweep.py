"""``qconv map --sweep``: map a pure function (the search) over many layers, locally or on a cluster.

The search (:func:`model.mapping.search`) is pure and deterministic, so the
sweep is a thin parallel map over the layers: a local process pool, an
existing Dask scheduler or an existing Ray cluster (both optional imports).
Every engine returns the same summaries (``seconds`` aside).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from model.mapping import search

__all__ = ["sweep"]


def _search_summary(job: tuple) -> dict:
    layer, hierarchy, kwargs = job
    return search(layer, hierarchy, **kwargs).summary()


def sweep(layers, hierarchy=None, *, address: str | None = None, workers: int | None = None, **kwargs) -> list[dict]:
    """Search every layer; returns :meth:`~model.mapping.SearchResult.summary` dicts in layer order.

    Parameters
    ----------
    layers : iterable of ConvLayer
        Layers to map.
    hierarchy : Hierarchy, optional
        Shared by all layers.
    address : str, optional
        ``None``: a local process pool. ``"dask://host:port"`` (or
        ``"tcp://..."``): an existing Dask scheduler. ``"ray://host:port"`` or
        ``"ray:auto"``: an existing Ray cluster.
    workers : int, optional
        Size of the local pool (default: the CPU count).
    **kwargs
        Passed on to :func:`~model.mapping.search` (no progress callback).
    """
    kwargs = dict(kwargs, progress=None)
    jobs = [(layer, hierarchy, kwargs) for layer in layers]
    if address is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_search_summary, jobs))
    if address.startswith("ray"):
        try:
            import ray
        except ImportError:
            raise ImportError(f"address {address!r} needs Ray: pip install 'ray[default]'") from None
        ray.init(address=None if address == "ray:auto" else address, ignore_reinit_error=True)
        remote = ray.remote(_search_summary)
        return ray.get([remote.remote(j) for j in jobs])
    try:
        from dask.distributed import Client
    except ImportError:
        raise ImportError(f"address {address!r} needs Dask: pip install 'dask[distributed]'") from None
    with Client(address.replace("dask://", "tcp://")) as client:
        return client.gather(client.map(_search_summary, jobs, pure=False))
