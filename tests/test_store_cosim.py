"""Column-tile STOREs that start inside a beat, through the System's Verilog on both simulators.

Requantized 1-byte outputs of column tiles start mid-beat; the write DMA strobes only the run's
bytes of its first and last beats. The output must be bit-exact against the golden conv, every
byte of the output region outside the STORE runs must keep the sentinel it held before the layer, and
every counter must equal :mod:`model.system_perf`'s prediction (which walks such a STORE as the RTL does).
"""

import numpy as np
import pytest

from model.commands import read_output
from model.dram import DramConfig
from model.system_perf import accelerator_counters, predict_system
from sim.simulators import SIMULATORS
from sim.system.run import run_system
from tests.command_reference import assert_outside_runs_untouched, mid_beat_case, moved


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_mid_beat_column_stores_on_the_system(simulator):
    case = mid_beat_case()
    dram = DramConfig(latency=40, bandwidth=8)
    run = run_system(case.config, case.image, simulator, dram)
    assert run.error == 0
    np.testing.assert_array_equal(read_output(case.image, run.dump), case.expected)
    assert_outside_runs_untouched(case.image, run.dump)
    assert run.counters["dram_bytes_written"] == sum(moved(f) for f in case.stores)
    predicted = (predict_system(case.config, case.image, dram).counters
                 | accelerator_counters(case.config, case.layer, case.image))
    assert {name: run.counters[name] for name in predicted} == predicted
