"""Letters to digits: what a run is made of (data, epochs, learning rates), frozen dataclasses by profile."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.core.errors import ConvlensError
from toolkit.data.letters import GeneratedLetters

# ------------------------------------------------------------------------------------ configs


@dataclass(frozen=True)
class DigitAugmentation:
    """Random affine applied to every training digit of the few-sample runs (28x28 pixels)."""

    rotation_deg: float = 10.0
    shear: float = 0.2
    scale: tuple[float, float] = (0.9, 1.1)
    shift_px: float = 2.0


@dataclass(frozen=True)
class LettersConfig:
    """The CNN on letters: generated (default) or the EMNIST files in `emnist_dir`."""

    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 2e-3
    seed: int = 0
    generated: GeneratedLetters = GeneratedLetters()
    emnist_dir: str | None = None


@dataclass(frozen=True)
class FewDigitsConfig:
    """Transfer and scratch on n digits. An epoch is `batches_per_epoch` augmented batches whatever n,
    so every n gets the same number of updates."""

    samples: int = 1000
    epochs: int = 12
    batches_per_epoch: int = 100
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 0
    augmentation: DigitAugmentation | None = DigitAugmentation()


@dataclass(frozen=True)
class FullConfig:
    """The CNN from scratch on all 60,000 MNIST training digits."""

    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 3e-3
    seed: int = 0


@dataclass(frozen=True)
class SweepConfig:
    """Transfer vs scratch for every n in `sizes`, once per seed and augmentation arm.

    Each seed retrains the letters model (`letters`, with that seed). Each method's learning rate is chosen
    per n and arm among `learning_rates`, by validation accuracy on the 5,000-digit validation pool, in runs
    with `selection_seed` (not one of `seeds`): the test digits decide nothing. Of `few`, the sweep sets
    `samples`, `seed` and `learning_rate` per run, and `augmentation` is what the augmented arm applies.
    """

    sizes: tuple[int, ...] = (30, 300, 3000)
    seeds: tuple[int, ...] = (0, 1, 2)
    learning_rates: tuple[float, ...] = (1e-3, 3e-3)
    augmentation: tuple[bool, ...] = (True, False)  # the arms: with and without random affine warps
    selection_seed: int = 1000
    letters: LettersConfig = LettersConfig(epochs=2)
    few: FewDigitsConfig = FewDigitsConfig(epochs=3)  # 300 updates of 32 digits a run


@dataclass(frozen=True)
class DigitsProfile:
    letters: LettersConfig = LettersConfig()
    few: FewDigitsConfig = FewDigitsConfig()
    full: FullConfig = FullConfig()
    sweep: SweepConfig = SweepConfig()


PROFILES = {
    # minutes on 2 cores: 31k generated letters, 1200 updates per few-sample run, 2 epochs of MNIST;
    # a small sweep (3 sizes, 3 seeds, 2 learning rates, 300 updates a run)
    "quick": DigitsProfile(),
    # EMNIST-letters-sized source (124,800 letters) and longer training for letters, digits and full MNIST;
    # the sweep README reports (5 sizes, 10 seeds; its letters models: the quick data, 3 epochs)
    "paper": DigitsProfile(
        letters=LettersConfig(epochs=10, generated=GeneratedLetters(per_class=4800, test_per_class=800)),
        few=FewDigitsConfig(epochs=30),
        full=FullConfig(epochs=10),
        sweep=SweepConfig(
            sizes=(30, 100, 300, 1000, 3000),
            seeds=tuple(range(10)),
            learning_rates=(1e-3, 3e-3, 1e-2),
            letters=LettersConfig(epochs=3),
            few=FewDigitsConfig(epochs=8),  # 800 updates of 32 digits a run, whatever n
        ),
    ),
}


# ------------------------------------------------------------------------------------ config


def config_for(
    profile: str = "quick",
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    samples: int | None = None,
    data: str | None = None,
) -> DigitsProfile:
    """The config of a profile, with the given fields replaced (None values are ignored), as catsdogs' config_for."""
    if profile not in PROFILES:
        raise ConvlensError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}.")
    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size), ("--samples", samples)):
        if value is not None and value < 1:
            raise ConvlensError(f"{flag} must be at least 1, not {value}.")
    chosen = PROFILES[profile]
    overrides: dict[str, Any] = {  # Any: replace() checks each field's type, not a dict's values
        key: value
        for key, value in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed))
        if value is not None
    }
    letters = dataclasses.replace(chosen.letters, **overrides)
    few = dataclasses.replace(chosen.few, **overrides)
    full = dataclasses.replace(chosen.full, **overrides)
    if samples is not None:
        few = dataclasses.replace(few, samples=samples)
    sweep_few = dataclasses.replace(chosen.sweep.few, **{k: v for k, v in overrides.items() if k != "seed"})
    sweep_letters = dataclasses.replace(chosen.sweep.letters, **{k: v for k, v in overrides.items() if k != "seed"})
    if data:
        if not Path(data).expanduser().is_dir():
            raise ConvlensError(
                f"--data {data} is not a folder; name the folder holding the emnist-letters-*-ubyte.gz files."
            )
        letters = dataclasses.replace(letters, emnist_dir=str(Path(data).expanduser().resolve()))
        sweep_letters = dataclasses.replace(sweep_letters, emnist_dir=letters.emnist_dir)
    sweep = dataclasses.replace(chosen.sweep, few=sweep_few, letters=sweep_letters)
    return DigitsProfile(letters=letters, few=few, full=full, sweep=sweep)
