"""The burst walker: a DMA command (strided runs) -> AXI4 bursts, by the rule of :mod:`model.bursts`."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.config import AXI_DATA_WIDTHS
from model.contract import AXI_ADDR_BITS, AXI_BOUNDARY_BYTES, AXI_MAX_BURST_BEATS, DMA_RUN_BYTES_BITS, DMA_RUN_COUNT_BITS
from hw.axi.signatures import DmaCommand

__all__ = ["BurstLayout", "BurstWalker"]


def BurstLayout(beat_bytes: int) -> data.StructLayout:
    """One burst: ``addr`` (beat-aligned), ``len`` (beats - 1, as ARLEN/AWLEN), ``last_bytes``
    (bytes of its last beat that belong to the run, 1 .. ``beat_bytes``) and ``final`` (the command's
    last burst)."""
    return data.StructLayout({
        "addr": AXI_ADDR_BITS, "len": (AXI_MAX_BURST_BEATS - 1).bit_length(),
        "last_bytes": range(1, beat_bytes + 1), "final": 1,
    })


class BurstWalker(wiring.Component):
    """Splits each command into INCR bursts: at most 256 beats, never across 4 KiB, run by run, block by block.

    The same rule as :func:`model.bursts.split_transfer`, one burst per cycle while ``bursts.ready``
    is high. The low address bits of ``addr`` and ``stride`` below a beat are ignored (aligned
    transfers). A command with ``run_bytes == 0`` or ``count == 0`` gives no burst.

    Parameters
    ----------
    beat_bytes : int
        Bytes per beat, 4, 8 or 16.

    Ports
    -----
    cmd : In(stream.Signature(DmaCommand))
        A command; taken (``ready``) only while no command is under way.
    bursts : Out(stream.Signature(BurstLayout(beat_bytes)))
        The bursts of the command, in address order; the payload is combinational from the
        walker's registers, valid from the cycle after the command is taken.
    cancel : In(1)
        Drop the rest of the command (the walker is idle the next cycle); a command taken in the
        same cycle is not dropped.
    busy : Out(1)
        Bursts of a command are left to give.
    """

    def __init__(self, beat_bytes: int):
        if beat_bytes * 8 not in AXI_DATA_WIDTHS:
            raise ValueError(f"beat_bytes must be one of {', '.join(str(w // 8) for w in AXI_DATA_WIDTHS)}, "
                             f"not {beat_bytes!r}")
        self._beat_bytes = beat_bytes
        super().__init__({
            "cmd": In(stream.Signature(DmaCommand)),
            "bursts": Out(stream.Signature(BurstLayout(beat_bytes))),
            "cancel": In(1),
            "busy": Out(1),
        })

    @property
    def beat_bytes(self) -> int:
        """Bytes per beat."""
        return self._beat_bytes

    def elaborate(self, platform):
        m = Module()
        bb = self._beat_bytes
        shift = (bb - 1).bit_length()
        run_base = Signal(AXI_ADDR_BITS)      # start of the current run
        addr = Signal(AXI_ADDR_BITS)          # next burst's address
        left = Signal(DMA_RUN_BYTES_BITS)     # bytes of the current run not yet in a burst
        runs_left = Signal(DMA_RUN_COUNT_BITS)
        run_bytes = Signal(DMA_RUN_BYTES_BITS)
        stride = Signal(AXI_ADDR_BITS)
        count = Signal(DMA_RUN_COUNT_BITS)    # runs of a block
        repeats = Signal(DMA_RUN_COUNT_BITS)  # blocks still to walk after this one
        block_base = Signal(AXI_ADDR_BITS)    # start of the current block
        block_stride = Signal(AXI_ADDR_BITS)

        left_beats = Signal(DMA_RUN_BYTES_BITS + 1 - shift)
        to_boundary = Signal(range(AXI_BOUNDARY_BYTES // bb + 1))
        beats = Signal(range(AXI_MAX_BURST_BEATS + 1))
        run_ends = Signal()
        m.d.comb += [
            left_beats.eq((left + bb - 1) >> shift),
            to_boundary.eq((AXI_BOUNDARY_BYTES - addr[:AXI_BOUNDARY_BYTES.bit_length() - 1]) >> shift),
        ]
        limit = Mux(to_boundary < AXI_MAX_BURST_BEATS, to_boundary, AXI_MAX_BURST_BEATS)
        m.d.comb += [
            beats.eq(Mux(left_beats < limit, left_beats, limit)),
            run_ends.eq(beats == left_beats),
        ]
        partial = left[:shift]
        m.d.comb += [
            self.busy.eq(runs_left != 0),
            self.bursts.valid.eq(self.busy),
            self.bursts.payload.addr.eq(addr),
            self.bursts.payload.len.eq(beats - 1),
            self.bursts.payload.last_bytes.eq(Mux(run_ends & (partial != 0), partial, bb)),
            self.bursts.payload.final.eq(run_ends & (runs_left == 1) & (repeats == 0)),
            self.cmd.ready.eq(~self.busy),
        ]
        aligned = (2**AXI_ADDR_BITS - 1) & ~(bb - 1)
        with m.If(self.cmd.valid & self.cmd.ready):
            cmd = self.cmd.payload
            empty = (cmd.run_bytes == 0) | (cmd.count == 0)
            m.d.sync += [
                run_base.eq(cmd.addr & aligned), addr.eq(cmd.addr & aligned), stride.eq(cmd.stride & aligned),
                left.eq(cmd.run_bytes), run_bytes.eq(cmd.run_bytes), runs_left.eq(Mux(empty, 0, cmd.count)),
                count.eq(cmd.count), repeats.eq(cmd.repeat), block_base.eq(cmd.addr & aligned),
                block_stride.eq(cmd.repeat_stride & aligned),
            ]
        with m.Elif(self.cancel):
            m.d.sync += runs_left.eq(0)
        with m.Elif(self.bursts.valid & self.bursts.ready):
            with m.If(run_ends & (runs_left == 1) & (repeats != 0)):   # the next block
                m.d.sync += [
                    runs_left.eq(count), repeats.eq(repeats - 1), block_base.eq(block_base + block_stride),
                    run_base.eq(block_base + block_stride), addr.eq(block_base + block_stride), left.eq(run_bytes),
                ]
            with m.Elif(run_ends):
                m.d.sync += [
                    runs_left.eq(runs_left - 1), run_base.eq(run_base + stride), addr.eq(run_base + stride),
                    left.eq(run_bytes),
                ]
            with m.Else():
                m.d.sync += [addr.eq(addr + (beats << shift)), left.eq(left - (beats << shift))]
        return m
