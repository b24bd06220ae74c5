"""Quantized ONNX networks: import (QDQ and QOperator), integer execution with ONNX Runtime's semantics,
convolutions lowered onto the accelerator, and model builders (issue 13).

Modules: :mod:`~model.network.graph` (the imported integer graph),
:mod:`~model.network.importer` (parsing, folding, refusals),
:mod:`~model.network.host_ops` (integer host operations and their rounding rules),
:mod:`~model.network.lowering` (a convolution in the accelerator's terms),
:mod:`~model.network.executor` (running a graph), :mod:`~model.network.performance`
(per-layer cycles and energy), :mod:`~model.network.builders` (float models
written with ``onnx.helper``).
"""

from model.network.executor import Execution, check_input, execute, golden_accelerator, prepare
from model.network.importer import ModelError, import_model
from model.network.lowering import RequantRule

__all__ = ["ModelError", "RequantRule", "Execution", "import_model", "prepare", "check_input", "execute",
           "golden_accelerator"]
