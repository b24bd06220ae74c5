"""The settings of the digits study: everything its networks and numbers depend on."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.quant.training import Schedule
from model.validate import check_int

__all__ = ["StudySettings"]


@dataclass(frozen=True, kw_only=True)
class StudySettings:
    """Everything the study's numbers depend on.

    Attributes
    ----------
    seed : int
        Seeds the split, the initial weights and the batch order.
    test_fraction : float
        Share of images held out for measuring accuracy.
    train_limit, test_limit : int or None
        Use only this many training or held-out images (smoke runs).
    calibration_images : int
        Training images used to calibrate ranges and measure sensitivity.
    float_schedule, finetune_schedule, binary_schedule : Schedule
        Training of the float network, of QAT/ternary fine-tuning, and of the binary network.
    mixed_bits : tuple of int
        Bit widths mixed precision chooses from.
    mixed_budget_bits : float
        Weight-memory budget of mixed precision, in average bits per weight
        (a fraction, so that no uniform width fills it exactly).
    """

    seed: int = 0
    test_fraction: float = 0.2
    train_limit: int | None = None
    test_limit: int | None = None
    calibration_images: int = 512
    float_schedule: Schedule = field(default_factory=lambda: Schedule(epochs=30))
    finetune_schedule: Schedule = field(default_factory=lambda: Schedule(epochs=8, lr=0.01))
    binary_schedule: Schedule = field(default_factory=lambda: Schedule(epochs=25, lr=0.03))
    mixed_bits: tuple = (2, 3, 4, 5, 6, 8)
    mixed_budget_bits: float = 3.5

    def __post_init__(self) -> None:
        check_int("seed", self.seed, 0)
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), not {self.test_fraction!r}")
        for name in ("train_limit", "test_limit"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        check_int("calibration_images", self.calibration_images, 1)
        for b in self.mixed_bits:
            check_int("mixed_bits", b, 2, 16)
        if not 2.0 <= self.mixed_budget_bits <= 16.0:
            raise ValueError(f"mixed_budget_bits must be in 2..16, not {self.mixed_budget_bits!r}")
