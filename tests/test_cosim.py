"""Co-simulation of the RTL against the model on Icarus and Verilator.

Each test builds one configuration for one simulator and runs several layers
on that build: a layer larger than the array in every dimension, stride 2
with padding, a 1x1 conv, N=2, and a layer that needs more than one pass
through the global buffer. Outputs must match the golden convolution bit for
bit, and cycles and every counter must equal the analytical model.
"""

import pytest

from model.config import AcceleratorConfig
from model.layer import parse_layer
from model.perf import predict
from sim.runner import build, run
from sim.simulators import SIMULATORS
from tiled_layers import TILING, tiled_cases

pytestmark = pytest.mark.cosim

# A non-square array with small buffers, so that multi-pass layers stay small.
BASE = AcceleratorConfig(rows=3, cols=2, ifmap_depth=512, weight_depth=128, psum_depth=256, pack=8)

LAYERS = [
    "N=1,C=5,H=7,W=6,M=5,R=3,S=2",  # larger than the array in every dimension
    "N=1,C=3,H=7,W=7,M=3,R=3,S=3,stride=2,pad=1",  # stride 2 with padding
    "N=1,C=4,H=5,W=5,M=3,R=1,S=1",  # 1x1
    "N=2,C=2,H=5,W=5,M=3,R=3,S=3,pad=1",  # N=2
    "N=3,C=4,H=9,W=9,M=6,R=3,S=3",  # more than one pass through the global buffer
    "N=1,C=20,H=4,W=4,M=3,R=2,S=2,pad=1",  # many channels: several packed words when binary
]


def test_multi_pass_layer_needs_several_passes():
    for bits in (1, 4, 8, 16):
        assert predict(BASE.replace(bits=bits), parse_layer(LAYERS[4])).passes > 1


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("bits", [1, 4, 8, 16], ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_rtl_matches_model(simulator, dataflow, bits, require_simulator):
    require_simulator(simulator)
    config = BASE.replace(dataflow=dataflow, bits=bits, rf_depth=4 if bits == 8 else 2)
    jobs = [(parse_layer(text), seed) for seed, text in enumerate(LAYERS, start=1)]
    results = run(build(config, simulator, cxx_opt="-O0"), jobs)
    failures = [_describe(r) for r in results if not r["pass"]]
    assert not failures, f"{simulator} {dataflow} bits={bits}:\n" + "\n".join(failures)


#: Tiled layers: each simulator runs both dataflows and 8-bit, binary and 16-bit builds between them.
TILED_BUILDS = [("icarus", "ws", 8), ("icarus", "os", 1), ("icarus", "os", 16),
                ("verilator", "os", 8), ("verilator", "ws", 1), ("verilator", "ws", 16)]


@pytest.mark.parametrize("simulator, dataflow, bits", TILED_BUILDS, ids=lambda v: str(v))
def test_tiled_layers_rtl_matches_model(simulator, dataflow, bits, require_simulator):
    """Row bands (stride 2, padding), column bands, channel, filter and image tiles of :mod:`tiled_layers`."""
    require_simulator(simulator)
    config = AcceleratorConfig(**TILING, dataflow=dataflow, bits=bits)
    jobs = [(layer, seed) for seed, layer in enumerate(tiled_cases(config).values(), start=1)]
    results = run(build(config, simulator, cxx_opt="-O0"), jobs)
    failures = [_describe(r) for r in results if not r["pass"]]
    assert not failures, f"{simulator} {dataflow} bits={bits} tiled:\n" + "\n".join(failures)


def _describe(result: dict) -> str:
    parts = [f"layer {result['layer']} seed {result['seed']}"]
    if result.get("error"):
        parts.append(result["error"])
    if result.get("first_mismatch"):
        m = result["first_mismatch"]
        parts.append(f"output {tuple(m['index'])}: expected {m['expected']}, got {m['actual']}")
    for name in result.get("counter_mismatches", []):
        pair = result["counters"][name]
        parts.append(f"{name}: rtl {pair['rtl']} != model {pair['model']}")
    return " | ".join(parts)
