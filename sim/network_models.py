"""The three bundled networks, quantized by ONNX Runtime, and the images ``qconv run --images`` feeds them.

* ``digits``: the project's trained digits CNN (``qconv quant``'s float
  network, trained and cached on first use) exported with
  :func:`model.network.builders.digits_cnn` and calibrated on the study's 512
  calibration images; its images are the 359 held-out test digits.
* ``resnet18``, ``mobilenet_v1``: :mod:`model.network.builders` at 224x224
  with seeded weights, calibrated on 8 seeded Gaussian images; their images
  are seeded Gaussian images.

Each is written as ``build/models/<name>.onnx`` (QDQ, per-channel int8
weights, uint8 activations) beside its float model ``<name>_float.onnx``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import numpy as np
import onnx

from model.network.builders import DATASET_KEY, Dataset, digits_cnn, mobilenet_v1, resnet18
from model.network.graph import Graph
from sim.onnx_reference import quantize_model

__all__ = ["MODELS_ROOT", "ModelName", "build_model", "dataset_images", "gaussian_images"]

#: Where the bundled models are written.
MODELS_ROOT = Path("build/models")
#: Calibration images of the Gaussian-input models.
CALIBRATION_IMAGES = 8


class ModelName(StrEnum):
    """The bundled networks."""

    DIGITS = "digits"
    RESNET18 = "resnet18"
    MOBILENET_V1 = "mobilenet_v1"


def gaussian_images(count: int, shape: tuple[int, ...], seed) -> np.ndarray:
    """``count`` seeded standard-normal float32 images of ``shape`` (C, H, W)."""
    return np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)


def _digits_split(seed: int = 0):
    """The study's split of the bundled digits (:func:`model.quant.trained.split_digits`)."""
    from sklearn.datasets import load_digits

    from model.quant.settings import StudySettings
    from model.quant.trained import split_digits

    digits = load_digits()
    return split_digits(digits.images, digits.target, StudySettings(seed=seed))


def build_model(name: ModelName, out_dir: Path = MODELS_ROOT, seed: int = 0, log=print) -> Path:
    """Build, quantize and write one bundled model; returns the quantized model's path."""
    name = ModelName(name)
    if name is ModelName.DIGITS:
        from model.quant.settings import StudySettings
        from model.quant.trained import Network, TrainedNetworks

        networks = TrainedNetworks(_digits_split(seed), StudySettings(seed=seed), Path("build/quant"))
        model, calibration = digits_cnn(networks[Network.FP32]), networks.data.x_cal.astype(np.float32)
    else:
        model = resnet18(seed) if name is ModelName.RESNET18 else mobilenet_v1(seed)
        calibration = gaussian_images(CALIBRATION_IMAGES, (3, 224, 224), [seed, 7])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out_dir / f"{name}_float.onnx")
    log(f"quantizing {name} with ONNX Runtime on {len(calibration)} calibration images")
    return quantize_model(model, calibration, out_dir / f"{name}.onnx")


def dataset_images(graph: Graph, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """The first ``count`` images of the data set the model names (metadata ``qconv.dataset``), and labels if known.

    Raises
    ------
    ValueError
        If the model names no known data set or ``count`` is out of range.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"--images must be at least 1, not {count!r}")
    name = graph.metadata.get(DATASET_KEY)
    if name == Dataset.DIGITS:
        split = _digits_split(seed)
        x_test, y_test = split.x_test, split.y_test
        if count > len(x_test):
            raise ValueError(f"--images {count}: the digits test set has {len(x_test)} images")
        return x_test[:count].astype(np.float32), y_test[:count]
    if name == Dataset.GAUSSIAN:
        shape = graph.input.shape[1:]
        if any(d is None for d in shape):
            raise ValueError(f"input {graph.input.name!r} has a dynamic image shape {shape}; give --input X.npy")
        return gaussian_images(count, shape, [seed, 11]), None
    known = ", ".join(d.value for d in Dataset)
    raise ValueError(f"the model names no data set qconv knows (metadata {DATASET_KEY}={name!r}; known: {known}); "
                     f"give --input X.npy")
