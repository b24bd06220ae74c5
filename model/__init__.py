"""Golden model of the qconv accelerator: pure numpy.

Modules: :mod:`model.config` (the one accelerator configuration),
:mod:`model.layer` (layer shapes), :mod:`model.conv` (bit-exact golden
convolutions), :mod:`model.data` (seeded operands), :mod:`model.quant`
(quantizers, requantization, integer-only inference, the digits CNN study).
"""
