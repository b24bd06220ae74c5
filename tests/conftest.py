"""Shared fixtures: simulators are required under CI (CI=true) and skipped with an install hint elsewhere."""

import os

import pytest

from sim.simulators import SimulatorMissing, prepare


@pytest.fixture
def require_simulator():
    """Call with a simulator name: returns when it is usable, else skips (fails under CI=true)."""

    def require(simulator: str) -> None:
        try:
            prepare(simulator)
        except SimulatorMissing as err:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"co-simulation could not run under CI: {err}")
            pytest.skip(str(err))

    return require
