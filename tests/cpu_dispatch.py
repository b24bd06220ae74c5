"""A child Python whose numpy uses only its baseline instructions: how the same code runs on an older CPU.

numpy picks vector code (AVX2, AVX-512, ...) at start-up by the CPU, unless
``NPY_DISABLE_CPU_FEATURES`` names features to leave out; leaving out every
dispatched one gives the baseline build. ``OPENBLAS_NUM_THREADS=1`` also
changes the number of BLAS threads from the parent's.
"""

import os

import numpy as np

__all__ = ["baseline_only_environment", "dispatched_features"]


def dispatched_features() -> list[str]:
    """The CPU features numpy may dispatch to on this machine, beyond its baseline."""
    return list(np._core._multiarray_umath.__cpu_dispatch__)


def baseline_only_environment() -> dict:
    """This process's environment, with numpy limited to its baseline and BLAS to one thread."""
    return {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(dispatched_features()), "OPENBLAS_NUM_THREADS": "1"}
