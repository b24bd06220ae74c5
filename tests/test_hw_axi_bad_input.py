# amaranth: UnusedElaboratable=no
"""hw/axi: bad parameters are ValueErrors naming the field, the value and the choices.

A component whose ``__init__`` raises has already been created, and warns "created but never used"
when the garbage collector frees it (it sits in a reference cycle), in whatever test runs then. So each
test frees it at once, with that warning ignored; the first line (Amaranth's own idiom for such tests)
silences it should the collector find one later.
"""

import gc
import re
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable

from hw.axi.burst_walker import BurstWalker
from hw.axi.read_dma import ReadDma
from hw.axi.signatures import AxiLiteSignature
from hw.axi.write_dma import WriteDma


@pytest.mark.parametrize("build, message", [
    (lambda: ReadDma(48), "data_bits must be one of 32, 64, 128, not 48"),
    (lambda: WriteDma(256), "data_bits must be one of 32, 64, 128, not 256"),
    (lambda: BurstWalker(2), "beat_bytes must be one of 4, 8, 16, not 2"),
    (lambda: AxiLiteSignature(2), "addr_bits must be an integer in 3..32, not 2"),
], ids=["read-dma", "write-dma", "walker", "lite"])
def test_bad_parameters_name_the_field_and_the_choices(build, message):
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        build()
    del raised
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        gc.collect()
