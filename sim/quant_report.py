"""Files of the quantization study: JSON rows, a Markdown table, the accuracy plot and the image picture.

Everything goes under one output folder (``build/quant/`` by default).
Plots use matplotlib's object API on the headless Agg backend.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from model.quant import quantize
from model.quant.experiment import Study, activation_description

__all__ = ["write_study", "markdown_table", "write_image_loss", "check_document", "copy_tables", "IMAGE_BITS",
           "TABLES_BEGIN", "TABLES_END"]

#: Bit widths of the quantization-loss picture.
IMAGE_BITS = (4, 3, 2)
#: Lines around the copy of ``accuracy.md`` in a document (docs/quantization.md): ``qconv quant --docs FILE``
#: replaces what lies between them with the tables of the run it just made.
TABLES_BEGIN = "<!-- tables from build/quant/accuracy.md, copied by `qconv quant --docs`: do not edit by hand -->"
TABLES_END = "<!-- end of the tables from build/quant/accuracy.md -->"


def _cell(value) -> str:
    return str(value).replace("|", "\\|")


def markdown_table(study: Study) -> str:
    """The study as Markdown: the accuracy table, then the integer-only check, calibrations and mixed precision."""
    lines = ["| method | bits | granularity | scheme | activations | accuracy | weight bytes |",
             "|---|---|---|---|---|---|---|"]
    for r in study.rows:
        cells = (r["method"], r["bits"], r["granularity"], r["scheme"], activation_description(r))
        lines.append("| " + " | ".join(_cell(c) for c in cells)
                     + f" | {100 * r['accuracy']:.2f}% | {r['weight_bytes']} |")
    lines += ["", "Integer-only inference (the bit-exact golden model: integer convolutions, requantization) "
              "against the fake-quantized float model of the same network:", "",
              "| network | integer-only accuracy | fake-quantized accuracy | same prediction |", "|---|---|---|---|"]
    for c in study.integer_checks:
        lines.append(f"| {c['method']} {c['bits']}-bit | {100 * c['integer_accuracy']:.2f}% | "
                     f"{100 * c['fake_quant_accuracy']:.2f}% | {100 * c['agreement']:.2f}% |")
    lines += ["", "| weights (8-bit activations) | accuracy |", "|---|---|"]
    lines += [f"| {r['weights']} | {100 * r['accuracy']:.2f}% |" for r in study.calibration_rows]
    mixed = study.mixed_assignment
    lines += ["", f"Mixed precision under a budget of {mixed['budget_bytes']} weight bytes: "
              + ", ".join(f"{k} {v} bits" for k, v in mixed["bits"].items())
              + f" ({mixed['weight_bytes']} bytes). Sensitivity (calibration-loss increase, one layer quantized):",
              "", "| layer | " + " | ".join(f"{b} bits" for b in next(iter(study.sensitivity.values()))) + " |",
              "|---|" + "---|" * len(next(iter(study.sensitivity.values())))]
    for name, costs in study.sensitivity.items():
        lines.append(f"| {name} | " + " | ".join(f"{c:.4f}" for c in costs.values()) + " |")
    return "\n".join(lines) + "\n"


def _plot_accuracy(study: Study, path: Path) -> None:
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rows = study.rows
    fp32 = next(r for r in rows if r["method"] == "fp32")
    ax.axhline(100 * fp32["accuracy"], color="black", linestyle="--", label="fp32")
    for granularity in ("tensor", "channel"):
        for scheme in ("symmetric", "asymmetric"):
            sel = [r for r in rows if r["method"] == "ptq" and r["granularity"] == granularity and r["scheme"] == scheme]
            ax.plot([r["bits"] for r in sel], [100 * r["accuracy"] for r in sel], marker="o",
                    label=f"PTQ per-{granularity} {scheme}")
    qat = [r for r in rows if r["method"] == "qat"]
    ax.plot([r["bits"] for r in qat], [100 * r["accuracy"] for r in qat], marker="s", linewidth=2, label="QAT per-channel")
    total = fp32["weight_bytes"] / 4
    for method, marker in (("ternary", "^"), ("binary", "v"), ("mixed", "D")):
        for r in (r for r in rows if r["method"] == method):
            x = np.log2(3) if method == "ternary" else 8 * r["weight_bytes"] / total
            ax.plot([x], [100 * r["accuracy"]], marker=marker, linestyle="none", markersize=9,
                    label=f"{method} ({r['bits']})" if method == "mixed" else method)
    ax.set_xlabel("weight bits (mixed: average)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("digits CNN: accuracy against bits")
    ax.set_xticks([1, 2, 3, 4, 5, 6, 7, 8])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_study(study: Study, out: Path) -> list[Path]:
    """Write ``accuracy.json``, ``accuracy.md``, ``accuracy_vs_bits.png`` and ``study.json`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "accuracy.json", out / "accuracy.md", out / "accuracy_vs_bits.png", out / "study.json"]
    paths[0].write_text(json.dumps(study.rows, indent=2) + "\n")
    paths[1].write_text("# Quantization of the digits CNN\n\n" + markdown_table(study))
    _plot_accuracy(study, paths[2])
    extra = {f.name: getattr(study, f.name) for f in dataclasses.fields(study) if f.name != "rows"}
    paths[3].write_text(json.dumps(extra, indent=2) + "\n")
    return paths


def write_image_loss(image: np.ndarray, out: Path, name: str) -> Path:
    """The image and its asymmetric per-colour-channel quantization at :data:`IMAGE_BITS`, side by side.

    Parameters
    ----------
    image : ndarray
        H x W x 3, uint8.
    out : Path
        Folder; the picture is ``quantization_loss.png``.
    name : str
        Where the image comes from (for the title).
    """
    out.mkdir(parents=True, exist_ok=True)
    x = image.astype(np.float64) / 255.0
    fig = Figure(figsize=(4 * (1 + len(IMAGE_BITS)), 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 1 + len(IMAGE_BITS))
    axes[0].imshow(x)
    axes[0].set_title(f"original (8 bits), {name}")
    for ax, bits in zip(axes[1:], IMAGE_BITS):
        y = np.clip(quantize(x, bits, "asymmetric", "channel", axis=2).dequantize(), 0.0, 1.0)
        psnr = 10 * np.log10(1.0 / np.mean((y - x) ** 2))
        ax.imshow(y)
        ax.set_title(f"{bits} bits per channel, PSNR {psnr:.1f} dB")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    path = out / "quantization_loss.png"
    fig.savefig(path, dpi=100)
    return path


def _table_span(text: str, document: Path) -> tuple[int, int]:
    """Where the copied tables go in ``text``: after the begin marker, up to the end marker."""
    begin, end = text.find(TABLES_BEGIN), text.find(TABLES_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{document} needs the line {TABLES_BEGIN!r} and, after it, {TABLES_END!r}")
    return begin + len(TABLES_BEGIN), end


def check_document(document: Path) -> None:
    """Raise ``ValueError`` unless ``document`` is a file with the marker lines :func:`copy_tables` needs."""
    if not document.is_file():
        raise ValueError(f"{document}: no such file")
    _table_span(document.read_text(), document)


def copy_tables(accuracy_md: Path, document: Path) -> bool:
    """Copy the tables of ``accuracy_md`` (all of it but its title) between :data:`TABLES_BEGIN` and
    :data:`TABLES_END` in ``document``; returns whether the document changed.

    Raises
    ------
    ValueError
        If ``document`` lacks either marker line, or has them out of order.
    """
    tables = accuracy_md.read_text().split("\n", 1)[1].strip("\n")
    text = document.read_text()
    begin, end = _table_span(text, document)
    new = text[:begin] + "\n" + tables + "\n" + text[end:]
    document.write_text(new)
    return new != text
