"""The whole System against cocotbext-axi's AxiRam (code no one here wrote), on Icarus and Verilator.

The System's AXI4 master drives an ``AxiRam`` with seeded pauses on AR, R, AW, W and B; the layer is
started with cocotbext-axi's ``AxiLiteMaster``. Over small tiled layers (output rows with halo at
stride 2 with padding, channels accumulated, filters, images; 8-bit requantized and 16-bit raw
outputs): the whole memory after each layer equals the canary image with the golden conv
(model.conv) in the output rows (nothing lost or duplicated, padding and tail untouched), the byte,
burst and accelerator counters equal the model's, and ``sys_cycles`` is never below
model/system_perf.py's prediction for the fastest DRAM the AxiRam can be (latency 2, a beat a cycle;
without pauses it is exactly that). SLVERR and DECERR on a read (the weights) or a write (the
outputs) end the layer with irq, STATUS DONE|ERROR and that error, and the next layer runs exactly.
``python -m sim.system.axiram_run --seeds N`` runs more seeds.
"""

import dataclasses

import pytest

from model.contract import SYSTEM_TOP_NAME, AxiResp, DmaError, StatusBit
from model.layer import ConvLayer
from sim.axi.copy_run import FaultSide
from sim.system.axiram_run import (
    CASES, DOUBLE_TILING, LAYERS, TILING, AxiRamCase, AxiRamMismatch, AxiRamResult, SystemStopped, check_case,
    prepare_case, raise_for_status, run_cases, wrapper_verilog,
)
from tests.tiled_layers import STRIDED_1X1, TILED_LAYERS
from tests.tiled_layers import SYSTEM_TILING
from tests.tiled_layers import TILING as TESTS_TILING

#: On Verilator (a build per configuration costs a minute): the double-buffered 8-bit cases only, one build.
VERILATOR_CASES = tuple(c for c in CASES if c.bits == 8 and not c.single)


def _clean_result(p, **changes) -> AxiRamResult:
    """The result a correct System would give for prepared case ``p`` (built from the reference, not a run)."""
    done = 1 << StatusBit.DONE
    result = AxiRamResult(p.case.name, True, p.model["sys_cycles"] + 5, done, 0, dict(p.model), p.expected.tobytes())
    return dataclasses.replace(result, **changes)


def test_the_layers_are_the_tiled_layers_of_the_tests():
    assert TILING == TESTS_TILING and DOUBLE_TILING == SYSTEM_TILING
    assert {name: ConvLayer(**shape) for name, shape in LAYERS.items()} == TILED_LAYERS | {"strided-1x1": STRIDED_1X1}


def test_every_error_case_is_followed_by_a_clean_layer_of_its_build():
    for case, after in zip(CASES, CASES[1:] + (None,)):
        if case.fault is not FaultSide.NONE:
            assert after is not None and (after.bits, after.single) == (case.bits, case.single), case.name
            assert after.fault is FaultSide.NONE, case.name


def test_the_checker_catches_what_it_promises():
    p = prepare_case(AxiRamCase("probe", 8, "column-bands", requant=True, seed=3))
    check_case(p, _clean_result(p))                      # the reference itself passes
    memory = p.expected.copy()
    pad = int(p.rows[0]) + int(p.image.out_format) * p.image.out_shape[3] * p.image.out_block
    assert pad < int(p.rows[1]), "the case should have row padding"
    for at, what in ((pad, "the row's padding"), (len(p.image.data) + 7, "in the tail"),
                     (p.image.weight_addr, "below the output region"), (int(p.rows[2]), "output")):
        bad = memory.copy()
        bad[at] ^= 0x5A
        with pytest.raises(AxiRamMismatch, match=what):
            check_case(p, _clean_result(p, memory=bad.tobytes()))
    for name in ("dram_bytes_written", "axi_read_bursts", "glb_psum_writes"):
        counters = dict(p.model) | {name: p.model[name] + 1}
        with pytest.raises(AxiRamMismatch, match=name):
            check_case(p, _clean_result(p, counters=counters))
    for name in ("sys_cycles", "stall_cycles"):
        with pytest.raises(AxiRamMismatch, match=f"{name} .* below the model's"):
            check_case(p, _clean_result(p, counters=dict(p.model) | {name: p.model[name] - 1}))
    with pytest.raises(AxiRamMismatch, match="counters still moved after irq"):
        check_case(p, _clean_result(p, late={"cycles": 3}))
    with pytest.raises(AxiRamMismatch, match="hung"):
        check_case(p, _clean_result(p, irq=False, cycles=None))
    with pytest.raises(AxiRamMismatch, match="ERROR SLVERR"):
        check_case(p, _clean_result(p, status=0b110, error=DmaError.SLVERR))
    faulty = prepare_case(AxiRamCase("probe-fault", 8, "filters", seed=5, fault=FaultSide.READ,
                                     fault_resp=AxiResp.DECERR))
    with pytest.raises(AxiRamMismatch, match=r"want DONE\|ERROR and DECERR"):
        check_case(faulty, _clean_result(faulty))        # a clean end where an error was due


def test_raise_for_status_names_the_error():
    ok = AxiRamResult("x", True, 10, 1 << StatusBit.DONE, 0, {}, b"")
    raise_for_status(ok)
    for error in (DmaError.SLVERR, DmaError.DECERR, DmaError.BAD_COMMAND):
        with pytest.raises(SystemStopped, match=rf"x: the System stopped the layer with ERROR {error.name} "
                                                r"\(STATUS 0x6\)"):
            raise_for_status(dataclasses.replace(ok, status=0b110, error=error))
    with pytest.raises(SystemStopped, match="did not raise irq within the bounded wait"):
        raise_for_status(dataclasses.replace(ok, irq=False))
    with pytest.raises(SystemStopped, match="ended without DONE"):
        raise_for_status(dataclasses.replace(ok, status=1 << StatusBit.BUSY))


def test_the_wrapper_gates_only_rready():
    system = ("module qconv_system(a, m_axi__read__rready, b);\n  input clk;\n  input [7:0] a;\n"
              "  output m_axi__read__rready;\n  output [47:0] b;\nendmodule\n")
    text = wrapper_verilog(system)
    assert "assign m_axi__read__rready = system_rready === 1'b1;" in text
    assert ".a(a)" in text and ".b(b)" in text and ".clk(clk)" in text and f"  {SYSTEM_TOP_NAME} system (" in text


@pytest.mark.cosim
def test_an_error_ends_the_layer_only_once_the_accelerator_is_idle(require_simulator):
    require_simulator("icarus")
    cases = [c for c in CASES if c.fault is FaultSide.WRITE and not c.single and c.bits == 8]   # the 8-bit build
    assert len(cases) == 1
    for p, result in run_cases("icarus", cases):
        check_case(p, result)
        assert result.late == {}, f"{p.case.name}: counters moved after irq: {result.late}"


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_system_against_axiram_with_pauses_and_error_responses(simulator, require_simulator):
    require_simulator(simulator)
    cases = CASES if simulator == "icarus" else VERILATOR_CASES
    assert {c.fault for c in cases} == set(FaultSide) and {c.fault_resp for c in cases} == {AxiResp.SLVERR,
                                                                                            AxiResp.DECERR}
    runs = run_cases(simulator, cases)
    for p, result in runs:
        check_case(p, result)
    by_name = {p.case.name: (p, r) for p, r in runs}
    paused = [(p, r) for p, r in runs if p.case.pause > 0 and p.case.fault is FaultSide.NONE]
    # pauses cost cycles: every paused clean run is slower than the fastest DRAM
    assert all(r.counters["sys_cycles"] > p.model["sys_cycles"] for p, r in paused)
    # an error ends the layer early: it stops issuing, and no output of a failed read is ever stored
    failed_read = by_name["8bit-weights-slverr"]
    assert failed_read[1].counters["sys_cycles"] < failed_read[0].model["sys_cycles"]
    assert failed_read[1].counters["dram_bytes_written"] == 0
