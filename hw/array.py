"""The broadcast ``rows x cols`` PE array with its reduction (WS) or drain (OS) network."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.pe import OUTPUT_STATIONARY, WEIGHT_STATIONARY, ProcessingElement
from hw.select import select

__all__ = ["PEArray"]


class PEArray(wiring.Component):
    """``rows x cols`` processing elements. Row ``i`` gets operand ``a[i]``; column ``j`` serves one filter.

    Parameters
    ----------
    rows, cols, word_bits, binary, acc_bits, rf_depth, stationary
        As :class:`hw.pe.ProcessingElement`; ``stationary`` picks the dataflow.

    Ports (all dataflows)
    ---------------------
    a : In(ArrayLayout(word_bits, rows)); mask : In(ArrayLayout(word_bits or 1, rows))
        Operand word and mask of each row (broadcast along the row).

    Weight-stationary (``"ws"``): rows are reduction words, columns filters
    ----------------------------------------------------------------------
    rf_sel : In(range(rf_depth))
        Register-file entry every PE multiplies with this cycle.
    load_en, load_row, load_sel : In(1), In(range(rows)), In(range(rf_depth))
    load_data : In(ArrayLayout(word_bits, cols))
        A weight-buffer line written into entry ``load_sel`` of row ``load_row``.
    acc_en, acc_first : In(1)
        One cycle after ``a``: column accumulator ``acc[j] <= (acc_first ? 0 : acc[j]) + sum_i product[i][j]``.
    acc : Out(ArrayLayout(signed(acc_bits), cols))
        Column accumulators; latency 2 cycles from ``a`` (product register, then accumulator).

    Output-stationary (``"os"``): rows are output pixels, columns filters
    --------------------------------------------------------------------
    w : In(ArrayLayout(word_bits, cols))
        Weight word of each column (broadcast along the column), with ``a``.
    acc_row_en : In(rows); acc_col_en : In(cols); acc_first : In(1); acc_sel : In(range(rf_depth))
        One cycle after ``a``: PE(i, j) with both enables adds its product to entry ``acc_sel``.
    drain_row : In(range(rows)); drain_sel : In(range(rf_depth))
    drain : Out(ArrayLayout(signed(acc_bits), cols))
        Entry ``drain_sel`` of every PE of row ``drain_row``, combinationally.
    """

    def __init__(self, rows: int, cols: int, word_bits: int, binary: bool, acc_bits: int, rf_depth: int,
                 stationary: str):
        self._shape = (rows, cols, word_bits, binary, acc_bits, rf_depth, stationary)
        mask_bits = word_bits if binary else 1
        members = {
            "a": In(data.ArrayLayout(word_bits, rows)),
            "mask": In(data.ArrayLayout(mask_bits, rows)),
        }
        if stationary == WEIGHT_STATIONARY:
            members |= {
                "rf_sel": In(range(rf_depth)),
                "load_en": In(1),
                "load_row": In(range(rows)),
                "load_sel": In(range(rf_depth)),
                "load_data": In(data.ArrayLayout(word_bits, cols)),
                "acc_en": In(1),
                "acc_first": In(1),
                "acc": Out(data.ArrayLayout(signed(acc_bits), cols)),
            }
        elif stationary == OUTPUT_STATIONARY:
            members |= {
                "w": In(data.ArrayLayout(word_bits, cols)),
                "acc_row_en": In(rows),
                "acc_col_en": In(cols),
                "acc_first": In(1),
                "acc_sel": In(range(rf_depth)),
                "drain_row": In(range(rows)),
                "drain_sel": In(range(rf_depth)),
                "drain": Out(data.ArrayLayout(signed(acc_bits), cols)),
            }
        else:
            raise ValueError(f"stationary must be 'ws' or 'os', not {stationary!r}")
        super().__init__(members)

    def elaborate(self, platform):
        rows, cols, word_bits, binary, acc_bits, rf_depth, stationary = self._shape
        m = Module()
        pes = [[ProcessingElement(word_bits, binary, acc_bits, rf_depth, stationary) for _ in range(cols)]
               for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                pe = pes[i][j]
                m.submodules[f"pe_{i}_{j}"] = pe
                m.d.comb += [pe.a.eq(self.a[i]), pe.mask.eq(self.mask[i])]
                if stationary == WEIGHT_STATIONARY:
                    m.d.comb += [
                        pe.rf_sel.eq(self.rf_sel),
                        pe.load_en.eq(self.load_en & (self.load_row == i)),
                        pe.load_sel.eq(self.load_sel),
                        pe.load_data.eq(self.load_data[j]),
                    ]
                else:
                    m.d.comb += [
                        pe.w.eq(self.w[j]),
                        pe.acc_en.eq(self.acc_row_en[i] & self.acc_col_en[j]),
                        pe.acc_first.eq(self.acc_first),
                        pe.acc_sel.eq(self.acc_sel),
                        pe.drain_sel.eq(self.drain_sel),
                    ]
        for j in range(cols):
            if stationary == WEIGHT_STATIONARY:
                column = pes[0][j].product
                for i in range(1, rows):
                    column = column + pes[i][j].product
                acc = Signal(signed(acc_bits), name=f"acc{j}")
                with m.If(self.acc_en):
                    m.d.sync += acc.eq(Mux(self.acc_first, 0, acc) + column)
                m.d.comb += self.acc[j].eq(acc)
            else:
                # A mux tree, not an Array read (an `always @*` Icarus may never run: hw/select.py).
                m.d.comb += self.drain[j].eq(select([pes[i][j].drain_data for i in range(rows)], self.drain_row))
        return m
