"""``qconv quant``: the quantization study of a small CNN on scikit-learn's bundled 8x8 digits.

Trains the float network (cached under the output folder), measures FP32,
PTQ, QAT, ternary, binary and mixed-precision accuracy with weight memory,
checks the 8-bit integer-only network, and writes ``accuracy.json``,
``accuracy.md``, ``accuracy_vs_bits.png``, ``study.json`` and
``quantization_loss.png`` (scikit-learn's sample photo at 4, 3, 2 bits).
Everything loads offline from installed packages.
"""

from __future__ import annotations

import time
from pathlib import Path

from model.quant.experiment import StudySettings, float_cache_key, run_study, split_data, train_float
from model.quant.network import Parameters, accuracy
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
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the study and write its files; prints the table."""
    start = time.perf_counter()
    settings = StudySettings(seed=args.seed, **(SMOKE if args.smoke else {}))
    from sklearn.datasets import load_digits, load_sample_image  # slow to import: only once the arguments are good

    from sim.quant_report import markdown_table, write_image_loss, write_study

    digits = load_digits()
    x_train, y_train, x_test, y_test = split_data(digits.images, digits.target, settings)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / ("fp32_smoke.npz" if args.smoke else "fp32.npz")
    key = float_cache_key(settings)
    params = None if args.retrain else Parameters.load(cache, key)
    if params is None:
        print(f"training the float network ({settings.float_schedule.epochs} epochs, {len(x_train)} images)")
        params = train_float(x_train, y_train, settings)
        params.save(cache, key)
    else:
        print(f"float network from {cache}")
    print(f"fp32 test accuracy {100 * accuracy(params, x_test, y_test):.2f}% on {len(x_test)} held-out images")
    study = run_study(params, x_train, y_train, x_test, y_test, settings)
    paths = write_study(study, args.out, repr(settings))
    paths.append(write_image_loss(load_sample_image("china.jpg"), args.out, "sklearn china.jpg"))
    print(markdown_table(study))
    for path in paths:
        print(f"wrote {path}")
    print(f"qconv quant took {time.perf_counter() - start:.1f} s")
    return 0
