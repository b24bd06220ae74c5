"""The host port: buffer writes and reads and requantization-parameter writes.

Writes go to the buffers' write ports (the controller never writes ifmap or
weights), at any time: a pass may be running on another region of the buffers.
Psum reads have a read port of their own, also usable at any time; ifmap and
weight reads share the controller's read ports (row 0 of the ifmap buffer, the
weight read port) and take effect only while idle. Every read comes back
through the requantization lane, :data:`model.contract.READ_LATENCY` cycles
after ``host.re``: raw (ifmap and weight words zero-extended, psum lanes two's
complement) or, for psum lanes of a layer whose last started pass enabled
``requant``, requantized with the parameters of channel ``host.chan``.

Optionally (``line_writes``, the System's LOAD and STORE engines) second write inputs,
``ifmap_lines`` and ``weight_lines``, write several consecutive ifmap words (the ifmap buffer
in :func:`ifmap_banks` banks) or several lanes of one weight line in a cycle (a beat at a time;
each has priority over a host write of its buffer in the same cycle), and a psum read comes back whole
on ``psum_lines``: every lane through a requantization lane of its own, lane ``l`` with the
parameters of channel ``(host.chan // cols) * cols + l`` (``host.rdata`` is lane ``host.lane``
of it), so that the STORE engine moves a line of outputs per read.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.controller.layouts import desc_layout
from hw.delay import delay
from hw.requant import Requant
from hw.signatures import HostPortSignature, RequantParamsSignature, RequestSignature, WritePortSignature
from model.config import AcceleratorConfig
from model.contract import (
    GLB_READ_LATENCY, READ_LATENCY, REQUANT_FIELD_STRIDE, REQUANT_STAGES, REQUANT_ZERO_POINT_BITS,
    Buffer, ifmap_load_words, word_bytes,
)

__all__ = ["HostPort", "ifmap_banks", "requant_lanes"]


def requant_lanes(config: AcceleratorConfig, line_writes: bool) -> int:
    """Requantization lanes of the host port: one per psum lane for the System (``line_writes``), else one."""
    return config.cols if line_writes else 1


def ifmap_banks(config: AcceleratorConfig, line_writes: bool) -> int:
    """Banks of the ifmap buffer: :func:`model.contract.ifmap_load_words` for the System (``line_writes``),
    else one memory."""
    return ifmap_load_words(config, word_bytes(config)) if line_writes else 1


class HostPort(wiring.Component):
    """Host access to the buffers and the requantization parameters.

    Parameters
    ----------
    config : AcceleratorConfig
    line_writes : bool
        Add the ``weight_lines`` input and the ``psum_lines`` output (one requantization lane per column).

    Ports
    -----
    host : In(HostPortSignature(config))
        The external host (see the signature).
    ifmap_lines : In(WritePortSignature(ifmap_depth, ArrayLayout(word_bits, banks), banks)), with ``line_writes``
        Up to ``banks`` consecutive ifmap words per cycle (lane ``i`` at ``addr + i``).
    weight_lines : In(WritePortSignature(weight_depth, line, cols)), with ``line_writes``
        Lanes of one weight line per cycle.
    psum_lines : Out(line), with ``line_writes``
        Every lane of a psum read, raw or requantized, with ``host.rdata``.
    idle : In(1)
        The controller is idle: ifmap and weight reads take effect only then.
    start : In(1); desc : In(desc_layout(config))
        A pass starts (the controller takes its ``start``): its requantization fields apply to the reads after it.
    ifmap_write, weight_write : Out(WritePortSignature)
    ifmap_read, weight_read, psum_read : Out(RequestSignature)
    ifmap_data : In(word_bits); weight_data, psum_data : In(line)
        The read data of those ports (ifmap: row 0's).
    params : Out(RequantParamsSignature(lanes))
        ``lanes``: the columns with ``line_writes``, else 1.
    """

    def __init__(self, config: AcceleratorConfig, line_writes: bool = False):
        self._config, self._line_writes = config, line_writes
        weight_line = data.ArrayLayout(config.word_bits, config.cols)
        psum_line = data.ArrayLayout(config.acc_bits, config.cols)
        banks = ifmap_banks(config, line_writes)
        ifmap_line = data.ArrayLayout(config.word_bits, banks)
        lines = {"ifmap_lines": In(WritePortSignature(config.ifmap_depth, ifmap_line, banks)),
                 "weight_lines": In(WritePortSignature(config.weight_depth, weight_line, config.cols)),
                 "psum_lines": Out(psum_line)} if line_writes else {}
        super().__init__({
            "host": In(HostPortSignature(config)),
            **lines,
            "idle": In(1),
            "start": In(1),
            "desc": In(desc_layout(config)),
            "ifmap_write": Out(WritePortSignature(config.ifmap_depth, ifmap_line, banks)),
            "weight_write": Out(WritePortSignature(config.weight_depth, weight_line, config.cols)),
            "ifmap_read": Out(RequestSignature(config.ifmap_depth)),
            "weight_read": Out(RequestSignature(config.weight_depth)),
            "psum_read": Out(RequestSignature(config.psum_depth)),
            "ifmap_data": In(config.word_bits),
            "weight_data": In(weight_line),
            "psum_data": In(psum_line),
            "params": Out(RequantParamsSignature(requant_lanes(config, line_writes))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, host = self._config, self.host
        cols, word_bits, acc_bits = cfg.cols, cfg.word_bits, cfg.acc_bits
        we = {b: host.we & (host.sel == b) for b in Buffer}
        accepted = Signal()  # a read that takes effect: psum always, the others while idle
        m.d.comb += accepted.eq(host.re & (self.idle | (host.sel == Buffer.PSUM)))
        re = {b: accepted & (host.sel == b) for b in Buffer}
        lane_bit = Signal(cols)
        m.d.comb += lane_bit.eq(1 << host.lane)
        m.d.comb += [
            self.ifmap_write.addr.eq(host.addr), self.ifmap_write.data[0].eq(host.wdata),
            self.ifmap_write.en.eq(we[Buffer.IFMAP]),
            self.weight_write.addr.eq(host.addr), self.weight_write.data.eq(Cat(*([host.wdata] * cols))),
            self.weight_write.en.eq(Mux(we[Buffer.WEIGHT], lane_bit, 0)),
        ]
        if self._line_writes:
            for lines, port in ((self.ifmap_lines, self.ifmap_write), (self.weight_lines, self.weight_write)):
                with m.If(lines.en.any()):
                    m.d.comb += [port.addr.eq(lines.addr), port.data.eq(lines.data), port.en.eq(lines.en)]
        for port, buffer in ((self.ifmap_read, Buffer.IFMAP), (self.weight_read, Buffer.WEIGHT),
                             (self.psum_read, Buffer.PSUM)):
            m.d.comb += [port.addr.eq(host.addr), port.en.eq(re[buffer])]

        # Requantization parameters: chunks of wdata shift into a staging register; lane 1 writes the field.
        staging = Signal(32)
        shifted = Signal(32)
        m.d.comb += shifted.eq(Cat(host.wdata, staging)[:32] if word_bits < 32 else host.wdata[:32])
        with m.If(we[Buffer.REQUANT]):
            m.d.sync += staging.eq(shifted)
        stride_bits = (REQUANT_FIELD_STRIDE - 1).bit_length()
        p = self.params
        m.d.comb += [
            p.write_chan.eq(host.addr[stride_bits:]), p.write_field.eq(host.addr[:stride_bits]),
            p.write_data.eq(shifted), p.write_en.eq(we[Buffer.REQUANT] & (host.lane == 1)),
            p.read_chan.eq(host.chan), p.read_en.eq(accepted),
        ]

        # The layer's requantization fields, latched when a pass starts.
        rq_on, rq_relu = Signal(), Signal()
        rq_bits, rq_zero = Signal.like(self.desc.out_bits), Signal(signed(REQUANT_ZERO_POINT_BITS))
        with m.If(self.start):
            m.d.sync += [rq_on.eq(self.desc.requant), rq_relu.eq(self.desc.relu),
                         rq_bits.eq(self.desc.out_bits), rq_zero.eq(self.desc.zero_point)]

        # The read: buffer data one cycle later, then the requantization lane.
        read_sel = Signal(Buffer)
        read_lane = Signal.like(host.lane)
        read_valid = Signal()  # the buffer's read data of a host read is there this cycle
        m.d.sync += read_valid.eq(accepted)
        with m.If(host.re):
            m.d.sync += [read_sel.eq(host.sel), read_lane.eq(host.lane)]
        lane_word, lane_psum = Signal(word_bits), Signal(acc_bits)
        m.d.comb += [
            lane_word.eq(self.weight_data.as_value().word_select(read_lane, word_bits)),
            lane_psum.eq(self.psum_data.as_value().word_select(read_lane, acc_bits)),
        ]
        raw = Signal(acc_bits)
        m.d.comb += raw.eq(Mux(read_sel == Buffer.IFMAP, self.ifmap_data,
                               Mux(read_sel == Buffer.WEIGHT, lane_word, lane_psum)))
        # One requantization lane, on the host's lane; or (line_writes) one per psum lane, with the parameters
        # of the line's channels (lane l: channel (chan // cols) * cols + l).
        lanes = requant_lanes(cfg, self._line_writes)
        assert READ_LATENCY >= GLB_READ_LATENCY + REQUANT_STAGES, "a host read passes the buffer and the requant lane"
        rq_words = []
        for lane in range(lanes):
            rq = m.submodules[f"requant{lane}" if lanes > 1 else "requant"] = Requant(acc_bits)
            m.d.comb += [
                rq.en.eq(read_valid), rq.acc.eq((lane_psum if lanes == 1 else self.psum_data[lane]).as_signed()),
                rq.bias.eq(p.bias[lane]), rq.multiplier.eq(p.multiplier[lane]),
                rq.total_shift.eq(p.total_shift[lane]),
                rq.zero_point.eq(rq_zero), rq.out_bits.eq(rq_bits), rq.relu.eq(rq_relu),
            ]
            rq_words.append(rq.out)
        # The raw word (and whether to requantize it) is registered with the data and kept aligned with
        # the requantization pipeline; each register holds until the next read.
        stage_raw, stage_rq = Signal(acc_bits, name="raw"), Signal(name="rq")
        with m.If(read_valid):
            m.d.sync += [stage_raw.eq(raw), stage_rq.eq(rq_on & (read_sel == Buffer.PSUM))]
        rq_now = delay(m, stage_rq, REQUANT_STAGES - 1, "rq")
        out_delay = READ_LATENCY - GLB_READ_LATENCY - REQUANT_STAGES
        rq_word = rq_words[0]
        if lanes > 1:   # the host's lane of the line's lanes
            stage_lane = Signal.like(read_lane)
            with m.If(read_valid):
                m.d.sync += stage_lane.eq(read_lane)
            rq_word = Array(rq_words)[delay(m, stage_lane, REQUANT_STAGES - 1, "lane")]
        word = Signal(acc_bits)
        m.d.comb += word.eq(Mux(rq_now, rq_word.as_signed(), delay(m, stage_raw, REQUANT_STAGES - 1, "raw")))
        m.d.comb += host.rdata.eq(delay(m, word, out_delay, "read"))   # rq.out sign-extended
        if self._line_writes:
            for lane in range(cols):
                stage = Signal(acc_bits, name=f"raw_lane{lane}")
                with m.If(read_valid):
                    m.d.sync += stage.eq(self.psum_data[lane])
                value = Signal(acc_bits, name=f"line_lane{lane}")
                m.d.comb += value.eq(Mux(rq_now, rq_words[lane].as_signed(), delay(m, stage, REQUANT_STAGES - 1,
                                                                                   f"raw_lane{lane}")))
                m.d.comb += self.psum_lines[lane].eq(delay(m, value, out_delay, f"line_lane{lane}"))
        return m
