"""A plain text progress bar on stderr (no dependency), for long pure-model computations."""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar"]


class ProgressBar:
    """Callable ``bar(stage, done, total)`` that redraws one line per stage on stderr; silent when disabled."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled, self.start, self.stage = enabled, time.time(), None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage and self.stage is not None:
            sys.stderr.write("\n")
        self.stage = stage
        frac = done / max(total, 1)
        sys.stderr.write(f"\r{stage:<10} [{'#' * int(30 * frac):<30}] {done}/{total} {time.time() - self.start:5.1f}s")
        sys.stderr.flush()

    def close(self) -> None:
        """End the last line."""
        if self.enabled and self.stage is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()
