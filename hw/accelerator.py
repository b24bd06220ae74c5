"""``qconv_top``: global buffer, PE array, controller, counters and the host port, from one configuration."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hw.array import PEArray
from hw.controller import Controller, desc_layout
from hw.counters import COUNTER_BITS, Counters
from hw.delay import delay
from hw.global_buffer import GlobalBuffer
from hw.requant import STAGES as REQUANT_STAGES
from hw.requant import Requant
from model.config import AcceleratorConfig
from model.perf import COUNTERS
from model.program import IFMAP, PSUM, READ_LATENCY, REQUANT, REQUANT_CHANNELS, REQUANT_FIELDS, WEIGHT

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """The whole accelerator (Verilog module ``qconv_top``).

    Parameters
    ----------
    config : AcceleratorConfig
        Every hardware number comes from it.

    Ports
    -----
    start : In(1)
        Pulse one cycle while ``done``: run one pass with ``desc``.
    desc : In(desc_layout(config))
        Packed layer descriptor (:func:`model.program.pack_descriptor`), its fields sized
        from the buffer depths (:func:`model.program.desc_fields`).
    done : Out(1)
        1 when idle (after reset, and from the end of a pass until the next ``start``).
    host_sel : In(2)
        0 ifmap, 1 weight, 2 psum/output buffer, 3 requantization parameters (write only).
    host_addr, host_lane : In
        Word/line address; lane within a weight/psum line. For requantization parameters
        ``host_addr = 4*channel + field`` (:data:`model.program.REQUANT_FIELDS`) and
        ``host_lane`` 0 shifts ``host_wdata`` into a staging register, 1 shifts it in and
        writes the field (:func:`model.program.requant_writes`).
    host_wdata : In(word_bits); host_we : In(1)
        Write one word (a lane of a line) this cycle.
    host_re : In(1); host_rdata : Out(acc_bits)
        Read this cycle; ``host_rdata`` holds the word :data:`model.program.READ_LATENCY`
        cycles later, until the next read (ifmap and weight words zero-extended, psum lanes
        two's complement; when the last pass's descriptor enabled ``requant``, psum lanes
        go through the requantization stage (:class:`hw.requant.Requant`) with channel
        ``host_chan``'s parameters and come back ``out_bits`` wide, sign-extended).
    host_chan : In(range(REQUANT_CHANNELS))
        Output channel of a psum read, selecting its requantization parameters.
    count_<name> : Out(48)
        One hardware counter per name of :data:`model.perf.COUNTERS`.

    The host port may be used only while ``done`` is 1.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
        self._config = config
        deepest = max(config.ifmap_depth, config.weight_depth, config.psum_depth)
        members = {
            "start": In(1),
            "desc": In(desc_layout(config)),
            "done": Out(1),
            "host_sel": In(2),
            "host_addr": In(range(max(deepest, 4 * REQUANT_CHANNELS))),
            "host_lane": In(range(max(config.cols, 2))),
            "host_wdata": In(config.word_bits),
            "host_we": In(1),
            "host_re": In(1),
            "host_rdata": Out(config.acc_bits),
            "host_chan": In(range(REQUANT_CHANNELS)),
        }
        members |= {f"count_{name}": Out(COUNTER_BITS) for name in COUNTERS}
        super().__init__(members)

    @property
    def config(self) -> AcceleratorConfig:
        return self._config

    def elaborate(self, platform):
        cfg = self._config
        rows, cols, ws = cfg.rows, cfg.cols, cfg.dataflow == "ws"
        m = Module()
        gb = m.submodules.buffer = GlobalBuffer(rows, cols, cfg.word_bits, cfg.acc_bits,
                                                cfg.ifmap_depth, cfg.weight_depth, cfg.psum_depth)
        ctrl = m.submodules.controller = Controller(cfg)
        array = m.submodules.array = PEArray(rows, cols, cfg.word_bits, cfg.binary, cfg.acc_bits, cfg.rf_depth,
                                            cfg.dataflow)
        counters = m.submodules.counters = Counters({
            "cycles": 1, "macs": len(ctrl.ev_macs),
            "dram_ifmap_reads": 1, "dram_weight_reads": 1, "dram_psum_writes": 1,
            "glb_ifmap_reads": (rows + 1).bit_length(), "glb_ifmap_writes": 1,
            "glb_weight_reads": 1, "glb_weight_writes": 1, "glb_psum_reads": 1, "glb_psum_writes": 1,
            "rf_weight_reads": len(ctrl.ev_rf_reads), "rf_weight_writes": len(ctrl.ev_rf_writes),
            "rf_psum_reads": len(ctrl.ev_rf_reads), "rf_psum_writes": len(ctrl.ev_rf_writes),
        })
        for name in COUNTERS:
            m.d.comb += getattr(self, f"count_{name}").eq(getattr(counters, f"count_{name}"))

        idle = ~ctrl.busy
        m.d.comb += [ctrl.start.eq(self.start), ctrl.desc.eq(self.desc), self.done.eq(idle)]

        # Host port (only while idle) and controller share the buffer ports.
        sel = self.host_sel
        host_w = {b: idle & self.host_we & (sel == b) for b in (IFMAP, WEIGHT, PSUM)}
        host_r = {b: idle & self.host_re & (sel == b) for b in (IFMAP, WEIGHT, PSUM)}
        lane_bit = Signal(cols)
        m.d.comb += lane_bit.eq(1 << self.host_lane)
        m.d.comb += [
            gb.ifmap_waddr.eq(self.host_addr), gb.ifmap_wdata.eq(self.host_wdata), gb.ifmap_we.eq(host_w[IFMAP]),
            gb.weight_waddr.eq(self.host_addr), gb.weight_wen.eq(Mux(host_w[WEIGHT], lane_bit, 0)),
            gb.weight_wdata.eq(Cat(*([self.host_wdata] * cols))),
        ]
        # Whole-signal assignments only (a partially assigned comb signal becomes an `always @*` that
        # Icarus may never evaluate).
        host_line = Signal(cols)
        m.d.comb += host_line.eq(Mux(host_w[PSUM], lane_bit, 0))
        # Row 0's read address is the host's when idle, cut to the ifmap address width: `host_addr`
        # spans the deepest buffer, and a wider first element would shift every other row's address.
        ifmap_addr_bits = len(ctrl.ifmap_raddr[0])
        m.d.comb += [
            gb.ifmap_raddr.eq(Cat(Mux(idle, self.host_addr[:ifmap_addr_bits], ctrl.ifmap_raddr[0]),
                                  *(ctrl.ifmap_raddr[i] for i in range(1, rows)))),
            gb.ifmap_ren.eq(Cat(Mux(idle, host_r[IFMAP], ctrl.ifmap_ren[0]), ctrl.ifmap_ren[1:])),
            gb.weight_raddr.eq(Mux(idle, self.host_addr, ctrl.weight_raddr)),
            gb.weight_ren.eq(Mux(idle, host_r[WEIGHT], ctrl.weight_ren)),
            gb.psum_waddr.eq(Mux(idle, self.host_addr, ctrl.psum_waddr)),
            gb.psum_wen.eq(Mux(idle, host_line, Mux(ctrl.psum_we, (1 << cols) - 1, 0))),
        ]
        if ws:
            m.d.comb += [
                gb.psum_raddr.eq(Mux(idle, self.host_addr, ctrl.psum_raddr)),
                gb.psum_ren.eq(Mux(idle, host_r[PSUM], ctrl.psum_ren)),
            ]
            results = [array.acc[j] + Mux(ctrl.psum_first, 0, gb.psum_rdata[j].as_signed()) for j in range(cols)]
        else:
            m.d.comb += [gb.psum_raddr.eq(self.host_addr), gb.psum_ren.eq(host_r[PSUM])]
            results = [array.drain[j] for j in range(cols)]
        m.d.comb += gb.psum_wdata.eq(Cat(*(Mux(idle, self.host_wdata, r)[:cfg.acc_bits] for r in results)))

        read_sel = Signal(2)
        read_lane = Signal.like(self.host_lane)
        read_valid = Signal()  # the buffer's read data of a host read is there this cycle
        m.d.sync += read_valid.eq(idle & self.host_re)
        with m.If(self.host_re):
            m.d.sync += [read_sel.eq(sel), read_lane.eq(self.host_lane)]
        lane_word = Signal(cfg.word_bits)
        lane_psum = Signal(cfg.acc_bits)
        m.d.comb += [
            lane_word.eq(gb.weight_rdata.as_value().word_select(read_lane, cfg.word_bits)),
            lane_psum.eq(gb.psum_rdata.as_value().word_select(read_lane, cfg.acc_bits)),
        ]
        raw = Signal(cfg.acc_bits)
        m.d.comb += raw.eq(Mux(read_sel == IFMAP, gb.ifmap_rdata[0], Mux(read_sel == WEIGHT, lane_word, lane_psum)))

        # Requantization stage: layer fields latched at start, per-channel parameters in small
        # memories written through the host port (host_sel = REQUANT) and read with host_chan.
        rq_on, rq_relu = Signal(), Signal()
        rq_bits, rq_zero = Signal(5), Signal(signed(16))
        with m.If(self.start & idle):
            m.d.sync += [rq_on.eq(self.desc.requant), rq_relu.eq(self.desc.relu),
                         rq_bits.eq(self.desc.out_bits), rq_zero.eq(self.desc.zero_point)]
        staging = Signal(32)
        param_w = idle & self.host_we & (sel == REQUANT)
        shifted = Signal(32)
        m.d.comb += shifted.eq(Cat(self.host_wdata, staging)[:32] if cfg.word_bits < 32 else self.host_wdata[:32])
        with m.If(param_w):
            m.d.sync += staging.eq(shifted)
        params = {}
        for f, (name, width) in enumerate(REQUANT_FIELDS):
            mem = memory.Memory(shape=width, depth=REQUANT_CHANNELS, init=[])
            m.submodules[f"rq_{name}"] = mem
            wr, rd = mem.write_port(), mem.read_port()
            m.d.comb += [
                wr.addr.eq(self.host_addr[2:]), wr.data.eq(shifted[:width]),
                wr.en.eq(param_w & (self.host_addr[:2] == f) & (self.host_lane == 1)),
                rd.addr.eq(self.host_chan), rd.en.eq(idle & self.host_re),
            ]
            params[name] = rd.data
        rq = m.submodules.requant = Requant(cfg.acc_bits)
        m.d.comb += [
            rq.en.eq(read_valid), rq.acc.eq(lane_psum.as_signed()), rq.bias.eq(params["bias"].as_signed()),
            rq.multiplier.eq(params["multiplier"]), rq.total_shift.eq(params["total_shift"]),
            rq.zero_point.eq(rq_zero), rq.out_bits.eq(rq_bits), rq.relu.eq(rq_relu),
        ]
        assert READ_LATENCY >= 1 + REQUANT_STAGES, "the read path has the buffer read and the requantization stages"
        # The raw word (and whether to requantize it) is registered with the data and kept aligned with
        # the requantization pipeline; each register holds until the next read.
        stage_raw, stage_rq = Signal(cfg.acc_bits, name="raw"), Signal(name="rq")
        with m.If(read_valid):
            m.d.sync += [stage_raw.eq(raw), stage_rq.eq(rq_on & (read_sel == PSUM))]
        word = Signal(cfg.acc_bits)
        m.d.comb += word.eq(Mux(delay(m, stage_rq, REQUANT_STAGES - 1, "rq"), rq.out.as_signed(),
                                delay(m, stage_raw, REQUANT_STAGES - 1, "raw")))  # sign-extends rq.out
        # further register stages, if the constant asks for them
        m.d.comb += self.host_rdata.eq(delay(m, word, READ_LATENCY - 1 - REQUANT_STAGES, "read"))

        # Datapath: ifmap words to the rows; weights from the weight buffer.
        m.d.comb += [array.a.eq(gb.ifmap_rdata), array.mask.eq(ctrl.mask)]
        if ws:
            m.d.comb += [
                array.rf_sel.eq(ctrl.rf_sel), array.load_en.eq(ctrl.load_en), array.load_row.eq(ctrl.load_row),
                array.load_sel.eq(ctrl.load_sel), array.load_data.eq(gb.weight_rdata),
                array.acc_en.eq(ctrl.acc_en), array.acc_first.eq(ctrl.acc_first),
            ]
        else:
            m.d.comb += [
                array.w.eq(gb.weight_rdata), array.acc_row_en.eq(ctrl.acc_row_en),
                array.acc_col_en.eq(ctrl.acc_col_en), array.acc_first.eq(ctrl.acc_first),
                array.acc_sel.eq(ctrl.acc_sel), array.drain_row.eq(ctrl.drain_row),
                array.drain_sel.eq(ctrl.drain_sel),
            ]

        # Counters, from the enables that really drive the memories and the PEs.
        was_busy = Signal()
        m.d.sync += was_busy.eq(ctrl.busy)
        ifmap_reads = gb.ifmap_ren[0]
        for i in range(1, rows):
            ifmap_reads = ifmap_reads + gb.ifmap_ren[i]
        rf = "weight" if ws else "psum"
        inc = {
            "cycles": ctrl.busy | was_busy,
            "macs": ctrl.ev_macs,
            "dram_ifmap_reads": host_w[IFMAP], "dram_weight_reads": host_w[WEIGHT], "dram_psum_writes": host_r[PSUM],
            "glb_ifmap_reads": ifmap_reads, "glb_ifmap_writes": gb.ifmap_we,
            "glb_weight_reads": gb.weight_ren, "glb_weight_writes": gb.weight_wen.any(),
            "glb_psum_reads": gb.psum_ren, "glb_psum_writes": gb.psum_wen.any(),
            f"rf_{rf}_reads": ctrl.ev_rf_reads, f"rf_{rf}_writes": ctrl.ev_rf_writes,
        }
        for name, value in inc.items():
            m.d.comb += getattr(counters, f"inc_{name}").eq(value)
        return m
