"""``qconv quant``: the quantization study of a small CNN on scikit-learn's bundled 8x8 digits.

Trains the study's networks (:mod:`model.quant.trained`, cached under the
output folder), measures FP32, PTQ, QAT, ternary, binary and mixed-precision
accuracy with weight memory, checks the integer-only networks, and writes
``accuracy.json``, ``accuracy.md``, ``accuracy_vs_bits.png``, ``study.json``
and ``quantization_loss.png`` (scikit-learn's sample photo at 4, 3, 2 bits).
Everything loads offline from installed packages. Progress (networks, epochs)
goes to the terminal as bars, or as one line per finished item in logs.
"""

from __future__ import annotations

import time
from pathlib import Path

from model.quant.experiment import StudySettings, run_study
from model.quant.trained import FINE_TUNED, Network, TrainedNetworks, split_digits
from model.quant.training import Schedule

#: Tiny schedules for a quick end-to-end check of the pipeline (``--smoke``).
SMOKE = dict(train_limit=96, test_limit=90, calibration_images=32, float_schedule=Schedule(epochs=1),
             finetune_schedule=Schedule(epochs=1, lr=0.01), binary_schedule=Schedule(epochs=1, lr=0.02),
             mixed_bits=(2, 4, 8))


def register(subparsers) -> None:
    """Add the ``quant`` sub-command."""
    p = subparsers.add_parser("quant", help="quantization study of a digits CNN: accuracy table and plots")
    p.add_argument("--out", type=Path, default=Path("build/quant"), help="output folder (default build/quant)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, weights and batch order")
    p.add_argument("--smoke", action="store_true", help="tiny training runs: checks the pipeline, not the accuracy")
    p.add_argument("--retrain", action="store_true", help="train the float network even if a cached copy matches")
    p.add_argument("--docs", type=Path, nargs="+", default=[], metavar="FILE",
                   help="copy the run's tables (accuracy.md) into these Markdown files, between their marker lines")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the study and write its files; prints the table."""
    start = time.perf_counter()
    settings = StudySettings(seed=args.seed, **(SMOKE if args.smoke else {}))
    from sim.quant_report import check_document, copy_tables, markdown_table, write_image_loss, write_study

    for doc in args.docs:
        check_document(doc)  # before minutes of training
    from sklearn.datasets import load_digits, load_sample_image  # slow to import: only once the arguments are good

    from sim.progress import track

    digits = load_digits()
    # The study fine-tunes afresh (its numbers are the point); the float network is reused unless --retrain.
    retrain = tuple(Network) if args.retrain else FINE_TUNED
    networks = TrainedNetworks(split_digits(digits.images, digits.target, settings), settings, args.out,
                               retrain=retrain, track=track, suffix="_smoke" if args.smoke else "")
    study = run_study(networks, track)
    paths = write_study(study, args.out)
    paths += [networks.path(name) for name in Network]
    paths.append(write_image_loss(load_sample_image("china.jpg"), args.out, "sklearn china.jpg"))
    print(markdown_table(study))
    for path in paths:
        print(f"wrote {path}")
    for doc in args.docs:
        print(f"{'updated' if copy_tables(paths[1], doc) else 'unchanged'} {doc} (tables of {paths[1]})")
    print(f"qconv quant took {time.perf_counter() - start:.1f} s")
    return 0
