"""Training side: straight-through masks, backpropagation, QAT against PTQ, mixed precision, and the study pipeline."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cpu_dispatch import baseline_only_environment

from model.quant import calibrate_rows, choose_bits, fake_quantize, fake_quantize_ste, sign_ste
from model.quant.experiment import weight_bytes
from model.quant.network import LAYERS, Parameters, QuantPlan, init_parameters, loss_and_gradients
from sim.cli import main


def test_ste_mask_passes_inside_the_clip_range_only():
    x = np.linspace(-1.5, 2.5, 401)
    y, mask = fake_quantize_ste(x, 3, "asymmetric", clip=(0.0, 1.0))
    step = 1.0 / 7
    assert np.array_equal(mask, ((x >= -step / 2) & (x <= 1.0 + step / 2)).astype(float))
    assert np.all(y[x < -step / 2] == 0.0) and np.allclose(y[x > 1 + step / 2], 1.0)
    # outside the mask the forward value is pinned: a small move changes nothing
    y2, _ = fake_quantize_ste(x + 1e-3, 3, "asymmetric", clip=(0.0, 1.0))
    assert np.array_equal(y[mask == 0][1:-1], y2[mask == 0][1:-1])
    assert np.array_equal(y, fake_quantize(x, 3, "asymmetric", clip=(0.0, 1.0)))
    s, smask = sign_ste(np.array([-2.0, -1.0, -0.2, 0.0, 0.5, 1.5]))
    assert s.tolist() == [-1, -1, -1, 1, 1, 1] and smask.tolist() == [0, 1, 1, 1, 1, 0]


def test_backpropagation_matches_finite_differences():
    rng = np.random.default_rng(0)
    params = init_parameters(rng)
    x = rng.uniform(0, 1, size=(4, 1, 8, 8))
    labels = np.array([0, 3, 7, 9])
    loss, grads = loss_and_gradients(params, x, labels)
    for i in range(len(LAYERS)):
        for idx in [(0, 0, 1, 1), (LAYERS[i].M - 1, LAYERS[i].C - 1, 0, 1)]:
            plus, minus = params.copy(), params.copy()
            plus.weights[i][idx] += 1e-5
            minus.weights[i][idx] -= 1e-5
            numeric = (loss_and_gradients(plus, x, labels)[0] - loss_and_gradients(minus, x, labels)[0]) / 2e-5
            assert numeric == pytest.approx(grads.weights[i][idx], rel=1e-4, abs=1e-8)


def test_straight_through_zeroes_gradients_of_clipped_weights():
    rng = np.random.default_rng(1)
    params = init_parameters(rng)
    x = rng.uniform(0, 1, size=(4, 1, 8, 8))
    clip = lambda w: fake_quantize_ste(w, 2, "symmetric", "channel", axis=0, calibration="mse")  # noqa: E731
    plan = QuantPlan(weights=(clip,) * 3)
    _, grads = loss_and_gradients(params, x, np.arange(4), plan)
    for i in range(3):
        _, mask = clip(params.weights[i])
        assert 0 < mask.mean() < 1  # MSE clipping really clips at 2 bits
        assert np.all(grads.weights[i][mask == 0] == 0) and np.any(grads.weights[i][mask == 1] != 0)


def test_qat_beats_ptq_at_two_bits():
    """Least squares with correlated features: rounding each weight to its nearest level (PTQ) ignores how the
    errors combine; training through the quantizer (STE, cosine-decayed steps) finds a better 2-bit point."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 16)) @ (np.eye(16) + 0.2 * rng.normal(size=(16, 16)))
    w_true = rng.normal(size=16)
    y = X @ w_true
    loss = lambda w: float(np.mean((X @ w - y) ** 2))  # noqa: E731
    lo, hi = calibrate_rows(w_true[None], 2, "symmetric", "mse")
    clip = (lo[0], hi[0])
    ptq = loss(fake_quantize(w_true, 2, clip=clip))
    w, steps = w_true.copy(), 400
    for k in range(steps):
        wq, mask = fake_quantize_ste(w, 2, clip=clip)
        w -= 0.02 * 0.5 * (1 + np.cos(np.pi * k / steps)) * (X.T @ (X @ wq - y) / len(X)) * mask
    qat = loss(fake_quantize(w, 2, clip=clip))
    assert qat < 0.6 * ptq


def test_mixed_precision_choice():
    sensitivity = [{2: 5.0, 4: 1.0, 8: 0.0}, {2: 0.5, 4: 0.1, 8: 0.0}]
    counts = [8, 64]
    assert choose_bits(sensitivity, counts, 8 + 64) == (8, 8)
    assert choose_bits(sensitivity, counts, 8 + 32) == (8, 4)
    assert choose_bits(sensitivity, counts, 4 + 16) == (4, 2)  # the sensitive small layer keeps more bits
    with pytest.raises(ValueError, match="budget_bytes must be at least 18 .* not 10"):
        choose_bits(sensitivity, counts, 10)
    assert weight_bytes([8, 8, 8]) == sum(int(np.prod(l.weight_shape)) for l in LAYERS)


def test_parameters_cache_round_trip(tmp_path):
    params = init_parameters(np.random.default_rng(3))
    path = tmp_path / "p.npz"
    params.save(path, "key-1")
    again = Parameters.load(path, "key-1")
    assert all(np.array_equal(a, b) for a, b in zip(again.weights + again.biases, params.weights + params.biases))
    assert Parameters.load(path, "key-2") is None
    assert Parameters.load(tmp_path / "missing.npz", "key-1") is None


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``qconv quant --smoke`` run once in this process: its folder and what it printed."""
    out, printed = tmp_path_factory.mktemp("quant_smoke"), io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["quant", "--smoke", "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_quant_command_smoke(smoke_run):
    """The `make quant` code path with tiny training: every file, the JSON schema, integer == fake-quant."""
    tmp_path, printed = smoke_run
    names = {"accuracy.json", "accuracy.md", "accuracy_vs_bits.png", "study.json", "quantization_loss.png",
             "fp32_smoke.npz", "qat4_smoke.npz", "qat2_smoke.npz", "ternary_smoke.npz", "binary_smoke.npz"}
    assert names <= {p.name for p in tmp_path.iterdir()}
    rows = json.loads((tmp_path / "accuracy.json").read_text())
    assert [r["method"] for r in rows].count("ptq") == 12
    assert {r["method"] for r in rows} == {"fp32", "ptq", "qat", "ternary", "binary", "mixed"}
    for r in rows:
        assert set(r) == {"method", "bits", "granularity", "scheme", "accuracy", "weight_bytes"}
        assert 0.0 <= r["accuracy"] <= 1.0 and isinstance(r["weight_bytes"], int)
        assert isinstance(r["bits"], (int, str))
    study = json.loads((tmp_path / "study.json").read_text())
    assert [c["bits"] for c in study["integer_checks"]] == [8, 4, 1]
    assert sorted(study["activation_ranges"]) == ["2", "4", "8"] and len(study["activation_ranges"]["8"]) == 4
    # barely trained networks have near-tied logits, so only the 8-bit network must agree almost everywhere
    assert study["integer_checks"][0]["agreement"] >= 0.95
    assert all(c["agreement"] >= 0.8 for c in study["integer_checks"])
    assert "| method | bits |" in (tmp_path / "accuracy.md").read_text()
    assert "qconv quant took" in printed
    # not a terminal here: one plain line per finished network and epoch, no bar
    assert "study networks: 5/5 binary done" in printed and "training qat4: 1/1 done" in printed
    assert "\r" not in printed


def test_quant_study_is_reproducible_on_another_cpu_and_thread_count(smoke_run, tmp_path):
    """Two runs of the study give the same accuracy.json, study.json and networks, bit for bit, although the
    second runs in a child whose numpy uses only its baseline instructions (no AVX2/AVX-512: numpy's exp and
    log give other last bits there) and one BLAS thread."""
    first, _ = smoke_run
    tests = os.path.dirname(__file__)
    subprocess.run([sys.executable, "-m", "sim", "quant", "--smoke", "--out", str(tmp_path)], check=True,
                   env=baseline_only_environment(), cwd=os.path.dirname(tests), capture_output=True)
    for name in ("accuracy.json", "study.json"):
        assert (tmp_path / name).read_bytes() == (first / name).read_bytes(), name
    for name in ("fp32", "qat4", "qat2", "ternary", "binary"):
        with np.load(first / f"{name}_smoke.npz") as a, np.load(tmp_path / f"{name}_smoke.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            assert all(a[k].tobytes() == b[k].tobytes() for k in a.files), name


def test_quant_command_bad_seed_is_a_clear_error(capsys):
    assert main(["quant", "--seed", "-3", "--smoke"]) == 2
    assert "qconv quant: error: seed must be in >= 0, not -3" in capsys.readouterr().err


def test_docs_get_the_runs_tables_between_their_markers(smoke_run, tmp_path):
    from sim.quant_report import TABLES_BEGIN, TABLES_END, copy_tables

    out, _ = smoke_run
    doc = tmp_path / "quantization.md"
    doc.write_text(f"# Title\n\nbefore\n{TABLES_BEGIN}\n| stale | table |\n{TABLES_END}\nafter\n")
    assert copy_tables(out / "accuracy.md", doc) is True
    text = doc.read_text()
    accuracy_md = (out / "accuracy.md").read_text()
    assert accuracy_md.startswith("# Quantization of the digits CNN\n\n| method | bits |")
    assert text == ("# Title\n\nbefore\n" + TABLES_BEGIN + "\n" + accuracy_md.split("\n", 1)[1].strip("\n") + "\n"
                    + TABLES_END + "\nafter\n")
    assert "stale" not in text
    assert copy_tables(out / "accuracy.md", doc) is False  # a second copy changes nothing
    doc.write_text("no markers here\n")
    with pytest.raises(ValueError, match="needs the line"):
        copy_tables(out / "accuracy.md", doc)


#: The page the study's tables are copied into (``make quant DOCS=docs/quantization.md``).
QUANT_PAGE = Path(__file__).resolve().parent.parent / "docs" / "quantization.md"


def _table_keys(tables: str) -> list:
    """What a run's tables share whatever the training: every header line and each row's labels
    (first cell; for accuracy rows also granularity, scheme, activations), up to the mixed-precision
    paragraph (its bits and the sensitivity widths depend on the run)."""
    keys = []
    for line in tables.split("Mixed precision under")[0].splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("method", "network", "weights (8-bit activations)"):
            keys.append(tuple(cells))
        elif len(cells) == 7:
            keys.append((cells[0], cells[2], cells[3], cells[4]))
        else:
            keys.append((cells[0],))
    return keys


def test_quantization_page_holds_tables_in_the_layout_the_study_writes(smoke_run):
    """docs/quantization.md has the marker lines ``qconv quant --docs`` needs, and between them tables with
    the headers and rows a run writes now (a stale layout, or tables missing, fails)."""
    from sim.quant_report import TABLES_BEGIN, TABLES_END, check_document

    check_document(QUANT_PAGE)
    text = QUANT_PAGE.read_text()
    assert text.count(TABLES_BEGIN) == 1 and text.count(TABLES_END) == 1
    page_tables = text.split(TABLES_BEGIN + "\n", 1)[1].split(TABLES_END, 1)[0]
    out, _ = smoke_run
    run_tables = (out / "accuracy.md").read_text().split("\n", 1)[1]
    assert _table_keys(run_tables)[:1] == [("method", "bits", "granularity", "scheme", "activations", "accuracy",
                                           "weight bytes")]
    assert _table_keys(page_tables) == _table_keys(run_tables)


def test_docs_without_markers_are_refused_before_any_training(tmp_path, capsys):
    doc = tmp_path / "notes.md"
    doc.write_text("# notes\n")
    assert main(["quant", "--smoke", "--out", str(tmp_path), "--docs", str(doc)]) == 2
    assert f"qconv quant: error: {doc} needs the line" in capsys.readouterr().err
    assert main(["quant", "--smoke", "--out", str(tmp_path), "--docs", str(tmp_path / "missing.md")]) == 2
    assert "missing.md: no such file" in capsys.readouterr().err
    assert not (tmp_path / "fp32_smoke.npz").exists()
