"""model.quant.portable_math: close to numpy's exp/log/cos, and the same bits whatever vector units numpy uses."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from model.quant import portable_math as pm
from cpu_dispatch import baseline_only_environment


def _ulps(got, want):
    got, want = np.asarray(got), np.asarray(want)
    ok = np.isfinite(want) & (want != 0)
    return float(np.max(np.abs(got[ok] - want[ok]) / np.spacing(np.abs(want[ok]))))


def _inputs():
    rng = np.random.default_rng(0)
    return {
        "exp": np.concatenate([rng.uniform(-745, 709.7, 20_000), rng.uniform(-1, 1, 20_000), rng.uniform(-40, 0, 20_000)]),
        # (no np.power here: it is one of the CPU-dependent functions, and the inputs must be the same bits)
        "log": np.concatenate([np.ldexp(rng.uniform(0.5, 1, 20_000), rng.integers(-1000, 1000, 20_000)),
                               rng.uniform(0.5, 2, 20_000)]),
        "cos": np.concatenate([rng.uniform(-4, 4, 20_000), np.pi * np.arange(1000) / 1000, rng.uniform(-1e5, 1e5, 1000)]),
    }


def test_exp_and_log_within_a_few_units_in_the_last_place_of_numpy():
    x = _inputs()
    assert _ulps(pm.exp(x["exp"]), np.exp(x["exp"])) <= 2
    assert _ulps(pm.log(x["log"]), np.log(x["log"])) <= 4
    # cos near its zeros is tiny, so the error is absolute there
    assert np.max(np.abs(pm.cos(x["cos"]) - np.cos(x["cos"]))) <= 4e-16


def test_special_values():
    assert pm.exp([0.0]).tolist() == [1.0]
    got = pm.exp([np.nan, np.inf, -np.inf, 710.0, -746.0])
    assert np.isnan(got[0]) and got[1:].tolist() == [np.inf, 0.0, np.inf, 0.0]
    assert pm.exp([-744.5])[0] == np.exp(-744.5) > 0  # into the subnormals
    got = pm.log([0.0, -1.0, np.inf, np.nan, 1.0, 5e-324])
    assert got[0] == -np.inf and np.isnan(got[1]) and got[2] == np.inf and np.isnan(got[3])
    assert got[4] == 0.0 and got[5] == pytest.approx(np.log(5e-324), rel=1e-15)
    assert pm.cos([0.0, np.pi]).tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match=r"cos takes finite \|x\| <= 1e5, not 200000.0"):
        pm.cos([2e5])


def _hashes() -> dict:
    import hashlib
    return {name: hashlib.sha256(getattr(pm, name)(x).tobytes()).hexdigest() for name, x in _inputs().items()}


def test_same_bits_with_numpy_on_its_baseline_instructions():
    """A child whose numpy may use none of its vector extensions (as on an older CPU) gets the same bits."""
    code = "import json, test_portable_math as t; print(json.dumps(t._hashes()))"
    child = subprocess.run([sys.executable, "-c", code], env=baseline_only_environment(), capture_output=True,
                           text=True, check=True, cwd=os.path.dirname(__file__))
    assert json.loads(child.stdout) == _hashes()
