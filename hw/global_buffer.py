"""The global buffer: on-chip ifmap, weight and psum/ofmap memories (``amaranth.lib.memory``)."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.signatures import RequestSignature, WritePortSignature

__all__ = ["GlobalBuffer"]


class GlobalBuffer(wiring.Component):
    """Three memories; every read is synchronous (data one cycle after the request), every write
    takes effect at the end of the cycle.

    * ifmap: ``ifmap_depth`` words of ``word_bits``; one write port of ``banks`` lanes (lane ``i``
      writes address ``addr + i``: up to ``banks`` consecutive words per access), ``rows`` read ports
      (one per array row, a word each). With ``banks > 1`` (a power of two) the words are
      interleaved over that many memories, word ``a`` in bank ``a % banks`` at ``a // banks``, so that
      any ``banks`` consecutive words are in different memories; every bank has every read port and
      a read's bank is registered with it.
    * weights: ``weight_depth`` lines of ``cols`` lanes of ``word_bits``; the write port
      writes single lanes (one enable bit per lane), the read port whole lines.
      One access = one lane write or one line read.
    * psum/ofmap: ``psum_depth`` lines of ``cols`` lanes of ``acc_bits`` (two's complement);
      one write port with lane enables and two read ports: the controller's, transparent for that
      write port (a read of the line being written returns the new data), for read-modify-write,
      and the host's (``psum_host_read``), so that outputs of one region are read while a pass
      writes another. One access = one line read or one (possibly partial) line write.

    Parameters
    ----------
    rows, cols, word_bits, acc_bits, ifmap_depth, weight_depth, psum_depth : int
    banks : int
        Ifmap words written per access (1: one memory).
    weight_reads : int
        Weight read ports, 1 or 2 (an output-stationary depthwise fold of two channel groups reads a
        line of each, ``hw/controller/output_stationary.py``).

    Ports
    -----
    ifmap_write : In(WritePortSignature(ifmap_depth, ArrayLayout(word_bits, banks), banks))
    weight_write, psum_write : In(WritePortSignature)
    ifmap_read : In(RequestSignature).array(rows); weight_read, psum_read, psum_host_read : In(RequestSignature)
    weight_read2 : In(RequestSignature), weight_data2 : Out(ArrayLayout(word_bits, cols)), with ``weight_reads = 2``
    ifmap_data : Out(ArrayLayout(word_bits, rows))
        Row ``i``'s word, read by ``ifmap_read[i]``.
    ifmap_lines : Out(ArrayLayout(ArrayLayout(word_bits, banks), rows)), with ``banks > 1``
        Every bank's word at row ``i``'s read address: the ``banks`` words from ``addr`` rounded down
        to a multiple of ``banks`` (a depthwise pass reads such a line, ``hw/array.py``).
    weight_data : Out(ArrayLayout(word_bits, cols)); psum_data, psum_host_data : Out(ArrayLayout(acc_bits, cols))
        The line last read by that port (held while no new read is requested).
    """

    def __init__(self, rows: int, cols: int, word_bits: int, acc_bits: int,
                 ifmap_depth: int, weight_depth: int, psum_depth: int, banks: int = 1, weight_reads: int = 1):
        assert banks & (banks - 1) == 0, "ifmap banks must be a power of two"
        self._rows, self._banks, self._weight_reads = rows, banks, weight_reads
        weight_line, psum_line = data.ArrayLayout(word_bits, cols), data.ArrayLayout(acc_bits, cols)
        self._ifmap = [memory.Memory(shape=word_bits, depth=-(-ifmap_depth // banks), init=[]) for _ in range(banks)]
        self._weights = memory.Memory(shape=weight_line, depth=weight_depth, init=[])
        self._psum = memory.Memory(shape=psum_line, depth=psum_depth, init=[])
        lines = {"ifmap_lines": Out(data.ArrayLayout(data.ArrayLayout(word_bits, banks), rows))} if banks > 1 else {}
        if weight_reads == 2:
            lines |= {"weight_read2": In(RequestSignature(weight_depth)), "weight_data2": Out(weight_line)}
        super().__init__(lines | {
            "ifmap_write": In(WritePortSignature(ifmap_depth, data.ArrayLayout(word_bits, banks), banks)),
            "ifmap_read": In(RequestSignature(ifmap_depth)).array(rows),
            "ifmap_data": Out(data.ArrayLayout(word_bits, rows)),
            "weight_write": In(WritePortSignature(weight_depth, weight_line, cols)),
            "weight_read": In(RequestSignature(weight_depth)),
            "weight_data": Out(weight_line),
            "psum_write": In(WritePortSignature(psum_depth, psum_line, cols)),
            "psum_read": In(RequestSignature(psum_depth)),
            "psum_data": Out(psum_line),
            "psum_host_read": In(RequestSignature(psum_depth)),
            "psum_host_data": Out(psum_line),
        })

    @staticmethod
    def _write(m, port, request):
        m.d.comb += [port.addr.eq(request.addr), port.data.eq(request.data), port.en.eq(request.en)]

    @staticmethod
    def _read(m, port, request, data_out):
        m.d.comb += [port.addr.eq(request.addr), port.en.eq(request.en), data_out.eq(port.data)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.weights = self._weights
        m.submodules.psum = self._psum
        self._ifmap_ports(m)
        self._write(m, self._weights.write_port(granularity=1), self.weight_write)
        self._read(m, self._weights.read_port(), self.weight_read, self.weight_data)
        if self._weight_reads == 2:
            self._read(m, self._weights.read_port(), self.weight_read2, self.weight_data2)
        psum_write = self._psum.write_port(granularity=1)
        self._write(m, psum_write, self.psum_write)
        self._read(m, self._psum.read_port(transparent_for=(psum_write,)), self.psum_read, self.psum_data)
        self._read(m, self._psum.read_port(), self.psum_host_read, self.psum_host_data)
        return m

    def _ifmap_ports(self, m):
        banks, write = self._banks, self.ifmap_write
        if banks == 1:
            m.submodules.ifmap = mem = self._ifmap[0]
            port = mem.write_port()
            m.d.comb += [port.addr.eq(write.addr), port.data.eq(write.data[0]), port.en.eq(write.en)]
            for i in range(self._rows):
                self._read(m, mem.read_port(), self.ifmap_read[i], self.ifmap_data[i])
            return
        bits = banks.bit_length() - 1
        low, high = write.addr[:bits], write.addr[bits:]
        selects = [Signal(bits, name=f"ifmap_bank{i}") for i in range(self._rows)]   # each read's bank
        for i in range(self._rows):
            with m.If(self.ifmap_read[i].en):
                m.d.sync += selects[i].eq(self.ifmap_read[i].addr[:bits])
        outs = [[] for _ in range(self._rows)]
        for b, mem in enumerate(self._ifmap):
            m.submodules[f"ifmap{b}"] = mem
            lane = Signal(bits, name=f"ifmap_lane{b}")   # the write lane whose address is in bank b
            m.d.comb += lane.eq(b - low)
            port = mem.write_port()
            m.d.comb += [port.addr.eq(high + (low > b)), port.data.eq(Array(write.data[k] for k in range(banks))[lane]),
                         port.en.eq(write.en.bit_select(lane, 1))]
            for i in range(self._rows):
                read = mem.read_port()
                m.d.comb += [read.addr.eq(self.ifmap_read[i].addr[bits:]), read.en.eq(self.ifmap_read[i].en)]
                outs[i].append(read.data)
        for i in range(self._rows):
            m.d.comb += [self.ifmap_data[i].eq(Array(outs[i])[selects[i]]), self.ifmap_lines[i].eq(Cat(*outs[i]))]
