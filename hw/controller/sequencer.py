"""The fold sequencer: latches a pass's descriptor and runs its periods and fold contexts.

A pass runs in *periods*. Each period holds up to three activities, each a slot
counter: **stream** the current fold (``G`` slots per stream element), **load**
the next fold's register-file context (``rows*G`` slots) and, output-stationary
only, **drain** the previous fold (``rows*G`` slots). A period ends in the cycle
its last active slot issues; the fold contexts then move load -> stream ->
drain. After the last period the sequencer waits
:data:`model.contract.PIPELINE_TAIL` cycles for the pipeline, then drops
``busy``; in those cycles (``ready``) it already takes the next pass's ``start``. That pass's first
issue follows the last one of the pass before, and every operation of a pass is a fixed number of
cycles after its issue, so the two passes' operations on each resource keep their order. What each
slot does is the dataflow's issue unit's business (:mod:`hw.controller.weight_stationary`,
:mod:`hw.controller.output_stationary`).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.controller.layouts import ScheduleSignature, context_layout, desc_layout
from model.config import AcceleratorConfig, Dataflow
from model.contract import PIPELINE_TAIL

__all__ = ["Sequencer"]


class _SlotCounter:
    """The registers of one activity's slot counter, driving its :class:`~hw.controller.layouts.SlotSignature`.

    ``inner`` counts ``0 .. inner_n-1``, then ``outer`` steps, up to ``outer_last`` (a constant or a
    register: no arithmetic between it and the comparison); the counter issues while ``valid`` and not
    yet done.
    """

    def __init__(self, m, port, inner_n: int, valid, outer_last):
        self._regs = (Signal.like(port.inner, name=f"{port.inner.name}_q"),
                      Signal.like(port.outer, name=f"{port.outer.name}_q"),
                      Signal(name=f"{port.on.name}_done"))
        inner, outer, done = self._regs
        m.d.comb += [
            port.inner.eq(inner), port.outer.eq(outer),
            port.on.eq(valid & ~done),
            port.inner_last.eq(inner == inner_n - 1),
            port.last.eq(port.on & port.inner_last & (outer == outer_last)),
        ]
        with m.If(port.on):
            with m.If(port.inner_last):
                m.d.sync += [inner.eq(0), outer.eq(outer + 1)]
                with m.If(outer == outer_last):
                    m.d.sync += done.eq(1)
            with m.Else():
                m.d.sync += inner.eq(inner + 1)

    def clear(self):
        """Statements that restart the counter (they override its stepping when later in the module)."""
        return [reg.eq(0) for reg in self._regs]


class Sequencer(wiring.Component):
    """Runs one pass's periods; fold order WS: filter group, then word group; OS: filter group, then pixel group.

    Parameters
    ----------
    config : AcceleratorConfig
        Array shape, ``G = rf_sets``, dataflow and the descriptor's field widths.
    group_inputs : bool
        Each filter group reads its own input, ``gstride`` on (:func:`~hw.controller.layouts.context_layout`).

    Ports
    -----
    start : In(1)
        Start a pass with ``desc`` (taken while ``ready``, ignored otherwise).
    desc : In(desc_layout(config))
        The pass descriptor, latched at ``start``.
    busy : Out(1)
        High from the cycle after ``start`` until the pipeline tail of the last period is done.
    ready : Out(1)
        No pass issues: idle, or the last pass in its pipeline tail.
    credit : Out(range(tail + 1)), ``tail`` the dataflow's :data:`~model.contract.PIPELINE_TAIL`
        At a ``start`` taken in a pipeline tail, the tail's cycles left (the pass before would have
        counted them): the accelerator's ``cycles`` counter adds them, so that it stays the sum of
        each pass's own cycles.
    schedule : Out(ScheduleSignature(config))
        Contexts, slot positions and period ends for the issue unit.
    """

    def __init__(self, config: AcceleratorConfig, group_inputs: bool = False):
        self._config, self._group_inputs = config, group_inputs
        super().__init__({
            "start": In(1),
            "desc": In(desc_layout(config)),
            "busy": Out(1), "ready": Out(1),
            "credit": Out(range(PIPELINE_TAIL[config.dataflow] + 1)),
            "schedule": Out(ScheduleSignature(config, group_inputs)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, sch = self._config, self.schedule
        rows, G = cfg.rows, cfg.rf_sets
        ws = cfg.dataflow is Dataflow.WS
        span = rows * G

        d = Signal(desc_layout(cfg))
        running = Signal()
        tail = Signal(range(PIPELINE_TAIL[cfg.dataflow] + 1))
        load, stream, drain = (Signal(context_layout(cfg, self._group_inputs), name=n)
                               for n in ("load_ctx", "stream_ctx", "drain_ctx"))
        starting = self.start & ~running
        m.d.comb += [
            self.ready.eq(~running), self.credit.eq(Mux(starting, tail, 0)),
            sch.start.eq(starting), sch.start_desc.eq(self.desc), sch.desc.eq(d),
            sch.load.eq(load), sch.stream.eq(stream), sch.drain.eq(drain),
        ]

        # Bounds minus one, latched with the descriptor: the period-end and fold-wrap comparisons then
        # compare registers (they were the longest paths, through a subtractor, on the small FPGAs).
        last_fold, last_element, groups_less2 = (Signal.like(d.k_folds, name=n)
                                                 for n in ("last_fold", "last_element", "groups_less2"))
        slots = [
            _SlotCounter(m, sch.load_slot, rows, running & load.valid, G - 1),
            _SlotCounter(m, sch.stream_slot, G, running & stream.valid, last_element),
        ]
        if not ws:
            slots.append(_SlotCounter(m, sch.drain_slot, rows, running & drain.valid, G - 1))
        ls, ss, ds = sch.load_slot, sch.stream_slot, sch.drain_slot

        # The next fold context after `load` (whole-field expressions: no partially assigned comb signal).
        wrap = load.fold == last_fold
        nxt = {
            "valid": load.valid & (~wrap | ~load.last_group),
            "half": ~load.half,
            "fold": Mux(wrap, 0, load.fold + 1),
            "group": Mux(wrap, load.group + 1, load.group),
            "last_group": Mux(wrap, load.group == groups_less2, load.last_group),
            "wbase": Mux(wrap, load.wbase + d.Kw, load.wbase),
            "pbase": Mux(wrap, load.pbase + d.P, load.pbase),
            "p0": Mux(wrap, 0, load.p0 + span),
            **({"ibase": Mux(wrap, load.ibase + d.gstride, load.ibase)} if self._group_inputs else {}),
        }
        period_end = running & (~ls.on | ls.last) & (~ss.on | ss.last) & (~ds.on | ds.last)
        m.d.comb += [sch.period_end.eq(period_end), sch.wrap.eq(wrap)]

        # The tail counts down on its own: a pass started in it does not stop the last writes before it.
        with m.If(tail != 0):
            m.d.sync += tail.eq(tail - 1)
            with m.If((tail == 1) & ~running):
                m.d.sync += self.busy.eq(0)
        clear = [stmt for slot in slots for stmt in slot.clear()]
        with m.If(starting):
            m.d.sync += [last_fold.eq((self.desc.k_folds if ws else self.desc.p_folds) - 1),
                         last_element.eq((self.desc.P if ws else self.desc.Kw) - 1),
                         groups_less2.eq(self.desc.m_groups - 2)]
            m.d.sync += [d.eq(self.desc), self.busy.eq(1), running.eq(1), stream.eq(0), drain.eq(0),
                         load.eq(0), load.valid.eq(1), load.last_group.eq(self.desc.m_groups == 1),
                         load.wbase.eq(self.desc.wbase), load.pbase.eq(self.desc.pbase), *clear]
            if self._group_inputs:
                m.d.sync += load.ibase.eq(self.desc.ibase)
        with m.Elif(period_end):
            m.d.sync += [*(getattr(load, k).eq(v) for k, v in nxt.items()), stream.eq(load),
                         drain.eq(0 if ws else stream), *clear]
            last_period = ~nxt["valid"] & ~load.valid & (1 if ws else ~stream.valid)
            with m.If(last_period):
                m.d.sync += [running.eq(0), tail.eq(PIPELINE_TAIL[cfg.dataflow])]
        return m
