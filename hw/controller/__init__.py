"""The controller: walks one pass of a layer in folds, generating buffer addresses and array control.

It is two components joined by :class:`~hw.controller.layouts.ScheduleSignature`:
the fold :class:`~hw.controller.sequencer.Sequencer` (descriptor, periods, fold
contexts, pipeline tail) and the dataflow's issue unit
(:class:`~hw.controller.weight_stationary.WeightStationaryIssue` or
:class:`~hw.controller.output_stationary.OutputStationaryIssue`: walkers, buffer
requests, array control, event counts). ``docs/architecture.md`` states the
schedule; :mod:`model.perf` its cycle count.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect

from hw.controller.layouts import desc_layout
from hw.controller.output_stationary import OutputStationaryIssue
from hw.controller.sequencer import Sequencer
from hw.controller.weight_stationary import WeightStationaryIssue
from hw.delay import delay
from model.config import AcceleratorConfig, Dataflow
from model.contract import ISSUE_LATENCY

#: The issue unit's buffer read requests (registered on their way to the buffers).
_READS = ("ifmap_read", "weight_read", "weight_read2", "psum_read")

__all__ = ["Controller", "desc_layout"]


class Controller(wiring.Component):
    """Sequencer and issue unit of one pass.

    Parameters
    ----------
    config : AcceleratorConfig
    depthwise : bool
        As :class:`~hw.controller.issue.IssueUnit`.

    Ports
    -----
    start, desc, busy, ready, credit
        As :class:`~hw.controller.sequencer.Sequencer`.
    ifmap_read, weight_read, psum_read, psum_write, psum_first, array, ev_macs, ev_rf_reads, ev_rf_writes
        As :class:`~hw.controller.issue.IssueUnit`; the read requests
        :data:`~model.contract.ISSUE_LATENCY` cycles after the issue unit's.
    """

    def __init__(self, config: AcceleratorConfig, depthwise: bool = False):
        self._config = config
        issue = WeightStationaryIssue if config.dataflow is Dataflow.WS else OutputStationaryIssue
        self._issue = issue(config, depthwise)
        self._sequencer = Sequencer(config, self._issue.group_inputs)
        members = {name: self._sequencer.signature.members[name] for name in ("start", "desc", "busy", "ready", "credit")}
        members |= {name: member for name, member in self._issue.signature.members.items() if name != "schedule"}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        seq = m.submodules.sequencer = self._sequencer
        issue = m.submodules.issue = self._issue
        m.d.comb += [seq.start.eq(self.start), seq.desc.eq(self.desc), self.busy.eq(seq.busy),
                     self.ready.eq(seq.ready), self.credit.eq(seq.credit)]
        connect(m, seq.schedule, issue.schedule)
        # every other port is the issue unit's output, forwarded member by member; the buffer read
        # requests ISSUE_LATENCY cycles later (the issue unit's stages count from its issue)
        outputs = {path: value for path, _, value in issue.signature.flatten(issue) if path[0] != "schedule"}
        for path, _, value in self.signature.flatten(self):
            if path in outputs:
                later = ISSUE_LATENCY if path[0] in _READS else 0
                m.d.comb += value.eq(delay(m, outputs[path], later, "_".join(map(str, path))))
        return m
