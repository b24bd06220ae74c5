"""Layouts and the sequencer-to-issue interface of the controller."""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from model.config import AcceleratorConfig
from model.contract import desc_fields, dim_bits

__all__ = ["desc_layout", "context_layout", "SlotSignature", "ScheduleSignature"]


def desc_layout(config: AcceleratorConfig) -> data.StructLayout:
    """The ``desc`` port of the design built for ``config``: :func:`model.contract.desc_fields`, LSB first."""
    return data.StructLayout({name: unsigned(width) for name, width in desc_fields(config)})


def context_layout(config: AcceleratorConfig, group_inputs: bool = False) -> data.StructLayout:
    """A fold context: filter group, fold index, register-file half and buffer bases.

    ``wbase``: the group's first weight line; ``pbase``: its first psum line; ``p0``: the fold's first
    pixel (OS); ``last_group``: the group is the pass's last (it may be partial). With ``group_inputs``
    (a weight-stationary build that runs depthwise passes) also ``ibase``: the group's input's first
    ifmap line (group 0's: the descriptor's, each next one ``gstride`` on).
    """
    dim = dim_bits(config)
    return data.StructLayout({
        "valid": 1, "half": 1, "fold": dim, "group": dim, "last_group": 1, "wbase": dim, "pbase": dim, "p0": dim,
        **({"ibase": dim} if group_inputs else {}),
    })


class SlotSignature(wiring.Signature):
    """Position of one slot counter of a period: ``inner`` in ``[0, inner_n)``, then ``outer``.

    ``on``: a slot issues this cycle; ``inner_last``: ``inner`` is at its last value; ``last``:
    this slot is the activity's last of the period.
    """

    def __init__(self, inner_n: int, dim: int):
        super().__init__({
            "inner": Out(range(max(inner_n, 2))), "outer": Out(dim),
            "on": Out(1), "inner_last": Out(1), "last": Out(1),
        })


class ScheduleSignature(wiring.Signature):
    """What the fold sequencer tells the dataflow's issue unit each cycle.

    ``start``: a pass starts; ``start_desc``: its descriptor, valid with ``start`` only (what the
    walkers are reset from in that cycle); ``desc``: the running pass's descriptor, a register latched
    at ``start`` (so no descriptor path starts at ``start``'s logic); ``load``, ``stream``, ``drain``: the fold contexts of the three activities;
    ``load_slot`` (inner: array row, outer: register-file entry), ``stream_slot`` (inner:
    entry, outer: stream element) and ``drain_slot`` (OS; inner: row, outer: entry);
    ``period_end``: the period ends this cycle (contexts move load -> stream -> drain);
    ``wrap``: at this period end the load context moves on to the next filter group.
    ``group_inputs``: as :func:`context_layout`.
    """

    def __init__(self, config: AcceleratorConfig, group_inputs: bool = False):
        dim, g = dim_bits(config), config.rf_sets
        super().__init__({
            "start": Out(1),
            "start_desc": Out(desc_layout(config)),
            "desc": Out(desc_layout(config)),
            "load": Out(context_layout(config, group_inputs)),
            "stream": Out(context_layout(config, group_inputs)),
            "drain": Out(context_layout(config, group_inputs)),
            "load_slot": Out(SlotSignature(config.rows, dim)),
            "stream_slot": Out(SlotSignature(g, dim)),
            "drain_slot": Out(SlotSignature(config.rows, dim)),
            "period_end": Out(1),
            "wrap": Out(1),
        })
