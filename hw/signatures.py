"""The interfaces between the accelerator's components, each declared once as an Amaranth wiring signature.

Members are named from the initiator's side (``Out`` = driven by the component
that holds the signature unflipped). Components hold them as ports and are
joined with :func:`amaranth.lib.wiring.connect`:

* :class:`RequestSignature`, :class:`WritePortSignature` -- global-buffer ports
  (the buffer holds them flipped; read data comes back on the buffer's data outputs,
  :data:`model.contract.GLB_READ_LATENCY` cycles after the request);
* :class:`ArrayControlSignature` -- controller -> PE array, per dataflow;
* :class:`PEControlSignature` -- PE array -> one processing element, per dataflow;
* :class:`HostPortSignature` -- the external host -> the accelerator;
* :class:`RequantParamsSignature` -- the host read path -> the requantization parameter store.
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from model.config import AcceleratorConfig, Dataflow
from model.contract import (
    REQUANT_CHANNELS, REQUANT_FIELDS, Buffer, host_addr_depth, host_lanes,
)

__all__ = [
    "RequestSignature", "WritePortSignature", "ArrayControlSignature", "PEControlSignature",
    "HostPortSignature", "RequantParamsSignature",
]


class RequestSignature(wiring.Signature):
    """A memory access without its data: ``addr`` and ``en``.

    For a read the data arrives :data:`model.contract.GLB_READ_LATENCY` cycles later on the
    memory's data output; for a write the data comes from the datapath.

    Parameters
    ----------
    depth : int
        Words (or lines) the address spans.
    """

    def __init__(self, depth: int):
        super().__init__({"addr": Out(range(depth)), "en": Out(1)})


class WritePortSignature(wiring.Signature):
    """A memory write at the end of the cycle: ``data`` to ``addr``, one enable bit per lane.

    Parameters
    ----------
    depth : int
        Words (or lines) the address spans.
    shape : shape-castable
        A word, or a line of lanes.
    lanes : int
        Width of ``en`` (1 for a word).
    """

    def __init__(self, depth: int, shape, lanes: int = 1):
        super().__init__({"addr": Out(range(depth)), "data": Out(shape), "en": Out(lanes)})


class ArrayControlSignature(wiring.Signature):
    """Control of the PE array for one dataflow (driven by the controller), at the array's operand stage.

    Common: ``mask`` (one per row: the operand's channel mask, 0 for padding or an unused lane).

    Weight-stationary (rows are reduction words, columns filters):
    ``rf_sel`` the register-file entry every PE multiplies with; ``load_en``, ``load_row``,
    ``load_sel`` write the weight line into entry ``load_sel`` of row ``load_row``; one cycle later
    (the product stage) ``acc_en``, ``acc_first`` drive the column accumulators.

    Output-stationary (rows are pixels, columns filters): at the product stage, PE(i, j) with
    ``acc_row_en[i]`` and ``acc_col_en[j]`` adds its product to entry ``acc_sel`` (``acc_first``:
    start from 0); ``drain_row``, ``drain_sel`` select the register-file entries the array drains.

    With ``depthwise`` (an array fed whole ifmap lines): ``depthwise`` -- PE ``(i, j)`` takes lane ``j``
    of row ``i``'s line instead of the row's word (the descriptor's flag, :data:`model.contract.FLAG_FIELDS`);
    output-stationary also ``wsel`` -- row ``i`` multiplies the second weight line (its pixel is of the
    fold's second channel group).
    """

    def __init__(self, dataflow: Dataflow, rows: int, cols: int, rf_depth: int, mask_bits: int,
                 depthwise: bool = False):
        members = {"mask": Out(data.ArrayLayout(mask_bits, rows))}
        if depthwise:
            members["depthwise"] = Out(1)
            if dataflow is Dataflow.OS:
                members["wsel"] = Out(rows)
        if dataflow is Dataflow.WS:
            members |= {
                "rf_sel": Out(range(rf_depth)),
                "load_en": Out(1),
                "load_row": Out(range(rows)),
                "load_sel": Out(range(rf_depth)),
                "acc_en": Out(1),
                "acc_first": Out(1),
            }
        else:
            members |= {
                "acc_row_en": Out(rows),
                "acc_col_en": Out(cols),
                "acc_first": Out(1),
                "acc_sel": Out(range(rf_depth)),
                "drain_row": Out(range(rows)),
                "drain_sel": Out(range(rf_depth)),
            }
        super().__init__(members)


class PEControlSignature(wiring.Signature):
    """Control of one processing element (driven by the array), at its operand stage.

    Common: ``mask``. Weight-stationary: ``rf_sel`` (entry multiplied with), ``load_en``,
    ``load_sel`` (write the weight word into that entry). Output-stationary: ``acc_en``,
    ``acc_first``, ``acc_sel`` (one cycle later: add the product into that entry) and
    ``drain_sel`` (the entry shown on the PE's drain output).
    """

    def __init__(self, dataflow: Dataflow, rf_depth: int, mask_bits: int):
        members = {"mask": Out(mask_bits)}
        if dataflow is Dataflow.WS:
            members |= {"rf_sel": Out(range(rf_depth)), "load_en": Out(1), "load_sel": Out(range(rf_depth))}
        else:
            members |= {"acc_en": Out(1), "acc_first": Out(1), "acc_sel": Out(range(rf_depth)),
                        "drain_sel": Out(range(rf_depth))}
        super().__init__(members)


class HostPortSignature(wiring.Signature):
    """The host's access to the buffers and the requantization parameters (usable while ``done``).

    ``sel`` (:class:`model.contract.Buffer`), ``addr``, ``lane``: word/line address and lane;
    ``wdata`` with ``we`` writes one word (a lane of a line); ``re`` reads one, shown on
    ``rdata`` :data:`model.contract.READ_LATENCY` cycles later; ``chan`` is the output channel
    whose requantization parameters apply to a psum read. Requantization parameters are written
    at ``addr = requant_address(channel, field)``; lane 0 shifts ``wdata`` into a staging
    register, lane 1 shifts it in and writes the field.
    """

    def __init__(self, config: AcceleratorConfig):
        super().__init__({
            "sel": Out(Buffer),
            "addr": Out(range(host_addr_depth(config))),
            "lane": Out(range(host_lanes(config))),
            "wdata": Out(config.word_bits),
            "we": Out(1),
            "re": Out(1),
            "rdata": In(config.acc_bits),
            "chan": Out(range(REQUANT_CHANNELS)),
        })


class RequantParamsSignature(wiring.Signature):
    """Write and read the per-channel requantization parameters.

    ``write_en`` writes ``write_data`` (the low bits) into field ``write_field`` of channel
    ``write_chan``; ``read_en`` reads every field of ``lanes`` channels, shown the next cycle on the
    ``<field>`` members (:data:`model.contract.REQUANT_FIELDS`), element ``l`` that of channel
    ``(read_chan // lanes) * lanes + l`` (with one lane: ``read_chan``).

    Parameters
    ----------
    lanes : int
        Channels read at once (the psum lanes requantized at once).
    """

    def __init__(self, lanes: int = 1):
        widest = max(width for _, width in REQUANT_FIELDS)
        members = {
            "write_chan": Out(range(REQUANT_CHANNELS)),
            "write_field": Out(range(len(REQUANT_FIELDS))),
            "write_data": Out(widest),
            "write_en": Out(1),
            "read_chan": Out(range(REQUANT_CHANNELS)),
            "read_en": Out(1),
        }
        members |= {name: In(data.ArrayLayout(signed(width) if name == "bias" else unsigned(width), lanes))
                    for name, width in REQUANT_FIELDS}
        super().__init__(members)
