"""Random co-simulation regression: random configurations, random layers that fit them, RTL vs model.

A regression of ``n`` cases with master seed ``seed`` is fully determined by
those two numbers:

1. :func:`draw_configs` draws one configuration per ten cases (both
   dataflows, every bit width 1..16 in turn, arrays 1x1..16x16 including
   non-square ones, register-file depths from 2 up, buffer depths from their
   minimum up but small, so Verilator builds stay quick);
2. :func:`draw_layer` draws, for each case, a layer of one of :data:`KINDS`
   (1x1 kernel, kernel as large as the padded input, stride > 1, padding,
   C=1, M=1, N>1, several passes through the global buffer, or unconstrained)
   that fits the configuration (:func:`model.tiling.plan` accepts it) and is
   small enough to simulate quickly;
3. every case runs on Verilator; a tenth also runs on Icarus: the cheapest
   case of each configuration in turn (Icarus simulates ~100 times slower);
4. jobs are grouped by (configuration, simulator), so each design is built
   once and simulated once for all its layers, and the groups are fanned out
   (:mod:`sim.fanout`: a local process pool, a local Dask cluster or an
   existing Dask scheduler). The work is deterministic, so every engine gives
   the same records; a group whose worker died twice fails its runs with the
   reason.

The summary counts runs, configurations and mismatches and gives, for each
mismatch, one ``qconv sim`` command that reproduces it.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import AcceleratorConfig, Dataflow
from model.layer import ConvLayer
from model.perf import predict
from model.tiling import plan
from model.validate import check_int
from sim.design_check import DesignMismatch
from sim.fanout import Engine, FanOut, fan_out
from sim.runner import BuildFailed, build, run
from sim.simulators import SimulatorMissing

__all__ = [
    "Case", "KINDS", "REGRESS_ROOT", "CASES_PER_CONFIG", "MAX_HOST_WORDS", "MAX_CYCLES", "ICARUS_MAX_CYCLES", "draw_configs", "draw_layer", "draw_cases", "layer_features",
    "reproduce_command", "run_cases", "regress", "format_summary",
]

#: Where regression builds and the summary go (git-ignored).
REGRESS_ROOT = Path("build") / "regress"

#: Layer kinds drawn in turn, so every kind appears in every regression of a dozen cases or more.
KINDS = ("any", "1x1", "kernel_as_input", "stride", "pad", "C=1", "M=1", "N>1", "multi_pass")

#: Cases per configuration: each configuration is one build, which dominates the run time.
CASES_PER_CONFIG = 10

#: Largest simulated work per case: host-port words moved and accelerator cycles.
MAX_HOST_WORDS = 1500
MAX_CYCLES = 30000

#: Share of the cases (the cheapest) that also run on Icarus, and the cycle bound for them (~2k cycles/s).
ICARUS_SHARE = 0.1
ICARUS_MAX_CYCLES = 4000

_ARRAY_SIDES = (1, 2, 3, 4, 5, 6, 7, 8, 11, 16)
_PACKS = (1, 2, 3, 5, 8, 13, 16, 32, 64)


@dataclass(frozen=True)
class Case:
    """One co-simulation: a layer with seeded operands on a configuration, on one simulator."""

    config: AcceleratorConfig
    layer: ConvLayer
    seed: int
    kind: str
    simulator: str = "verilator"


def draw_configs(count: int, rng: np.random.Generator, max_side: int = 16) -> list[AcceleratorConfig]:
    """``count`` distinct random configurations with arrays of at most ``max_side`` rows and columns.

    Bit widths cycle through a shuffled 1..16, dataflows alternate, array
    sides are drawn independently (non-square shapes are the rule). The first
    configuration is the smallest build: a 1x1 array with every depth at its
    minimum; the second has ``max_side`` rows.
    """
    check_int("count", count, 1)
    check_int("max_side", max_side, 1, 16)
    sides = [s for s in _ARRAY_SIDES if s <= max_side]
    widths = [int(b) for b in rng.permutation(np.arange(1, 17))]
    configs: list[AcceleratorConfig] = []
    while len(configs) < count:
        i = len(configs)
        minimum = i == 0
        bits = widths[i % 16]
        rows, cols = int(rng.choice(sides)), int(rng.choice(sides))
        config = AcceleratorConfig(
            dataflow=(Dataflow.WS, Dataflow.OS)[i % 2],
            bits=bits,
            rows=1 if minimum else max_side if i == 1 else rows,
            cols=1 if minimum else cols,
            rf_depth=2 if minimum else int(rng.choice((2, 2, 4, 6, 8))),
            pack=int(rng.choice(_PACKS)) if bits == 1 else 8,
            ifmap_depth=16 if minimum else int(rng.choice((16, 32, 64, 128, 256, 512))),
            weight_depth=1 if minimum else int(rng.choice((2, 3, 8, 16, 27, 50, 64, 128))),
            psum_depth=1 if minimum else int(rng.choice((1, 4, 9, 16, 32, 64, 128, 256))),
        )
        if config not in configs:
            configs.append(config)
    return configs


def _random_layer(config: AcceleratorConfig, kind: str, rng: np.random.Generator) -> ConvLayer:
    """An unchecked candidate layer of ``kind`` (it may not fit ``config``)."""
    ri = lambda lo, hi: int(rng.integers(lo, hi, endpoint=True))  # noqa: E731
    H, W, pad = ri(1, 8), ri(1, 8), ri(0, 1) * ri(0, 2)
    R, S = ri(1, min(5, H + 2 * pad)), ri(1, min(5, W + 2 * pad))
    f = {
        "N": ri(1, 2), "C": ri(1, 2 * config.channels_per_word + 1), "H": H, "W": W,
        "M": ri(1, 2 * config.cols + 1), "R": R, "S": S, "stride": 1 if ri(0, 2) else ri(2, 3), "pad": pad,
    }
    if kind == "1x1":
        f["R"] = f["S"] = 1
    elif kind == "kernel_as_input":
        f["R"], f["S"] = f["H"] + 2 * f["pad"], f["W"] + 2 * f["pad"]
    elif kind == "stride":
        f["stride"] = ri(2, 3)
    elif kind == "pad":
        f["pad"] = ri(1, 2)
    elif kind == "C=1":
        f["C"] = 1
    elif kind == "M=1":
        f["M"] = 1
    elif kind in ("N>1", "multi_pass"):
        f["N"] = ri(2, 4)
    if kind == "multi_pass":
        f["M"] = ri(config.cols + 1, 3 * config.cols)
    return ConvLayer(**f)


def _host_words(prediction) -> int:
    c = prediction.counters
    return c["dram_ifmap_reads"] + c["dram_weight_reads"] + c["dram_psum_writes"]


def draw_layer(config: AcceleratorConfig, kind: str, rng: np.random.Generator, tries: int = 300) -> tuple[ConvLayer, str]:
    """A layer of ``kind`` that fits ``config`` and is cheap to simulate, and the kind it really is.

    Candidates are drawn until one fits (``model.tiling.plan`` accepts it),
    stays within :data:`MAX_HOST_WORDS` and :data:`MAX_CYCLES`, and, for
    ``"multi_pass"``, needs more than one pass. When no candidate of ``kind``
    qualifies in ``tries`` draws (for example a 1-line weight buffer leaves
    only 1x1 single-channel layers), an unconstrained layer is drawn instead
    and the returned kind says ``"any"``; the 1x1x1 layer always fits.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    for attempt_kind in (kind, "any"):
        for _ in range(tries):
            try:
                layer = _random_layer(config, attempt_kind, rng)
                prediction = predict(config, layer)
            except ValueError:
                continue
            if _host_words(prediction) > MAX_HOST_WORDS or prediction.cycles > MAX_CYCLES:
                continue
            if attempt_kind == "multi_pass" and prediction.passes < 2:
                continue
            return layer, attempt_kind
    return ConvLayer(C=1, H=1, W=1, M=1, R=1, S=1), "any"


def draw_cases(n: int, seed: int, max_side: int = 16, configs: int | None = None) -> list[Case]:
    """The ``n`` Verilator cases of a regression plus the Icarus sample (see the module notes).

    ``configs`` configurations are drawn (default: one per :data:`CASES_PER_CONFIG`
    cases, at least two); each is one build, which dominates the run time.
    """
    check_int("n", n, 1)
    check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    configs = draw_configs(configs or max(2, round(n / CASES_PER_CONFIG)), rng, max_side)
    cases = []
    for i in range(n):
        config = configs[i % len(configs)]
        layer, kind = draw_layer(config, KINDS[i % len(KINDS)], rng)
        cases.append(Case(config, layer, int(rng.integers(0, 2**31)), kind))
    # Icarus sample: the cheapest eligible case of each configuration in turn, then the next cheapest, ...
    cycles = {c: predict(c.config, c.layer).cycles for c in cases}
    queues = [sorted((c for c in cases if c.config == config and cycles[c] <= ICARUS_MAX_CYCLES), key=cycles.get)
              for config in configs]
    ranked = [queue[depth] for depth in range(max(map(len, queues))) for queue in queues if depth < len(queue)]
    sample = ranked[:max(1, round(n * ICARUS_SHARE))]
    return cases + [Case(c.config, c.layer, c.seed, c.kind, "icarus") for c in sample]


def layer_features(config: AcceleratorConfig, layer: ConvLayer) -> list[str]:
    """The shape features a case exercises (what the coverage table of the summary counts)."""
    features = []
    checks = {
        "1x1": layer.R == layer.S == 1,
        "kernel_as_input": layer.R == layer.H + 2 * layer.pad or layer.S == layer.W + 2 * layer.pad,
        "stride": layer.stride > 1,
        "pad": layer.pad > 0,
        "C=1": layer.C == 1,
        "M=1": layer.M == 1,
        "N>1": layer.N > 1,
        "multi_pass": len(plan(config, layer).passes) > 1,
        "partial_filter_group": layer.M % config.cols != 0,
        "partial_word": config.binary and layer.C % config.pack != 0,
    }
    features += [name for name, hit in checks.items() if hit]
    return features


def reproduce_command(case: Case) -> str:
    """One ``qconv sim`` command line that re-runs ``case`` alone."""
    c = case.config
    words = [
        "qconv", "sim", "--dataflow", c.dataflow, "--bits", str(c.bits), "--rows", str(c.rows), "--cols", str(c.cols),
        "--rf-depth", str(c.rf_depth), "--pack", str(c.pack), "--ifmap-depth", str(c.ifmap_depth),
        "--weight-depth", str(c.weight_depth), "--psum-depth", str(c.psum_depth),
        "--layer", str(case.layer), "--seed", str(case.seed), "--sim", case.simulator,
    ]
    return shlex.join(words)


def _run_group(group: tuple) -> tuple[list[dict], float]:
    """Build one design and co-simulate its jobs: ``group`` is (configuration, simulator, [(layer, seed)],
    root). The build checks the JSON beside the Verilog; its C++ is compiled at -O0 (the build, not the
    short simulation, dominates). A build that fails fails every job of the group, with the reason."""
    config, simulator, jobs, root = group
    start = time.monotonic()
    try:
        built = build(config, simulator, root=root, cxx_opt="-O0")
    except (BuildFailed, DesignMismatch, SimulatorMissing) as err:  # every job of the group fails, with the reason
        results = [_crashed(layer, seed, f"{type(err).__name__}: {err}") for layer, seed in jobs]
    else:
        results = run(built, jobs)
    return results, time.monotonic() - start


def _crashed(layer: ConvLayer, seed: int, error: str) -> dict:
    """The record of a job that never ran to the end (build failed, worker died)."""
    return {"layer": str(layer), "seed": seed, "pass": False, "outputs_match": False, "error_kind": "crash",
            "error": error}


def _group_seconds(config: AcceleratorConfig, simulator: str, layers: list[ConvLayer]) -> float:
    """Rough wall time of a group, only to order the pool: a Verilator build grows with the PEs and
    register-file contexts and dominates its short simulations; Icarus builds in seconds but
    simulates a few hundred cycles of an 8x8 array per second."""
    size = config.rows * config.cols + config.rows * config.rf_depth
    if simulator == "verilator":
        return 15 + 0.15 * size
    return 3 + sum(predict(config, layer).cycles for layer in layers) * (size + 8) / 50_000


def run_cases(cases: list[Case], how: FanOut = FanOut(), root: Path = REGRESS_ROOT) -> list[dict]:
    """Co-simulate ``cases`` grouped by (configuration, simulator), the groups fanned out as ``how`` says.

    Returns one record per case, in the order of ``cases``: the testbench's
    result plus ``config``, ``simulator``, ``kind``, ``features``,
    ``group_seconds`` and ``reproduce``. A group whose worker died twice
    (:func:`sim.fanout.fan_out`) gives each of its cases a failing record that says so.
    """
    groups: dict[tuple[AcceleratorConfig, str], list[int]] = {}
    for i, case in enumerate(cases):
        groups.setdefault((case.config, case.simulator), []).append(i)
    # Longest groups first, so the workers end evenly.
    order = sorted(groups, key=lambda key: _group_seconds(key[0], key[1], [cases[i].layer for i in groups[key]]),
                   reverse=True)
    items = [(config, simulator, [(cases[i].layer, cases[i].seed) for i in groups[(config, simulator)]], root)
             for config, simulator in order]
    outcomes = fan_out(_run_group, items, how, what="regression", label=_group_label)
    records: list[dict | None] = [None] * len(cases)
    for key, outcome in zip(order, outcomes):
        if outcome.ok:
            results, seconds = outcome.value
        else:
            results = [_crashed(cases[i].layer, cases[i].seed, outcome.error) for i in groups[key]]
            seconds = None
        for i, result in zip(groups[key], results):
            case = cases[i]
            records[i] = {
                **result, "config": case.config.to_dict(), "simulator": case.simulator, "kind": case.kind,
                "features": layer_features(case.config, case.layer),
                "group_seconds": None if seconds is None else round(seconds, 1), "reproduce": reproduce_command(case),
            }
    return records


def _group_label(group: tuple) -> str:
    """A group's name in the progress: ``ws b8 4x4 rf2 verilator, 10 runs``."""
    config, simulator, jobs, _ = group
    return f"{config.dataflow} b{config.bits} {config.rows}x{config.cols} rf{config.rf_depth} {simulator}, {len(jobs)} runs"


def regress(n: int, seed: int, how: FanOut = FanOut(), root: Path = REGRESS_ROOT, max_side: int = 16,
            configs: int | None = None) -> dict:
    """Draw and run a regression on the engine ``how`` says; write ``<root>/summary.json`` and return the summary.

    Returns
    -------
    dict
        ``runs``, ``mismatches``, ``seed``, ``cases``, ``configs``,
        ``icarus_runs``, ``coverage`` (feature -> runs), ``failures`` (the
        records of failing runs, each with ``reproduce``): the same on every
        engine; and how it ran: ``engine``, ``workers`` (None on a remote
        cluster, which has its own) and ``seconds``.
    """
    start = time.monotonic()
    cases = draw_cases(n, seed, max_side, configs)
    records = run_cases(cases, how, root)
    coverage: dict[str, int] = {}
    for record in records:
        for feature in record["features"]:
            coverage[feature] = coverage.get(feature, 0) + 1
    failures = [r for r in records if not r["pass"]]
    summary = {
        "runs": len(records),
        "mismatches": len(failures),
        "seed": seed,
        "cases": n,
        "configs": len({c.config for c in cases}),
        "icarus_runs": sum(c.simulator == "icarus" for c in cases),
        "coverage": dict(sorted(coverage.items())),
        "failures": failures,
        "engine": how.engine.value,
        "workers": None if how.engine is Engine.DASK else how.processes,
        "seconds": round(time.monotonic() - start, 1),
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def format_summary(summary: dict) -> str:
    """The text ``qconv regress`` prints: totals, coverage, mismatches (the same on every engine), one
    reproduce line per mismatch, then where and how long it ran."""
    lines = [
        f"regression seed {summary['seed']}: {summary['runs']} runs ({summary['cases']} cases on Verilator, "
        f"{summary['icarus_runs']} also on Icarus) over {summary['configs']} configurations, "
        f"{summary['mismatches']} mismatches",
        "coverage: " + ", ".join(f"{k} {v}" for k, v in summary["coverage"].items()),
    ]
    for failure in summary["failures"]:
        what = failure.get("error") or (
            f"first output mismatch {failure['first_mismatch']}" if failure.get("first_mismatch")
            else f"counters differ: {', '.join(failure.get('counter_mismatches') or [])}"
        )
        lines.append(f"  FAIL {what}")
        lines.append(f"    {failure['reproduce']}")
    workers = "the cluster's workers" if summary["workers"] is None else f"{summary['workers']} workers"
    lines.append(f"ran on {summary['engine']} ({workers}) in {summary['seconds']} s")
    return "\n".join(lines)
