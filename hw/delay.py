"""Delay lines: a value registered a fixed number of clock cycles, for pipeline alignment."""

from __future__ import annotations

from amaranth.hdl import Signal

__all__ = ["delay"]


def delay(m, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers in ``m``'s sync domain (``value`` itself for 0).

    The registers are named ``<name>_d1`` .. ``<name>_d<cycles>``, so the generated Verilog
    (and the fault patterns of :mod:`sim.faults`) can find them.
    """
    for c in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{c + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value
