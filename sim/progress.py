"""Progress of long work: a bar on a terminal, one plain line per finished item in logs.

On a terminal, :func:`track` shows a `tqdm <https://tqdm.github.io>`_ bar with
what is running, done/total, the time spent and the time left. When the
output is not a terminal, or the ``CI`` environment variable is set (CI logs,
``make ... | tee``, pytest's capture), a bar's carriage returns would garble
the log, so each finished item prints one line instead::

    training qat4: 3/8 done (4.2 s, about 7.0 s left)
    study networks: 2/4 qat2 done (25.1 s, about 25.1 s left)

Bars opened while another is open (the epochs of one network inside the
study's list of networks) are cleared when they finish; the outermost stays.
"""

from __future__ import annotations

import enum
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

__all__ = ["ProgressMode", "StageProgress", "choose_mode", "track"]

T = TypeVar("T")

#: Bars open right now (an inner bar is cleared when it ends, the outermost is kept).
_open_bars = 0


class ProgressMode(enum.StrEnum):
    """How :func:`track` reports: a live bar, or one line per finished item."""

    BAR = "bar"
    LINES = "lines"


def choose_mode(stream: TextIO, environ=os.environ) -> ProgressMode:
    """A bar when ``stream`` is a terminal and ``CI`` is unset (or empty), else plain lines."""
    return ProgressMode.BAR if stream.isatty() and not environ.get("CI") else ProgressMode.LINES


def _seconds(t: float) -> str:
    return f"{t:.1f} s" if t < 90 else f"{t / 60:.1f} min"


def track(items: Iterable[T], what: str, total: int | None = None, *, mode: ProgressMode | None = None,
          stream: TextIO | None = None) -> Iterator[T]:
    """Yield ``items`` unchanged, reporting each one as finished when the next is asked for.

    Parameters
    ----------
    items : iterable
        The work, in the order it is done (or the order it completes, for a fan-out).
    what : str
        What is running, e.g. ``"training qat4"``.
    total : int, optional
        Number of items (default ``len(items)`` when it has one); gives done/total and the time left.
    mode : ProgressMode, optional
        Force a bar or lines; default :func:`choose_mode` of ``stream``.
    stream : file, optional
        Where progress goes (default ``sys.stderr`` for a bar, ``sys.stdout`` for lines, so that a
        log captures the lines with the rest of the output).

    Yields
    ------
    object
        Each item of ``items``. A string item (a name) is shown: in the bar while it runs, in its
        line once done.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if mode is None:
        mode = choose_mode(stream if stream is not None else sys.stderr)
    mode = ProgressMode(mode)
    if mode is ProgressMode.BAR:
        yield from _bar(items, what, total, stream if stream is not None else sys.stderr)
    else:
        yield from _lines(items, what, total, stream if stream is not None else sys.stdout)


def _bar(items: Iterable[T], what: str, total: int | None, stream: TextIO) -> Iterator[T]:
    global _open_bars
    _open_bars += 1
    try:
        with tqdm(items, desc=what, total=total, file=stream, leave=_open_bars == 1,
                  dynamic_ncols=True) as bar:
            # redrawn every second, so the time runs on while an item takes long and the bar comes back
            # after a line another process wrote over it (a worker's build message)
            stop = threading.Event()
            refresher = threading.Thread(target=_refresh, args=(bar, stop), daemon=True)
            refresher.start()
            try:
                for item in bar:
                    if isinstance(item, str):
                        bar.set_postfix_str(item, refresh=False)
                    yield item
            finally:
                stop.set()
                refresher.join()
    finally:
        _open_bars -= 1


def _refresh(bar: tqdm, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        bar.refresh()


def _lines(items: Iterable[T], what: str, total: int | None, stream: TextIO) -> Iterator[T]:
    start = time.perf_counter()
    for done, item in enumerate(items, 1):
        yield item
        spent = time.perf_counter() - start
        count = f"{done}/{total}" if total is not None else f"{done}"
        name = f" {item}" if isinstance(item, str) else ""
        left = f", about {_seconds(spent / done * (total - done))} left" if total is not None else ""
        print(f"{what}: {count}{name} done ({_seconds(spent)}{left})", file=stream, flush=True)


class StageProgress:
    """The ``progress(stage, done, total)`` hook of model code (e.g. :func:`model.mapping.search`), shown
    as :func:`track` shows items: a bar per stage on a terminal, else one line when each stage ends.

    Call :meth:`close` when the work is done (it ends the last stage), or use it as a context manager.
    """

    def __init__(self, mode: ProgressMode | None = None, stream: TextIO | None = None):
        self._mode = ProgressMode(mode) if mode is not None else choose_mode(stream if stream is not None else sys.stderr)
        self._stream = stream
        self._stage, self._done, self._total, self._bar = None, 0, 0, None
        self._start = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage, self._start = stage, time.perf_counter()
            if self._mode is ProgressMode.BAR:
                self._bar = tqdm(desc=stage, total=total, file=self._stream or sys.stderr, dynamic_ncols=True)
        self._done, self._total = done, total
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)

    def __enter__(self) -> "StageProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End the current stage: close its bar, or print its line."""
        if self._stage is None:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            print(f"{self._stage}: {self._done}/{self._total} done ({_seconds(time.perf_counter() - self._start)})",
                  file=self._stream or sys.stdout, flush=True)
        self._stage = None
