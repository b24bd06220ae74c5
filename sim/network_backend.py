"""Where a network's accelerator layers run: the golden model, or the RTL on Verilator or Icarus.

:func:`run_network` is the single dispatch point of ``qconv run``. With
``--backend model`` every ungrouped layer a network's convolutions are lowered
to (:meth:`model.network.lowering.ConvPlan.calls`) runs on the golden integer
model. With ``--backend verilator|icarus`` every such layer runs on the RTL,
in **one** simulation for the whole network:

1. the graph runs once on the golden model, which records every layer call
   with its operands and requantization (the golden model is the reference
   the RTL must equal, so it also predicts every host result between layers);
2. every call is checked against the build *before anything is built or
   simulated*: a layer that does not fit is an error naming every such node
   and the reason (:class:`LayersDoNotFit`);
3. each call becomes a job (:func:`sim.jobs.make_job`: program, golden
   outputs, prediction), the design is built once per configuration and
   simulator (:func:`sim.runner.build`) and all the programs run in one
   simulation (:func:`sim.runner.run_programs`), as :mod:`sim.infer` does
   for the digits CNN; each is scored as ``qconv sim`` scores a layer
   (:func:`sim.jobs.score`: outputs bit for bit, cycles and every counter
   exactly against :func:`model.perf.predict`);
4. if every layer passed, the graph runs again with the **RTL's outputs**
   flowing on to the next node; each call's input is checked to be exactly
   the one co-simulated. If a layer failed, :attr:`NetworkRun.passed` is
   false and :attr:`NetworkRun.failures` names each failing node and layer:
   nothing downstream is computed from a wrong tensor.

Because every job's input is known up front, nothing waits on host results
between layers, so the simulator starts once however many layers the network
(or a depthwise node lowered to one layer per channel) has.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from model.config import AcceleratorConfig
from model.layer import ConvLayer
from model.network.executor import Accelerator, Execution, execute, golden_accelerator
from model.network.graph import Graph, Node
from model.network.lowering import ConvPlan
from model.perf import predict
from model.program import RequantParams
from sim.jobs import Job, make_job, read_outputs, score
from sim.runner import build, run_programs

__all__ = ["Backend", "LayersDoNotFit", "LayerCall", "NodeCheck", "NetworkRun", "record_calls", "check_fit",
           "run_network"]


class Backend(StrEnum):
    """Where accelerator layers run."""

    MODEL = "model"  #: the golden integer model (with the analytical performance model)
    VERILATOR = "verilator"  #: co-simulated on the RTL with Verilator
    ICARUS = "icarus"  #: co-simulated on the RTL with Icarus Verilog


class LayersDoNotFit(ValueError):
    """Some layers of the network do not fit the build; the message names every such node and why."""


@dataclass(frozen=True, eq=False)
class LayerCall:
    """One ungrouped layer an accelerator node ran: the node, its position among the node's layers, operands."""

    node: Node
    index: int
    count: int
    layer: ConvLayer
    x: np.ndarray
    w: np.ndarray
    requant: RequantParams | None

    @property
    def where(self) -> str:
        """``node 'name' (op), layer i of n (shape)`` for messages."""
        return f"node {self.node.name!r} ({self.node.op}), layer {self.index + 1} of {self.count} ({self.layer})"


@dataclass(frozen=True)
class NodeCheck:
    """The RTL's verdict on one accelerator node: summed over its layers.

    Attributes
    ----------
    layers : int
        Layers co-simulated.
    rtl_cycles, model_cycles : int
        Cycles counted by the RTL and predicted by :func:`model.perf.predict`.
    passed : bool
        Every layer's outputs bit for bit and every counter equal to the model.
    failures : tuple of str
        One line per failing layer, naming the node, the layer and what differs.
    """

    layers: int
    rtl_cycles: int
    model_cycles: int
    passed: bool
    failures: tuple[str, ...]


@dataclass(frozen=True)
class NetworkRun:
    """A network run on a backend.

    Attributes
    ----------
    execution : Execution
        Every tensor: on an RTL backend that passed, computed from the RTL's outputs; if a layer
        failed, the golden model's (the failing nodes are in ``failures``).
    checks : dict
        Accelerator node output tensor -> :class:`NodeCheck` (empty for the model backend).
    seconds : dict
        Wall times: ``total``, and for RTL backends ``golden`` (the recording run), ``build``,
        ``simulation`` (all programs in one simulation) and ``replay`` (the run on the RTL's outputs).
    programs : int
        Layer programs co-simulated (0 for the model backend).
    """

    execution: Execution
    checks: dict[str, NodeCheck]
    seconds: dict[str, float]
    programs: int

    @property
    def passed(self) -> bool:
        """Whether every co-simulated layer matched the model (always true for the model backend)."""
        return all(c.passed for c in self.checks.values())

    @property
    def failures(self) -> list[str]:
        """Every failing layer, in execution order."""
        return [line for c in self.checks.values() for line in c.failures]


def record_calls(graph: Graph, x: np.ndarray, plans: dict[str, ConvPlan],
                 config: AcceleratorConfig) -> tuple[Execution, list[LayerCall]]:
    """Run ``graph`` on the golden model, recording every accelerator layer call with its node."""
    golden = golden_accelerator(config)
    made: list[tuple] = []

    def recording(layer, xs, ws, rq):
        made.append((layer, xs, ws, rq))
        return golden(layer, xs, ws, rq)

    execution = execute(graph, x, plans, recording)
    calls, it = [], iter(made)
    for run in execution.runs:
        for i in range(len(run.layers)):
            layer, xs, ws, rq = next(it)
            calls.append(LayerCall(run.node, i, len(run.layers), layer, xs, ws, rq))
    return execution, calls


def check_fit(config: AcceleratorConfig, calls: list[LayerCall]) -> None:
    """Check every call against the build before anything runs.

    Raises
    ------
    LayersDoNotFit
        Naming every node with a layer that does not fit and the reason (the first such layer of each node).
    """
    problems: dict[str, str] = {}
    for call in calls:
        if call.node.name in problems:
            continue
        try:
            predict(config, call.layer)
        except ValueError as err:
            problems[call.node.name] = f"{call.where}: {err}"
    if problems:
        nodes = {c.node.name for c in calls}
        raise LayersDoNotFit(f"{len(problems)} of {len(nodes)} accelerator nodes do not fit the build "
                             f"({config.rows}x{config.cols}, ifmap_depth={config.ifmap_depth}, weight_depth="
                             f"{config.weight_depth}, psum_depth={config.psum_depth}); nothing was run: "
                             + "; ".join(problems.values()))


def _failure(call: LayerCall, record: dict) -> str:
    """One line saying what differs in a failing layer's record (:func:`sim.jobs.score`)."""
    parts = []
    if record["error"]:
        parts.append(record["error"])
    if record["first_mismatch"]:
        m = record["first_mismatch"]
        parts.append(f"output {tuple(m['index'])}: RTL {m['actual']}, model {m['expected']}")
    parts += [f"{name}: RTL {record['counters'][name]['rtl']}, model {record['counters'][name]['model']}"
              for name in record["counter_mismatches"]]
    return f"{call.where}: " + "; ".join(parts)


def _checks(calls: list[LayerCall], records: list[dict]) -> dict[str, NodeCheck]:
    by_node: dict[str, list[tuple[LayerCall, dict]]] = {}
    for call, record in zip(calls, records, strict=True):
        by_node.setdefault(call.node.output, []).append((call, record))
    return {tensor: NodeCheck(len(pairs), sum(r["cycles"]["rtl"] or 0 for _, r in pairs),
                              sum(r["cycles"]["model"] for _, r in pairs), all(r["pass"] for _, r in pairs),
                              tuple(_failure(c, r) for c, r in pairs if not r["pass"]))
            for tensor, pairs in by_node.items()}


def _replay(calls: list[LayerCall], outputs: list[np.ndarray]) -> Accelerator:
    """An accelerator that returns the RTL's outputs, call by call, for exactly the inputs co-simulated."""
    pending = iter(zip(calls, outputs, strict=True))

    def run(layer, xs, ws, rq):
        call, out = next(pending)
        if layer != call.layer or not np.array_equal(xs, call.x) or not np.array_equal(ws, call.w):
            raise RuntimeError(f"{call.where}: the input reaching it is not the one co-simulated")
        return out
    return run


#: ``progress(stage, done, total)``: the hook :func:`run_network` tells which node runs (:class:`sim.progress.StageProgress`).
Progress = Callable[[str, int, int], None]


def _node_progress(calls: list[LayerCall], progress: Progress) -> Callable[[int], None]:
    """An ``on_done(count)`` for :func:`sim.runner.run_programs` telling ``progress`` each node's layers done.

    A node is announced (0 layers done) when its first layer starts, so a stage's time is the node's, and
    every layer's end is told in order even when several end between two looks at the simulation.
    """
    nodes = list(dict.fromkeys(c.node.name for c in calls))
    position = {name: k for k, name in enumerate(nodes, 1)}
    seen = 0

    def stage(call: LayerCall) -> str:
        return f"RTL node {position[call.node.name]}/{len(nodes)} {call.node.name}"

    def on_done(count: int) -> None:
        nonlocal seen
        for i in range(seen, count):
            progress(stage(calls[i]), calls[i].index + 1, calls[i].count)
            if i + 1 < len(calls) and calls[i + 1].node is not calls[i].node:
                progress(stage(calls[i + 1]), 0, calls[i + 1].count)
        seen = count

    if calls:
        progress(stage(calls[0]), 0, calls[0].count)
    return on_done


def run_network(graph: Graph, x: np.ndarray, plans: dict[str, ConvPlan], config: AcceleratorConfig,
                backend: Backend, *, cxx_opt: str | None = None, progress: Progress | None = None) -> NetworkRun:
    """Run ``graph`` on the float32 input ``x`` with its accelerator layers on ``backend`` (see the module notes).

    Parameters
    ----------
    graph : Graph
    x : ndarray
        The network input (checked by :func:`model.network.check_input`).
    plans : dict
        :func:`model.network.prepare`'s plans on ``config``.
    config : AcceleratorConfig
        The build.
    backend : Backend
    cxx_opt : str or None
        C++ optimisation of a Verilator build (:func:`sim.runner.compile_verilog`; tests pass ``"-O0"``,
        which builds fastest).
    progress : callable, optional
        ``progress(stage, done, total)`` (e.g. :class:`sim.progress.StageProgress`), told while the one
        simulation runs which accelerator node is on the RTL (stage ``"RTL node k/n NAME"``) and how many of
        its layers are done; the caller closes it. The model backend reports nothing (it takes seconds).

    Returns
    -------
    NetworkRun

    Raises
    ------
    LayersDoNotFit
        Before any build or simulation, if a layer does not fit ``config``.
    sim.simulators.SimulatorMissing
        If the simulator is not installed (the message says how to install it).
    """
    backend = Backend(backend)
    start = time.perf_counter()
    if backend is Backend.MODEL:
        execution = execute(graph, x, plans, golden_accelerator(config))
        return NetworkRun(execution, {}, {"total": time.perf_counter() - start}, 0)
    golden, calls = record_calls(graph, x, plans, config)
    check_fit(config, calls)
    jobs: list[Job] = [make_job(config, c.layer, c.x, c.w, c.requant) for c in calls]
    seconds = {"golden": time.perf_counter() - start, "build": 0.0, "simulation": 0.0}
    raws = []
    if jobs:  # a network without accelerator layers needs no build
        mark = time.perf_counter()
        built = build(config, backend.value, cxx_opt=cxx_opt)
        seconds["build"] = time.perf_counter() - mark
        mark = time.perf_counter()
        raws = run_programs(built, [job.program for job in jobs],
                            on_done=None if progress is None else _node_progress(calls, progress))
        seconds["simulation"] = time.perf_counter() - mark
    records = [score(job, raw) for job, raw in zip(jobs, raws, strict=True)]
    checks = _checks(calls, records)
    execution = golden
    if all(c.passed for c in checks.values()):
        mark = time.perf_counter()
        execution = execute(graph, x, plans, _replay(calls, [read_outputs(j, r) for j, r in zip(jobs, raws)]))
        seconds["replay"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - start
    return NetworkRun(execution, checks, seconds, len(jobs))
