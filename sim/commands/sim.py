"""``qconv sim``: run a conv layer and check it against the golden model.

Until the RTL lands (issue 3) this runs the golden model only and says so:
the vectorised convolution is checked against an independent float64
computation of the same layer.
"""

from __future__ import annotations

import numpy as np

from model.conv import conv2d_float, conv2d_layer
from model.data import random_operands
from sim.cli import add_config_args, add_layer_arg, config_from_args, layer_from_args


def register(subparsers) -> None:
    """Add the ``sim`` sub-command."""
    p = subparsers.add_parser("sim", help="run a layer and check it against the golden model")
    add_config_args(p)
    add_layer_arg(p)
    p.add_argument("--seed", type=int, default=1, help="seed of the random operands")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the golden model on seeded data; exit status 1 on a mismatch."""
    config = config_from_args(args)
    layer = layer_from_args(args)
    x, w = random_operands(layer, config.bits, np.random.default_rng(args.seed))
    out = conv2d_layer(x, w, layer, config.bits)
    xs, ws = (2 * x - 1, 2 * w - 1) if config.binary else (x, w)
    ref = conv2d_float(xs.astype(np.float64), ws.astype(np.float64), layer.stride, layer.pad)
    ok = bool(np.array_equal(out, np.rint(ref).astype(np.int64)))
    print("NOTE: the RTL does not exist yet: golden model only (no simulator ran).")
    print(f"layer   {layer}")
    print(f"config  {config.rows}x{config.cols} {config.dataflow} bits={config.bits} acc_bits={config.acc_bits}")
    print(f"MACs    {layer.macs}")
    print(f"golden vs float64 reference: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1

