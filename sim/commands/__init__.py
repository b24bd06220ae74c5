"""Sub-commands of ``qconv``: each module defines ``register(subparsers)``; :mod:`sim.cli` finds them."""
