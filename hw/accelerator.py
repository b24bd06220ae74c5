"""The accelerator top (:data:`model.contract.TOP_NAME`): buffer, PE array, controller, host port, counters."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from hw.array import PEArray
from hw.controller import Controller, desc_layout
from hw.counters import Counters
from hw.global_buffer import GlobalBuffer
from hw.host_port import HostPort, ifmap_banks, requant_lanes
from hw.requant_params import RequantParamStore
from hw.signatures import HostPortSignature, WritePortSignature
from model.config import AcceleratorConfig, Dataflow
from model.contract import COUNTER_BITS, COUNTERS, depthwise_reads, fold_groups_reads, product_bits, word_bytes

__all__ = ["Accelerator"]


def _share(m, idle, host, ctrl, target):
    """Drive the request ``target`` from ``host`` while idle, from the controller ``ctrl`` otherwise."""
    m.d.comb += [target.addr.eq(Mux(idle, host.addr, ctrl.addr)), target.en.eq(Mux(idle, host.en, ctrl.en))]


class Accelerator(wiring.Component):
    """The whole accelerator; its ports are :func:`model.contract.top_ports`.

    Parameters
    ----------
    config : AcceleratorConfig
        Every hardware number comes from it and from :mod:`model.contract`.
    line_writes : bool
        Add the ``ifmap_lines``, ``weight_lines`` and ``psum_lines`` ports (the System's LOAD and STORE
        engines use them; the bare top has none), the ifmap buffer in
        :func:`hw.host_port.ifmap_banks` banks.

    Ports
    -----
    start : In(1)
        Pulse one cycle while ``done`` (with ``line_writes``, while ``ready``): run one pass with ``desc``.
    desc : In(desc_layout(config))
        Packed pass descriptor (:func:`model.contract.pack_descriptor`).
    done : Out(1)
        1 when idle (after reset, and from the end of a pass until the next ``start``).
    ready : Out(1), with ``line_writes``
        A ``start`` is taken: idle, or the last pass in its pipeline tail
        (:class:`~hw.controller.sequencer.Sequencer`).
    host : In(HostPortSignature(config))
        Buffer and requantization-parameter access (:class:`hw.host_port.HostPort`): writes and psum
        reads at any time, ifmap and weight reads while ``done``.
    ifmap_lines, weight_lines : In(WritePortSignature), with ``line_writes``
        Several consecutive ifmap words, several lanes of a weight line per cycle
        (:class:`hw.host_port.HostPort`).
    psum_lines : Out(ArrayLayout(acc_bits, cols)), with ``line_writes``
        Every lane of a host psum read (:class:`hw.host_port.HostPort`).
    count_<name> : Out(COUNTER_BITS)
        One hardware counter per name of :data:`model.contract.COUNTERS`.
    """

    def __init__(self, config: AcceleratorConfig, line_writes: bool = False):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
        self._config, self._line_writes = config, line_writes
        members = {
            "start": In(1),
            "desc": In(desc_layout(config)),
            "done": Out(1),
            "host": In(HostPortSignature(config)),
        }
        if line_writes:
            members["ready"] = Out(1)
            banks = ifmap_banks(config, line_writes)
            members["ifmap_lines"] = In(WritePortSignature(
                config.ifmap_depth, data.ArrayLayout(config.word_bits, banks), banks))
            members["weight_lines"] = In(WritePortSignature(
                config.weight_depth, data.ArrayLayout(config.word_bits, config.cols), config.cols))
            members["psum_lines"] = Out(data.ArrayLayout(config.acc_bits, config.cols))
        members |= {f"count_{name}": Out(COUNTER_BITS) for name in COUNTERS}
        super().__init__(members)

    @property
    def config(self) -> AcceleratorConfig:
        return self._config

    def elaborate(self, platform):
        cfg = self._config
        rows, cols, ws = cfg.rows, cfg.cols, cfg.dataflow is Dataflow.WS
        m = Module()
        depthwise = self._line_writes and depthwise_reads(cfg, word_bytes(cfg))
        two_weights = self._line_writes and fold_groups_reads(cfg, word_bytes(cfg))   # a second weight read port
        gb = m.submodules.buffer = GlobalBuffer(rows, cols, cfg.word_bits, cfg.acc_bits,
                                                cfg.ifmap_depth, cfg.weight_depth, cfg.psum_depth,
                                                ifmap_banks(cfg, self._line_writes), 2 if two_weights else 1)
        ctrl = m.submodules.controller = Controller(cfg, depthwise)
        array = m.submodules.array = PEArray(cfg.dataflow, rows, cols, cfg.word_bits, cfg.binary, product_bits(cfg),
                                            cfg.acc_bits, cfg.rf_depth, depthwise)
        if depthwise:
            m.d.comb += array.lines.eq(gb.ifmap_lines)
        if two_weights:
            connect(m, ctrl.weight_read2, gb.weight_read2)
            m.d.comb += array.weights2.eq(gb.weight_data2)
        host = m.submodules.host = HostPort(cfg, self._line_writes)
        params = m.submodules.requant_params = RequantParamStore(requant_lanes(cfg, self._line_writes))

        idle = ~ctrl.busy
        m.d.comb += [ctrl.start.eq(self.start), ctrl.desc.eq(self.desc), self.done.eq(idle),
                     host.idle.eq(idle), host.start.eq(self.start & ctrl.ready), host.desc.eq(self.desc)]
        if self._line_writes:
            m.d.comb += self.ready.eq(ctrl.ready)
        connect(m, flipped(self.host), host.host)
        if self._line_writes:
            connect(m, flipped(self.ifmap_lines), host.ifmap_lines)
            connect(m, flipped(self.weight_lines), host.weight_lines)
            m.d.comb += self.psum_lines.eq(host.psum_lines)
        connect(m, host.params, params.params)
        connect(m, ctrl.array, array.ctrl)

        # Buffer ports: the host writes ifmap and weights; reads share the controller's ports while idle.
        connect(m, host.ifmap_write, gb.ifmap_write)
        connect(m, host.weight_write, gb.weight_write)
        _share(m, idle, host.ifmap_read, ctrl.ifmap_read[0], gb.ifmap_read[0])
        for i in range(1, rows):
            connect(m, ctrl.ifmap_read[i], gb.ifmap_read[i])
        _share(m, idle, host.weight_read, ctrl.weight_read, gb.weight_read)
        # WS: a pixel's column sums added to its psum line; OS: a drained row, added to the line
        # when the pass accumulates onto earlier channel tiles. The host reads psum on a port of its own.
        connect(m, ctrl.psum_read, gb.psum_read)
        connect(m, host.psum_read, gb.psum_host_read)
        line = [array.result[j] + Mux(ctrl.psum_first, 0, gb.psum_data[j].as_signed()) for j in range(cols)]
        m.d.comb += [
            gb.psum_write.addr.eq(ctrl.psum_write.addr),
            gb.psum_write.en.eq(Mux(ctrl.psum_write.en, (1 << cols) - 1, 0)),
            gb.psum_write.data.eq(Cat(*(v[:cfg.acc_bits] for v in line))),
            host.ifmap_data.eq(gb.ifmap_data[0]), host.weight_data.eq(gb.weight_data),
            host.psum_data.eq(gb.psum_host_data),
            array.a.eq(gb.ifmap_data), array.weights.eq(gb.weight_data),
        ]

        # Counters, from the enables that really drive the memories and the PEs.
        was_busy = Signal()
        m.d.sync += was_busy.eq(ctrl.busy)
        ifmap_reads = gb.ifmap_read[0].en
        for i in range(1, rows):
            ifmap_reads = ifmap_reads + gb.ifmap_read[i].en
        rf = "weight" if ws else "psum"
        weight_reads = gb.weight_read.en + gb.weight_read2.en if two_weights else gb.weight_read.en
        inc = {
            "cycles": (ctrl.busy | was_busy) + ctrl.credit,   # a pass started in a tail counts its own cycles
            "macs": ctrl.ev_macs,
            "dram_ifmap_reads": gb.ifmap_write.en.any(), "dram_weight_reads": gb.weight_write.en.any(),
            "dram_psum_writes": host.psum_read.en,
            "glb_ifmap_reads": ifmap_reads, "glb_ifmap_writes": gb.ifmap_write.en.any(),
            "glb_weight_reads": weight_reads, "glb_weight_writes": gb.weight_write.en.any(),
            "glb_psum_reads": gb.psum_read.en + gb.psum_host_read.en, "glb_psum_writes": gb.psum_write.en.any(),
            f"rf_{rf}_reads": ctrl.ev_rf_reads, f"rf_{rf}_writes": ctrl.ev_rf_writes,
        }
        counters = m.submodules.counters = Counters({name: len(inc[name]) if name in inc else 1 for name in COUNTERS})
        for name in COUNTERS:
            m.d.comb += [getattr(counters, f"inc_{name}").eq(inc.get(name, 0)),
                         getattr(self, f"count_{name}").eq(getattr(counters, f"count_{name}"))]
        return m
