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
3. the ports of the top module in the Verilog are exactly the contract's
   (:func:`model.contract.top_ports`): names, directions and widths.
"""

from __future__ import annotations

from pathlib import Path

from model.config import AcceleratorConfig
from model.contract import TOP_NAME, top_ports
from sim.verilog_ports import verilog_ports

__all__ = ["DesignMismatch", "check_design"]


class DesignMismatch(ValueError):
    """The Verilog, its JSON sidecar and the configuration asked for do not agree."""


def check_design(verilog: Path, config_json: Path, config: AcceleratorConfig) -> None:
    """Raise :class:`DesignMismatch` unless ``verilog`` and ``config_json`` are the design of ``config``.

    Parameters
    ----------
    verilog : Path
        The generated top-level Verilog.
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
        got = found.to_dict()[field]
        if got != wanted:
            raise DesignMismatch(
                f"{config_json} (beside {verilog.name}) has {field}={got!r}, but the configuration asked for "
                f"has {field}={wanted!r}: regenerate the design"
            )
    try:
        ports = {p.name: (p.direction, p.width) for p in verilog_ports(verilog.read_text(), TOP_NAME)}
    except ValueError as err:
        raise DesignMismatch(f"{verilog}: {err}") from None
    for name, (direction, width) in top_ports(config).items():
        if name not in ports:
            raise DesignMismatch(f"{verilog} has no {direction} port {name!r}, which the configuration needs")
        got_direction, got_width = ports[name]
        if (got_direction, got_width) != (direction, width):
            raise DesignMismatch(
                f"{verilog}: port {name} is a {got_width}-bit {got_direction}, but {config_json.name} "
                f"(bits={config.bits}, acc_bits={config.acc_bits}, word_bits={config.word_bits}) "
                f"needs a {width}-bit {direction}"
            )
    extra = sorted(set(ports) - set(top_ports(config)))
    if extra:
        raise DesignMismatch(f"{verilog} has port(s) {extra} that the configuration does not have")
