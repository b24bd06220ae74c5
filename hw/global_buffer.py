"""The global buffer: on-chip ifmap, weight and psum/ofmap memories (``amaranth.lib.memory``)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.signatures import RequestSignature, WritePortSignature

__all__ = ["GlobalBuffer"]


class GlobalBuffer(wiring.Component):
    """Three memories; every read is synchronous (data one cycle after the request), every write
    takes effect at the end of the cycle.

    * ifmap: ``ifmap_depth`` words of ``word_bits``; one write port, ``rows`` read ports
      (one per array row), so one access = one word.
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

    Ports
    -----
    ifmap_write, weight_write, psum_write : In(WritePortSignature)
    ifmap_read : In(RequestSignature).array(rows); weight_read, psum_read, psum_host_read : In(RequestSignature)
    ifmap_data : Out(ArrayLayout(word_bits, rows))
        Row ``i``'s word, read by ``ifmap_read[i]``.
    weight_data : Out(ArrayLayout(word_bits, cols)); psum_data, psum_host_data : Out(ArrayLayout(acc_bits, cols))
        The line last read by that port (held while no new read is requested).
    """

    def __init__(self, rows: int, cols: int, word_bits: int, acc_bits: int,
                 ifmap_depth: int, weight_depth: int, psum_depth: int):
        self._rows = rows
        weight_line, psum_line = data.ArrayLayout(word_bits, cols), data.ArrayLayout(acc_bits, cols)
        self._ifmap = memory.Memory(shape=word_bits, depth=ifmap_depth, init=[])
        self._weights = memory.Memory(shape=weight_line, depth=weight_depth, init=[])
        self._psum = memory.Memory(shape=psum_line, depth=psum_depth, init=[])
        super().__init__({
            "ifmap_write": In(WritePortSignature(ifmap_depth, word_bits)),
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
        m.submodules.ifmap = self._ifmap
        m.submodules.weights = self._weights
        m.submodules.psum = self._psum

        self._write(m, self._ifmap.write_port(), self.ifmap_write)
        for i in range(self._rows):
            self._read(m, self._ifmap.read_port(), self.ifmap_read[i], self.ifmap_data[i])
        self._write(m, self._weights.write_port(granularity=1), self.weight_write)
        self._read(m, self._weights.read_port(), self.weight_read, self.weight_data)
        psum_write = self._psum.write_port(granularity=1)
        self._write(m, psum_write, self.psum_write)
        self._read(m, self._psum.read_port(transparent_for=(psum_write,)), self.psum_read, self.psum_data)
        self._read(m, self._psum.read_port(), self.psum_host_read, self.psum_host_data)
        return m
