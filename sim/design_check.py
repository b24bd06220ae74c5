"""Check that a generated design is the one asked for: its JSON sidecar and its Verilog ports.

Amaranth's Verilog carries no parameters, so the testbench learns the
configuration from the JSON written beside the Verilog. A stale or hand-edited
JSON, or a Verilog file generated for another configuration, would make the
testbench drive the wrong widths and compare against the wrong model. Before
simulating, :func:`check_design` therefore checks three things and raises
:class:`DesignMismatch` naming the field, the value found and the value
expected:

1. the JSON parses and its ``derived`` block matches its settings
   (:meth:`model.config.AcceleratorConfig.from_json`);
2. every setting in the JSON equals the configuration asked for;
3. the ports of module ``qconv_top`` in the Verilog have the widths that
   configuration implies (operand word, accumulator, descriptor, counters,
   host address and lane).
"""

from __future__ import annotations

from pathlib import Path

from model.config import AcceleratorConfig
from model.perf import COUNTERS
from model.program import desc_bits
from sim.verilog_ports import verilog_ports

__all__ = ["DesignMismatch", "COUNTER_BITS", "expected_ports", "check_design"]

#: Width of every ``count_<name>`` port (SPEC_RTL.md).
COUNTER_BITS = 48


class DesignMismatch(ValueError):
    """The Verilog, its JSON sidecar and the configuration asked for do not agree."""


def expected_ports(config: AcceleratorConfig) -> dict[str, tuple[str, int, str]]:
    """Port name -> (direction, width, ``"=="`` exact or ``">="`` at least) that ``config`` implies."""
    deepest = max(config.ifmap_depth, config.weight_depth, config.psum_depth)
    ports = {
        "start": ("input", 1, "=="),
        "done": ("output", 1, "=="),
        "desc": ("input", desc_bits(config), "=="),
        "host_sel": ("input", 2, "=="),
        "host_addr": ("input", max(1, (deepest - 1).bit_length()), ">="),
        "host_lane": ("input", max(1, (config.cols - 1).bit_length()), ">="),
        "host_wdata": ("input", config.word_bits, "=="),
        "host_we": ("input", 1, "=="),
        "host_re": ("input", 1, "=="),
        "host_rdata": ("output", config.acc_bits, "=="),
    }
    ports.update({f"count_{name}": ("output", COUNTER_BITS, "==") for name in COUNTERS})
    return ports


def check_design(verilog: Path, config_json: Path, config: AcceleratorConfig) -> None:
    """Raise :class:`DesignMismatch` unless ``verilog`` and ``config_json`` are the design of ``config``.

    Parameters
    ----------
    verilog : Path
        The generated ``qconv_top.v``.
    config_json : Path
        The configuration JSON beside it (``config.to_json()`` when generated).
    config : AcceleratorConfig
        The configuration the caller means to simulate.
    """
    verilog, config_json = Path(verilog), Path(config_json)
    for path in (verilog, config_json):
        if not path.is_file():
            raise DesignMismatch(f"{path} does not exist")
    try:
        found = AcceleratorConfig.from_json(config_json.read_text())
    except (ValueError, TypeError) as err:
        raise DesignMismatch(f"{config_json}: {err}") from None
    for field, wanted in config.to_dict().items():
        got = getattr(found, field)
        if got != wanted:
            raise DesignMismatch(
                f"{config_json} (beside {verilog.name}) has {field}={got!r}, but the configuration asked for "
                f"has {field}={wanted!r}: regenerate the design"
            )
    try:
        ports = {p.name: (p.direction, p.width) for p in verilog_ports(verilog.read_text())}
    except ValueError as err:
        raise DesignMismatch(f"{verilog}: {err}") from None
    for name, (direction, width, relation) in expected_ports(config).items():
        if name not in ports:
            raise DesignMismatch(f"{verilog} has no {direction} port {name!r}, which the configuration needs")
        got_direction, got_width = ports[name]
        ok = got_width == width if relation == "==" else got_width >= width
        if got_direction != direction or not ok:
            need = f"{width}" if relation == "==" else f"at least {width}"
            raise DesignMismatch(
                f"{verilog}: port {name} is a {got_width}-bit {got_direction}, but {config_json.name} "
                f"(bits={config.bits}, acc_bits={config.acc_bits}, word_bits={config.word_bits}) "
                f"needs a {need}-bit {direction}"
            )
