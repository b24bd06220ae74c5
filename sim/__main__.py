"""``python -m sim``: the same as the ``qconv`` command."""

from sim.cli import main

raise SystemExit(main())
