"""``qconv models``: build the bundled networks (digits CNN, ResNet-18, MobileNet-v1) and quantize them with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

from sim.network_models import MODELS_ROOT, ModelName, build_model


def register(subparsers) -> None:
    """Add the ``models`` sub-command."""
    p = subparsers.add_parser("models", help="write the bundled quantized ONNX models into build/models/")
    # no argparse choices: Python 3.11's argparse checks an omitted nargs="*" positional ([] or its default) against
    # the choices as one value and refuses it; the names are checked in run()
    p.add_argument("names", nargs="*", metavar="NAME", help=f"models to build (default all: {', '.join(m.value for m in ModelName)})")
    p.add_argument("--out", type=Path, default=MODELS_ROOT, help="output folder (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and calibration images (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Build each model; print where it went."""
    known = [m.value for m in ModelName]
    for name in args.names:
        if name not in known:
            raise ValueError(f"model NAME must be one of {', '.join(known)}, not {name!r}")
    for name in args.names or known:
        print(f"wrote {build_model(ModelName(name), args.out, args.seed)}")
    return 0
