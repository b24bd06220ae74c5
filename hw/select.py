"""Indexed selection written as a tree of 2-way multiplexers (Icarus-safe Verilog).

Amaranth lowers ``Array(values)[index]`` to a process: Yosys writes it as an ``always @*`` with a
``casez``. Icarus 11 runs an ``always @*`` only when one of the signals it reads changes after time 0
(the initializer of Yosys' ``dump_module`` trigger register runs before the process waits, so it wakes
nothing). When every input of such a block is a register that keeps its reset value (a register-file
entry that accumulates 0 + 0, or is loaded with 0, while the select stays 0), the block never runs and
its output stays X: the X then spreads into the next accumulation. ``select`` builds the same function
from ``Mux`` cells, which Yosys writes as continuous ``assign`` statements, evaluated at time 0.
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value

__all__ = ["select"]


def select(values, index):
    """``values[index]``, or 0 when ``index >= len(values)`` (as ``Array(values)[index]``), as a mux tree."""
    values = [Value.cast(v) for v in values]
    index = Value.cast(index)
    if not values:
        raise ValueError("select() needs at least one value")
    bits = min(len(index), (len(values) - 1).bit_length())
    values = values[:2 ** bits]                     # entries the index cannot reach
    level = values + [Const(0, 1)] * (2 ** bits - len(values))
    for b in range(bits):
        level = [Mux(index[b], level[k + 1], level[k]) for k in range(0, len(level), 2)]
    result = level[0]
    if 2 ** len(index) > len(values):
        result = Mux(index < len(values), result, 0)
    return result
