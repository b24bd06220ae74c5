"""The broadcast ``rows x cols`` PE array with its reduction (WS) or drain (OS) network."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.pe import ProcessingElement
from hw.select import select
from hw.sums import tree_sum
from hw.signatures import ArrayControlSignature
from model.config import Dataflow

__all__ = ["PEArray"]


class PEArray(wiring.Component):
    """``rows x cols`` processing elements. Row ``i`` gets operand ``a[i]``; column ``j`` serves one filter.

    Parameters
    ----------
    dataflow, word_bits, binary, product_bits, acc_bits, rf_depth
        As :class:`hw.pe.ProcessingElement`.
    rows, cols : int
        Array shape.
    depthwise : bool
        Add the ``lines`` port and ``ctrl.depthwise``: each PE may take its own lane of its row's line;
        output-stationary also ``weights2`` and ``ctrl.wsel``.

    Ports
    -----
    ctrl : In(ArrayControlSignature)
        From the controller (see the signature for each dataflow).
    a : In(ArrayLayout(word_bits, rows))
        Operand word of each row (broadcast along the row).
    lines : In(ArrayLayout(ArrayLayout(word_bits, cols), rows)), with ``depthwise``
        The ifmap line each row read; PE ``(i, j)`` multiplies lane ``j`` of line ``i`` when
        ``ctrl.depthwise`` (a depthwise pass: column ``j`` is channel ``j``), else ``a[i]``.
    weights2 : In(ArrayLayout(word_bits, cols)), output-stationary with ``depthwise``
        A second weight line: row ``i`` multiplies it instead of ``weights`` when ``ctrl.wsel[i]``.
    weights : In(ArrayLayout(word_bits, cols))
        A weight line: WS, loaded into entry ``ctrl.load_sel`` of row ``ctrl.load_row``;
        OS, the weight of each column (broadcast along the column) with ``a``.
    result : Out(ArrayLayout(signed(acc_bits), cols))
        WS: the column accumulators, ``acc[j] <= (acc_first ? 0 : acc[j]) + sum_i product[i][j]``
        when ``ctrl.acc_en`` (valid one cycle after the product stage). OS: register-file entry
        ``ctrl.drain_sel`` of every PE of row ``ctrl.drain_row``, combinationally.
    """

    def __init__(self, dataflow: Dataflow, rows: int, cols: int, word_bits: int, binary: bool, product_bits: int,
                 acc_bits: int, rf_depth: int, depthwise: bool = False):
        self._dataflow = Dataflow(dataflow)
        self._pe_args = (self._dataflow, word_bits, binary, product_bits, acc_bits, rf_depth)
        self._rows, self._cols, self._acc_bits, self._depthwise = rows, cols, acc_bits, depthwise
        members = {
            "ctrl": In(ArrayControlSignature(self._dataflow, rows, cols, rf_depth, word_bits if binary else 1,
                                             depthwise)),
            "a": In(data.ArrayLayout(word_bits, rows)),
            "weights": In(data.ArrayLayout(word_bits, cols)),
            "result": Out(data.ArrayLayout(signed(acc_bits), cols)),
        }
        if depthwise:
            members["lines"] = In(data.ArrayLayout(data.ArrayLayout(word_bits, cols), rows))
            if self._dataflow is Dataflow.OS:
                members["weights2"] = In(data.ArrayLayout(word_bits, cols))
        super().__init__(members)

    def elaborate(self, platform):
        rows, cols, ctrl = self._rows, self._cols, self.ctrl
        ws = self._dataflow is Dataflow.WS
        m = Module()
        pes = [[ProcessingElement(*self._pe_args) for _ in range(cols)] for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                pe = pes[i][j]
                m.submodules[f"pe_{i}_{j}"] = pe
                operand = Mux(ctrl.depthwise, self.lines[i][j], self.a[i]) if self._depthwise else self.a[i]
                weight = self.weights[j]
                if self._depthwise and not ws:
                    weight = Mux(ctrl.wsel[i], self.weights2[j], weight)
                m.d.comb += [pe.a.eq(operand), pe.weight.eq(weight), pe.ctrl.mask.eq(ctrl.mask[i])]
                if ws:
                    m.d.comb += [
                        pe.ctrl.rf_sel.eq(ctrl.rf_sel),
                        pe.ctrl.load_en.eq(ctrl.load_en & (ctrl.load_row == i)),
                        pe.ctrl.load_sel.eq(ctrl.load_sel),
                    ]
                else:
                    m.d.comb += [
                        pe.ctrl.acc_en.eq(ctrl.acc_row_en[i] & ctrl.acc_col_en[j]),
                        pe.ctrl.acc_first.eq(ctrl.acc_first),
                        pe.ctrl.acc_sel.eq(ctrl.acc_sel),
                        pe.ctrl.drain_sel.eq(ctrl.drain_sel),
                    ]
        for j in range(cols):
            if ws:
                column = tree_sum(pes[i][j].product for i in range(rows))
                acc = Signal(signed(self._acc_bits), name=f"acc{j}")
                with m.If(ctrl.acc_en):
                    m.d.sync += acc.eq(Mux(ctrl.acc_first, 0, acc) + column)
                m.d.comb += self.result[j].eq(acc)
            else:
                # A mux tree, not an Array read (an `always @*` Icarus may never run: hw/select.py).
                m.d.comb += self.result[j].eq(select([pes[i][j].drain for i in range(rows)], ctrl.drain_row))
        return m
