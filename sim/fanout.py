"""Fan-out: one picklable function over many items, on a local process pool or a Dask cluster.

Three engines (:class:`Engine`), chosen by :class:`FanOut` (from the command
line: :func:`add_fanout_args`, :func:`fanout_from_args`):

* ``pool`` (default): a local process pool of ``workers`` processes;
* ``dask-local`` (``--dask local``): a ``distributed.LocalCluster`` of
  ``workers`` single-threaded worker processes, started for the run;
* ``dask`` (``--address tcp://HOST:8786``): an existing Dask scheduler and its
  workers, on any machines.

Whatever the engine, :func:`fan_out` returns one :class:`Outcome` per item,
**in item order**: the function's value, or why it failed. Worker processes
start afresh (``spawn``, as Dask's do), so the function and its items must be
importable and picklable there; the work being deterministic, every engine
returns the same values.

A worker that dies mid-item (a crash, ``os._exit``, the OOM killer) costs the
item one attempt: it is run once more, and if its worker dies again it is
reported as failed (``Outcome.error``), never silently dropped. On the pool,
a dying worker breaks the whole pool, so every item that was running then is
run again alone in a fresh process (an item that was merely beside the
culprit passes there); on a local cluster the scheduler reschedules the item
(``distributed.scheduler.allowed-failures = 1``, one task per worker at a
time, so a neighbour is never blamed). On a remote cluster the scheduler's own
``allowed-failures`` applies (default 3). An exception raised by the function
is not retried (deterministic work would raise again): it is the item's error.

Progress goes through :func:`sim.progress.track`: one step per finished item.
"""

from __future__ import annotations

import enum
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from model.validate import check_int
from sim.progress import track as default_track

__all__ = ["Engine", "FanOut", "Outcome", "fan_out", "local_cluster", "add_fanout_args", "fanout_from_args"]


class Engine(enum.StrEnum):
    """Where the items run."""

    POOL = "pool"
    DASK_LOCAL = "dask-local"
    DASK = "dask"


@dataclass(frozen=True, kw_only=True)
class FanOut:
    """How to fan out.

    Attributes
    ----------
    engine : Engine
        ``pool``, ``dask-local`` or ``dask``.
    workers : int, optional
        Processes of the pool or of the local cluster (default: the CPUs this process may use);
        not used with ``dask`` (the cluster has its own).
    address : str, optional
        The scheduler, ``tcp://HOST:PORT``: required by ``dask``, refused otherwise.
    """

    engine: Engine = Engine.POOL
    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine", Engine(self.engine))
        if self.workers is not None:
            check_int("workers", self.workers, 1)
        if self.engine is Engine.DASK:
            if not (isinstance(self.address, str) and self.address.startswith("tcp://")
                    and self.address.removeprefix("tcp://")):
                raise ValueError(f"address must be a Dask scheduler tcp://HOST:PORT, not {self.address!r}")
        elif self.address is not None:
            raise ValueError(f"address is for engine 'dask' only, not {self.engine.value!r}")

    @property
    def processes(self) -> int:
        """Worker processes of the pool or local cluster."""
        return self.workers or len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Outcome:
    """What became of one item: its value, or the reason it failed."""

    item: Any
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the function returned a value for the item."""
        return self.error is None


def fan_out(fn: Callable[[Any], Any], items: Iterable, how: FanOut = FanOut(), *, what: str = "items",
            label: Callable[[Any], str] = str, track=default_track) -> list[Outcome]:
    """Map ``fn`` over ``items`` on the engine ``how`` says; one :class:`Outcome` per item, in item order.

    Parameters
    ----------
    fn : callable
        A module-level (picklable, importable) function of one item.
    items : iterable
        Picklable items.
    how : FanOut
        Engine and its size or address.
    what : str
        What the progress shows as running (e.g. ``"regression"``).
    label : callable
        An item's name in the progress (default ``str``).
    track : callable
        The progress reporter (:func:`sim.progress.track`).
    """
    items = list(items)
    outcomes: list[Outcome | None] = [None] * len(items)
    if how.engine is Engine.POOL:
        finished = _on_pool(fn, items, how.processes, outcomes)
    else:
        finished = _on_dask(fn, items, how, outcomes)
    for _ in track((label(items[i]) for i in finished), what, len(items)):
        pass
    return outcomes


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _on_pool(fn, items: list, workers: int, outcomes: list) -> Iterator[int]:
    """Run on process pools, at most ``workers`` items at a time; yield each index as it is settled."""
    pending = list(range(len(items)))[::-1]  # popped from the end: item order
    pool = _spawn_pool(workers)
    running: dict[Future, int] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                i = pending.pop()
                running[pool.submit(fn, items[i])] = i
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                # a worker died: the pool is gone, and with it every item that was running
                suspects = sorted(running.values())
                for f in running:
                    if f.done() and not isinstance(f.exception(), BrokenProcessPool):
                        outcomes[running[f]] = _settled(items[running[f]], f)
                        suspects.remove(running[f])
                        yield running[f]
                running.clear()
                pool.shutdown(wait=True)
                for i in suspects:
                    outcomes[i] = _alone(fn, items[i])
                    yield i
                pool = _spawn_pool(workers)
                continue
            for f in done:
                i = running.pop(f)
                outcomes[i] = _settled(items[i], f)
                yield i
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _settled(item, future: Future) -> Outcome:
    error = future.exception()
    return Outcome(item, future.result()) if error is None else Outcome(item, error=f"{type(error).__name__}: {error}")


def _alone(fn, item) -> Outcome:
    """The second attempt of an item whose worker died: alone in a fresh process."""
    with _spawn_pool(1) as pool:
        future = pool.submit(fn, item)
        wait([future])
    if isinstance(future.exception(), BrokenProcessPool):
        return Outcome(item, error="its worker process died twice while running it (retried once)")
    return _settled(item, future)


def _on_dask(fn, items: list, how: FanOut, outcomes: list) -> Iterator[int]:
    """Run on a local or remote Dask cluster; yield each index as it is settled."""
    import dask
    from distributed import Client, as_completed

    # one task per single-threaded worker at a time, and one more try after a worker died under it
    policy = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(policy):
        if how.engine is Engine.DASK_LOCAL:
            cluster = local_cluster(how.processes)
            client = Client(cluster)
        else:
            cluster = None
            try:
                client = Client(how.address, timeout="20s")
            except OSError as err:
                raise ValueError(f"address {how.address!r}: no Dask scheduler answers there ({err})") from None
        try:
            futures = client.map(fn, items, pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            # results are fetched as each finishes: a result left on a worker that later dies (killed by
            # another item) would be lost, and recomputed, before a later fetch
            for future, value in as_completed(futures, with_results=True, raise_errors=False):
                i = index[future.key]
                if future.status == "error":
                    error = future.exception()
                    outcomes[i] = Outcome(items[i], error=f"{type(error).__name__}: {error}")
                else:
                    outcomes[i] = Outcome(items[i], value)
                yield i
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def local_cluster(workers: int):
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes, no dashboard.

    The scheduler's HTTP server (health and metrics, always started) takes a free port on localhost
    rather than 8787, so two clusters (or another user's) never collide.
    """
    from distributed import LocalCluster

    check_int("workers", workers, 1)
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})


def add_fanout_args(parser) -> None:
    """Add ``--workers``, ``--dask local`` and ``--address tcp://HOST:PORT`` to an argparse parser."""
    group = parser.add_argument_group("fan-out (default: a local process pool)")
    group.add_argument("--workers", type=int, help="processes of the pool or local cluster (default: the CPUs)")
    group.add_argument("--dask", choices=("local",), help="run on a local Dask cluster (distributed.LocalCluster)")
    group.add_argument("--address", help="run on the Dask scheduler at tcp://HOST:PORT")


def fanout_from_args(args) -> FanOut:
    """The :class:`FanOut` that :func:`add_fanout_args` options chose (validated)."""
    if args.dask and args.address:
        raise ValueError(f"--dask local and --address {args.address} exclude each other: pick one")
    if args.address and args.workers is not None:
        raise ValueError(f"--workers sizes a local pool or cluster; the cluster at {args.address} has its own")
    if args.address:
        return FanOut(engine=Engine.DASK, address=args.address)
    return FanOut(engine=Engine.DASK_LOCAL if args.dask else Engine.POOL, workers=args.workers)
