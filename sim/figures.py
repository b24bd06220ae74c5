"""Figures of the loop-nest analysis and of the layer runs (matplotlib object API, headless Agg canvas).

Each function takes plain data (from :mod:`model.reuse`, :mod:`model.mapping`, ``qconv layers``)
and writes one PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["reuse_histograms", "hit_rate_curves", "energy_bars", "pareto_scatter", "layer_cycles"]

_TENSOR_COLORS = {"input": "tab:blue", "weights": "tab:orange", "output": "tab:green", "all": "tab:gray"}


def _save(fig: Figure, path: Path, **margins) -> Path:
    """Render with fixed margins (``subplots_adjust`` arguments): much cheaper than a tight layout."""
    FigureCanvasAgg(fig)
    fig.subplots_adjust(**({"left": 0.08, "right": 0.97, "bottom": 0.13, "top": 0.88} | margins))
    fig.savefig(path, dpi=100)
    return path


def reuse_histograms(per_order: dict, path: Path, title: str) -> Path:
    """Reuse-distance histograms, one panel per loop order, bars stacked by tensor.

    ``per_order[label] = (edges, {tensor: counts}, cold)`` with power-of-two bins.
    """
    n = len(per_order)
    cols = 2
    rows = -(-n // cols)
    fig = Figure(figsize=(6 * cols, 3.4 * rows))
    for i, (label, (edges, counts, cold)) in enumerate(per_order.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        x = np.arange(len(edges))
        bottom = np.zeros(len(edges))
        for tensor, c in counts.items():
            ax.bar(x, c, bottom=bottom, color=_TENSOR_COLORS.get(tensor), label=tensor)
            bottom += c
        ax.set_xticks(x)
        ax.set_xticklabels(["0"] + [f"{e}" if e < 1024 else f"{e >> 10}k" for e in edges[1:]], rotation=90, fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("reuse distance (bin lower edge, powers of two)")
        ax.set_ylabel("accesses")
        ax.set_title(f"{label}   ({cold} first touches)", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, bottom=0.14, top=0.9, hspace=0.6, wspace=0.2)


def hit_rate_curves(curves: dict, path: Path, title: str) -> Path:
    """LRU hit rate against buffer capacity (words), one line per loop order."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    for label, curve in curves.items():
        k = np.arange(1, len(curve))
        ax.plot(k, curve[1:], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("fully associative LRU buffer capacity (words)")
    ax.set_ylabel("hit rate")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path, left=0.11)


def energy_bars(breakdowns: dict, path: Path, title: str, unit: str) -> Path:
    """Energy per level (MAC, REG, RF, NoC, GLB, DRAM), stacked by tensor, one panel per mapping."""
    levels = ["MAC", "REG", "RF", "NoC", "GLB", "DRAM"]
    fig = Figure(figsize=(3.2 * len(breakdowns), 4.2))
    top = max(max(sum(b.get(lv, {}).values()) for lv in levels) for b in breakdowns.values())
    for i, (label, b) in enumerate(breakdowns.items()):
        ax = fig.add_subplot(1, len(breakdowns), i + 1)
        x = np.arange(len(levels))
        bottom = np.zeros(len(levels))
        for tensor in ("all", "input", "weights", "output"):
            v = np.array([b.get(lv, {}).get(tensor, 0.0) for lv in levels])
            if v.any():
                ax.bar(x, v, bottom=bottom, color=_TENSOR_COLORS[tensor], label="MAC" if tensor == "all" else tensor)
                bottom += v
        ax.set_xticks(x)
        ax.set_xticklabels(levels)
        ax.set_ylim(0, top * 1.1)
        total = sum(sum(per.values()) for per in b.values())
        ax.set_title(f"{label}: {total:.3g} {unit}", fontsize=9)
        if i == 0:
            ax.set_ylabel(f"energy ({unit})")
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, left=0.05, right=0.99, top=0.82, wspace=0.25)


def pareto_scatter(points: np.ndarray, front: np.ndarray, marks: dict, path: Path, title: str, unit: str) -> Path:
    """Energy against cycles of every scored mapping, the Pareto front, and labelled marks."""
    fig = Figure(figsize=(7, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(points[:, 0], points[:, 1], s=8, alpha=0.35, color="tab:gray", label="scored mappings")
    f = points[front]
    ax.step(f[:, 0], f[:, 1], where="post", color="tab:red", label="Pareto front")
    ax.scatter(f[:, 0], f[:, 1], s=18, color="tab:red")
    for (label, (e, c)), marker in zip(marks.items(), "s^vD*"):
        ax.scatter([e], [c], s=70, marker=marker, label=label, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"energy ({unit})")
    ax.set_ylabel("cycles")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return _save(fig, path, left=0.14, bottom=0.11, top=0.88)


def layer_cycles(rows: list[dict], path: Path, title: str) -> Path:
    """Cycles per layer of a ``qconv layers`` run, split into the array computing and stalled (waiting
    for data), against each layer's roofline (a tick); one bar per layer that ran, in order.

    ``rows``: ``{"layer", "compute", "stall", "roofline"}`` cycles each.
    """
    fig = Figure(figsize=(max(6.0, 0.45 * len(rows) + 2), 4.4))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(rows))
    compute = np.array([r["compute"] for r in rows], float)
    stall = np.array([r["stall"] for r in rows], float)
    ax.bar(x, compute, color="tab:blue", label="computing")
    ax.bar(x, stall, bottom=compute, color="tab:red", label="stalled")
    ax.scatter(x, [r["roofline"] for r in rows], marker="_", s=300, color="black", zorder=3, label="roofline")
    ax.set_xticks(x)
    ax.set_xticklabels([r["layer"] for r in rows], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("cycles")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path, left=0.08, right=0.99, bottom=0.38, top=0.9)
