"""The fault catalogue: the single faults ``make faults`` injects, the designs they go into, and the jobs that must catch them.

Data only; :mod:`sim.faults` applies, builds and runs them. Each fault names
the Verilog module it edits, a regular expression and its replacement, and the
exact number of places the expression must match in that module, on the text as
:func:`sim.faults.normalise` leaves it (Yosys' ``(* ... *)`` attributes removed,
runs of spaces made one). A placeholder ``<<SIGNAL.FIELD>>`` stands for the
slice of descriptor field ``FIELD`` in the descriptor-shaped signal ``SIGNAL``
(``d``, the sequencer's latched descriptor; ``schedule__desc``, the issue unit's
view of it), from :func:`model.contract.desc_fields` of the target configuration.

The targets of :data:`SYSTEM_TARGETS` are the command-driven System (``qconv_system.v``, from
:func:`hw.verilog.generate_system`) rather than the accelerator alone: their faults sit in the
DMA engines, the burst walkers, the loaders and the System's counters, and their jobs run from DRAM
(:mod:`sim.system.fault_run`), judged against the golden conv and every counter of
:func:`model.system_perf.predict_system`.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.config import AcceleratorConfig
from model.layer import ConvLayer, parse_layer

__all__ = ["Fault", "FAULTS", "FAULT_CONFIGS", "FAULT_JOBS", "SYSTEM_TARGETS"]

#: The configurations faults are injected into: small, so builds and runs are quick.
FAULT_CONFIGS: dict[str, AcceleratorConfig] = {
    "ws": AcceleratorConfig(dataflow="ws", bits=4, rows=2, cols=3, rf_depth=4,
                            ifmap_depth=64, weight_depth=24, psum_depth=32),
    "os": AcceleratorConfig(dataflow="os", bits=4, rows=2, cols=3, rf_depth=4,
                            ifmap_depth=64, weight_depth=24, psum_depth=32),
    "binary": AcceleratorConfig(dataflow="ws", bits=1, pack=5, rows=2, cols=2, rf_depth=2,
                                ifmap_depth=64, weight_depth=24, psum_depth=32),
    # the System from DRAM, double-buffered; halves small enough to force every kind of tile (tests/tiled_layers.py)
    "system": AcceleratorConfig(bits=8, rows=2, cols=2, ifmap_depth=128, weight_depth=32, psum_depth=64),
    # and output-stationary: its depthwise folds run across channel groups
    "system_os": AcceleratorConfig(bits=8, rows=2, cols=2, ifmap_depth=128, weight_depth=32, psum_depth=64,
                                   dataflow="os"),
}

#: Targets that are the command-driven System (``qconv_system.v``) rather than ``qconv_top.v``.
SYSTEM_TARGETS = frozenset({"system", "system_os"})

#: Layers (and operand seeds) every mutant of a target runs: together they exercise padding, stride,
#: several reduction folds, a partial filter group, several passes, N > 1, 1x1 and input-sized kernels,
#: channel tiles accumulated in the psum buffer and row bands.
FAULT_JOBS: dict[str, list[tuple]] = {
    target: [(parse_layer(text), *rest) for text, *rest in jobs]
    for target, jobs in {
        "ws": [
            ("N=1,C=2,H=5,W=5,M=4,R=3,S=3,stride=1,pad=1", 11),   # 5 reduction folds, partial filter group, padding
            ("N=2,C=1,H=6,W=5,M=3,R=2,S=2,stride=2,pad=0", 12),   # stride 2, N>1
            ("N=3,C=2,H=4,W=4,M=2,R=1,S=1,stride=1,pad=0", 13),   # 1x1, several passes (ifmap buffer)
            ("N=1,C=2,H=3,W=3,M=7,R=3,S=3,stride=1,pad=0", 14),   # kernel as large as the input, 3 filter groups
            ("N=1,C=1,H=4,W=4,M=8,R=2,S=2,stride=1,pad=0", 15),   # 3 filter groups in one pass
            ("N=1,C=4,H=6,W=6,M=3,R=3,S=3,stride=2,pad=1", 16),   # channel tiles (Kw 36 > 24 lines), row bands
        ],
        "os": [
            ("N=1,C=2,H=5,W=5,M=4,R=3,S=3,stride=1,pad=1", 21),
            ("N=2,C=1,H=6,W=5,M=3,R=2,S=2,stride=2,pad=0", 22),
            ("N=3,C=2,H=4,W=4,M=2,R=1,S=1,stride=1,pad=0", 23),
            ("N=1,C=2,H=3,W=3,M=7,R=3,S=3,stride=1,pad=0", 24),
            ("N=1,C=1,H=4,W=4,M=8,R=2,S=2,stride=1,pad=0", 25),
            ("N=1,C=4,H=6,W=6,M=3,R=3,S=3,stride=2,pad=1", 26),
        ],
        "binary": [
            ("N=1,C=7,H=4,W=4,M=3,R=3,S=3,stride=1,pad=1", 31),   # a partial second word (7 channels, pack 5)
            ("N=2,C=3,H=5,W=4,M=2,R=2,S=2,stride=2,pad=0", 32),
            ("N=1,C=5,H=3,W=3,M=5,R=3,S=3,stride=1,pad=0", 33),
            ("N=1,C=3,H=4,W=4,M=5,R=2,S=2,stride=1,pad=0", 34),   # 3 filter groups in one pass
        ],
        # (layer, seed, requant): raw 4-byte outputs end runs mid-beat (strobes), requantized 1-byte
        # outputs of column tiles start them mid-beat; strided LOADs walk rows with halo
        "system": [
            ("N=1,C=1,H=12,W=6,M=2,R=3,S=3,stride=2,pad=1", 41, False),  # row bands with halo, stride 2, padding
            ("N=1,C=4,H=4,W=4,M=3,R=3,S=3,stride=1,pad=1", 42, True),    # channel tiles accumulated, requantized
            ("N=3,C=1,H=5,W=5,M=2,R=3,S=3,stride=1,pad=0", 43, False),   # image tiles
            ("N=1,C=1,H=4,W=4,M=5,R=3,S=3,stride=1,pad=0", 44, False),   # filter tiles
            ("N=1,C=1,H=3,W=30,M=2,R=3,S=3,stride=1,pad=1", 45, True),   # column bands: stores start mid-beat
            ("N=1,C=1,H=4,W=4,M=5,R=2,S=2,stride=1,pad=0", 46, False),   # 3 filter groups in one pass
            ("N=1,C=5,H=11,W=13,M=3,R=1,S=1,stride=2,pad=0", 47, False),  # strided 1x1: LOADs step over rows
            ("N=1,C=7,H=3,W=3,M=7,R=3,S=1,stride=1,pad=0,groups=7", 48, True),   # depthwise: 2 groups a pass
            ("N=1,C=5,H=7,W=6,M=5,R=3,S=3,stride=2,pad=1,groups=5", 49, False),  # depthwise: row bands
        ],
    }.items()
}
FAULT_JOBS["system_os"] = FAULT_JOBS["system"]


@dataclass(frozen=True)
class Fault:
    """One single fault: a regex edit of one Verilog module of one target configuration.

    Parameters
    ----------
    name : str
        Short identifier.
    description : str
        What the edit does to the hardware.
    target : str
        Key of :data:`FAULT_CONFIGS`.
    module : str
        Verilog module name (without the leading backslash), e.g. ``"qconv_top.controller.issue"``.
    pattern, replacement : str
        ``re.sub`` arguments, applied to the module text as :func:`normalise` leaves it.
    count : int
        Exact number of matches expected in that module.
    """

    name: str
    description: str
    target: str
    module: str
    pattern: str
    replacement: str
    count: int = 1


_ID = r"\\\$\d+ "  # an anonymous Yosys wire such as "\$12 " (escaped name, trailing space)

#: The faults of ``make faults``: at least 15, all distinct, each applied alone.
FAULTS: tuple[Fault, ...] = (
    Fault("pe_swapped_operand", "PE(0,0) multiplies the input by itself instead of by its weight",
          "ws", "qconv_top.array.pe_0_0",
          r"(assign value = \$signed\((a_reg)\) \* )\$signed\(w_reg\);", r"\1$signed(\2);"),
    Fault("pe_rf_write_stuck", "the register-file write enable of the last PE is stuck at 0",
          "ws", "qconv_top.array.pe_1_2", r"if \(ctrl__load_en\) begin", "if (1'h0) begin", count=4),
    Fault("ws_column_sum_drops_row", "column 0's adder tree drops the product of the last row",
          "ws", "qconv_top.array", r"(assign \S+ = )\$signed\(product\) \+ \$signed\(\\product\$\d+ \);",
          r"\1$signed(product);"),
    Fault("ws_column_acc_never_restarts", "column 0's accumulator ignores acc_first and keeps the previous pixel",
          "ws", "qconv_top.array", r"ctrl__acc_first \? \d+'h0+ : acc0;", "acc0;"),
    Fault("ws_psum_fold_dropped", "the psum read-modify-write ignores the stored partial sum (drops earlier folds)",
          "ws", "qconv_top", r"psum_first \? (\d+'h0+) : psum_data\[\d+:\d+\];", r"\1;", count=3),
    Fault("ws_accumulate_ignored", "a later channel tile's first word group overwrites the partial sums of the "
          "earlier channel tiles instead of adding to them", "ws", "qconv_top.controller.issue",
          rf"(assign {_ID}= )~ <<schedule__desc.accumulate>>;", r"\g<1>1'h1;"),
    Fault("os_drain_accumulate_ignored", "the OS drain of a later channel tile writes its sums without adding "
          "the stored partial sums (no read-modify-write)", "os", "qconv_top.controller.issue",
          r"assign psum_first = drain_first_d\d+;", "assign psum_first = 1'h1;"),
    Fault("pad_high_bound_off_by_one", "the 'inside the input' test accepts row h == H (h <= H instead of h < H)",
          "ws", "qconv_top.controller.issue", r"\) < \$signed\(\{ 1'h0, <<schedule__desc.H>> \}\);",
          r") <= $signed({ 1'h0, <<schedule__desc.H>> });", count=4),
    Fault("stride_ignored_in_columns", "the output-column walker steps the window by 1 instead of stride",
          "ws", "qconv_top.controller.issue", r"\$signed\(sw_w0\) \+ \$signed\(\{ 1'h0, <<schedule__desc.stride>> \}\);",
          "$signed(sw_w0) + $signed({ 1'h0, 32'd1 });"),
    Fault("skip_last_filter_group", "the fold sequencer stops one filter group early (the last-group flag "
          "rises at group m_groups - 3)",
          "ws", "qconv_top.controller.sequencer", rf"(assign {_ID}= )(schedule__load\[\d+:\d+\] )== groups_less2;",
          r"\1\2+ 1'h1 == groups_less2;"),
    Fault("weight_address_off_by_one", "weight-buffer loads read line wbase + k + 1",
          "ws", "qconv_top.controller.issue", r"(= schedule__load\[\d+:\d+\] \+ lw_k);", r"\1 + 1'h1;"),
    Fault("rf_half_not_swapped", "the streaming fold always reads register-file half 0 (the loader fills half 1)",
          "ws", "qconv_top.controller.issue", r"schedule__stream\[1\] \? 2'h2 : 2'h0", "2'h0", count=105),
    Fault("done_never_rises", "the pipeline-tail counter never reaches 1, so busy stays high and done never rises",
          "ws", "qconv_top.controller.sequencer", rf"(assign {_ID}= )tail == 1'h1;", r"\g<1>1'h0;"),
    Fault("weight_write_all_lanes", "a host write to the weight buffer writes every lane of the line",
          "ws", "qconv_top.host", rf"(assign weight_write__en = {_ID}\? ){_ID}\[\d+:0\] : (\d+)'h0;",
          r"\1{\2{1'b1}} : \2'h0;"),
    Fault("psum_read_lane_unknown", "the host read path's psum lane is an unknown value (X), as from a register "
          "that is never initialised: four-state simulators read X",
          "ws", "qconv_top.host", rf"assign lane_psum = psum_data >> {_ID};", "assign lane_psum = 'bx;"),
    Fault("glb_ifmap_reads_miscounted", "the ifmap-read counter drops the reads of the last row",
          "ws", "qconv_top", r"(assign \S+ = ifmap_read__0__en )\+ ifmap_read__1__en;", r"\1;"),
    Fault("os_acc_first_ignored", "PE(0,0) accumulates onto the previous fold's partial sum instead of starting at 0",
          "os", "qconv_top.array.pe_0_0", rf"(assign {_ID}= )ctrl__acc_first \? \d+'h0+ : ({_ID});", r"\1\2;"),
    Fault("os_acc_drops_product", "the last PE's accumulator drops its product term (acc = acc)",
          "os", "qconv_top.array.pe_1_2", r"(assign \S+ = \$signed\(\S+ \)) \+ \$signed\(product\);", r"\1;"),
    Fault("pad_low_bound_off_by_one", "the 'inside the input' test rejects row/column 0 (> 0 instead of >= 0)",
          "os", "qconv_top.controller.issue", r"\) >= \$signed\(1'h0\);", ") > $signed(1'h0);", count=8),
    Fault("host_read_lane_ignored", "a host read of the psum buffer always returns lane 0",
          "os", "qconv_top.host", rf"assign lane_psum = psum_data >> {_ID};", "assign lane_psum = psum_data;"),
    Fault("cycles_miss_pipeline_tail", "the cycle counter stops when the controller stops issuing, not when done rises",
          "os", "qconv_top", r"assign inc_cycles = \\\$\d+ \+ credit;", "assign inc_cycles = busy;"),
    Fault("rf_psum_reads_not_counted", "the register-file psum-read counter never increments",
          "os", "qconv_top.counters", r"(assign \S+ = count_rf_psum_reads) \+ inc_rf_psum_reads;", r"\1;"),
    Fault("binary_popcount_drops_channel", "PE(0,0)'s popcount drops the agreement bit of the last channel of a word",
          "binary", "qconv_top.array.pe_0_0", rf"(assign {_ID}= )({_ID})\+ {_ID}\[4\];", r"\1\2;"),
    # the System (qconv_system.v): DMA engines, burst walkers, counters
    Fault("wdma_strobe_ignores_run_end", "the write DMA strobes every byte of a run's last beat up to the beat's end "
          "(not only the run's bytes): bytes after the run are overwritten (the byte count stays right)",
          "system", "qconv_system.proc.wdma", rf"(assign {_ID}= ){_ID}\[7:0\] & ({_ID});", r"\g<1>8'hff & \2;"),
    Fault("wdma_b_not_waited", "the write DMA reports done without waiting for its bursts' B responses",
          "system", "qconv_system.proc.wdma", rf"(assign done = )({_ID})& {_ID};", r"\1\2;"),
    Fault("rdma_arlen_one_beat_long", "the read DMA's burst walker puts the beat count, not count - 1, in ARLEN "
          "(every read burst one beat too long)", "system", "qconv_system.proc.rdma.walker",
          rf"(assign {_ID}= {_ID}\[8:0\]) - 1'h1;", r"\1;"),
    Fault("rdma_run_step_one_beat_off", "the read DMA's burst walker steps from one run to the next by stride + one "
          "beat (every row after a LOAD's first comes from the wrong address)", "system",
          "qconv_system.proc.rdma.walker", r"= run_base \+ stride;", "= run_base + stride + 32'h8;", count=2),
    Fault("rdma_drops_last_beat", "the read DMA accepts each burst's last R beat but does not pass it on (a dropped "
          "beat)", "system", "qconv_system.proc.rdma", r"assign data__valid = bus__rvalid & forward;",
          "assign data__valid = bus__rvalid & forward & ~bus__rlast;"),
    Fault("rdma_bytes_ignore_partial_beat", "the read DMA counts a whole beat of bytes for a run's partial last beat",
          "system", "qconv_system.proc.rdma", rf"(assign {_ID}= )bus__rlast \? r_data\[3:0\] : (4'h8);", r"\1\2;"),
    Fault("unpack_run_end_one_word_late", "the LOAD unpacker sees a run's end one word slot late (a row of a "
          "halo band or a weight group takes one word from past its run)", "system", "qconv_system.proc.unpack",
          rf"(assign {_ID}= \$signed\(\{{ 1'h0, slot \}}\) > \$signed\(in_run\d\));", r"\1 + 2'sd1;", count=3),
    Fault("stall_cycles_not_counted", "the System's stall counter never increments (its enable is dropped)",
          "system", "qconv_system.counters", r"(assign \S+ = count_stall_cycles) \+ inc_stall_cycles_reg_d1;", r"\1;"),
    Fault("depthwise_lane_ignored", "in a depthwise pass PE(0,1) multiplies lane 0 of its row's ifmap line (its "
          "neighbour's channel), not lane 1", "system", "qconv_system.acc.array",
          r"(assign \S+ = ctrl__depthwise \? )lines\[15:8\]", r"\1lines[7:0]"),
    Fault("depthwise_group_stride_ignored", "the next filter group's fold context keeps the group's input base "
          "(ibase + gstride dropped): every channel group of a depthwise pass reads the first group's input",
          "system", "qconv_system.acc.controller.sequencer",
          rf"(assign {_ID}= schedule__load\[\d+:\d+\] )\+ <<schedule__desc.gstride>>;", r"\1;"),
    Fault("depthwise_weight_select_ignored", "in an output-stationary depthwise fold of two channel groups, PE(1,0) "
          "multiplies the first group's weight line for its pixel of the second group", "system_os",
          "qconv_system.acc.array", r"(assign \S+ = )ctrl__wsel\[1\] \? weights2\[7:0\] : (weights\[7:0\]);",
          r"\1\2;"),
    Fault("binary_last_mask_ignored", "the channel mask of a pixel's last, partial word is ignored (all channels count)",
          "binary", "qconv_top.controller.issue", r"\? <<schedule__desc.last_mask>> : (\d+'h[0-9a-f]+);",
          r"? \1 : \1;", count=12),
)
