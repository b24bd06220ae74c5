"""model.infer stages on qconv_top in amaranth.sim: an (untrained) 8-bit and binary digits CNN, every layer
requantized in hardware, bit-exact against the golden integer model; and `qconv infer`'s report summary."""

import numpy as np
import pytest
from hw_exec import run_layers

from model.config import AcceleratorConfig
from model.infer import accelerator_stages, golden_stage_outputs
from model.perf import predict
from model.quant.binary_network import build_binary_network
from model.quant.integer_network import build_integer_network
from model.quant.network import forward, init_parameters
from model.quant.plans import activation_ranges, binary_plan


def _network(bits, rng, images):
    params = init_parameters(rng)
    params.biases = [rng.normal(0, 0.1, b.shape) for b in params.biases]
    if bits == 8:
        ranges = activation_ranges(params, images, 8)
        return build_integer_network(params, ranges[:-1], ranges[-1], 8)
    logits = forward(params, images, binary_plan())[0]
    return build_binary_network(params, (float(logits.min()), float(logits.max())))


@pytest.mark.parametrize("bits", [8, 1])
def test_network_stages_on_the_rtl_match_the_golden_model(bits):
    rng = np.random.default_rng(5)
    images = rng.uniform(0, 1, (1, 1, 8, 8))
    network = _network(bits, rng, images)
    config = AcceleratorConfig.preset("tiny", bits=bits, rows=4, cols=4, weight_depth=256, pack=64, max_reduction=2**14)
    golden = golden_stage_outputs(network, images)
    host = network.input_bits(images) if bits == 1 else network.quantize_input(images)
    for stage, want in zip(accelerator_stages(network, len(images)), golden):
        x = stage.prepare(host)
        [(out, counters)] = run_layers(config, [(stage.layer, x, stage.weights, stage.requant)])
        assert counters == predict(config, stage.layer).counters
        host = stage.finish(out)
        assert np.array_equal(host, want), f"{stage.name}: host output differs from the golden model"
    assert np.array_equal(host.argmax(axis=1), network.predict(images))
