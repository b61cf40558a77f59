"""Letters to digits: the practical's small CNN, trained on letters, transferred to few MNIST digits.

Experiments (each writes into `runs/digits/`, the sweep into `runs/sweep/`):
- `letters`: the CNN on 26 letter classes (generated offline, or the real EMNIST letters);
- `transfer`: its conv layers frozen, a new Dense(10) trained on n MNIST digits with augmentation;
- `scratch`: the same CNN from random init on the same n digits;
- `full`: the CNN from scratch on all 60,000 digits: the model the demo serves (`full.keras`);
- `sweep` (digits_sweep): transfer vs scratch for several n and seeds, the practical's open question.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.core import names
from toolkit.core.errors import ConvlensError
from toolkit.core.json_files import write_json
from toolkit.core.model_files import load_keras_model
from toolkit.core.plots import plot_curves
from toolkit.core.warp import random_warp
from toolkit.data.datasets import Split
from toolkit.experiments.common import Log, phase_logs, save_model_atomically, seed_training
from toolkit.experiments.digits_config import (  # noqa: F401  # the experiment's names, as before
    PROFILES,
    DigitAugmentation,
    DigitsProfile,
    FewDigitsConfig,
    FullConfig,
    LettersConfig,
    SweepConfig,
    config_for,
)

if TYPE_CHECKING:
    import keras

DIGIT_LABELS = names.DIGIT_LABELS
CONV_LAYERS = ("conv1", "conv2")  # what transfer keeps (frozen)
VALIDATION_POOL = 5000  # the last MNIST training digits: never sampled, used for validation curves


# ------------------------------------------------------------------------------------ models


def small_cnn(classes: int) -> keras.Model:
    """The practical's CNN: Conv(10, 24x24) -> MaxPool(2) -> Conv(10, 12x12) -> Flatten -> Dense.

    Input 28x28x1 pixels 0..255 (white ink on black); x/255 happens inside. The Dense layer
    `logits` gives the pre-softmax scores; the separate `probabilities` layer applies softmax.
    """
    import keras

    image = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(image)
    x = keras.layers.Conv2D(10, 24, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(10, 12, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(classes, name="logits")(x)
    probabilities = keras.layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(image, probabilities, name=f"small_cnn_{classes}")


def transfer_cnn(letters_model, classes: int = 10) -> keras.Model:
    """A fresh `small_cnn` with the letters model's conv layers copied in and frozen."""
    model = small_cnn(classes)
    for name in CONV_LAYERS:
        layer = model.get_layer(name)
        layer.set_weights(letters_model.get_layer(name).get_weights())
        layer.trainable = False
    return model


def _compile(model, learning_rate: float, total_steps: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(total_steps, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )


def _as_input(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32)[..., None]


def accuracy(model, split: Split) -> float:
    probabilities = model.predict(_as_input(split.x), batch_size=1000, verbose=0)
    return float((probabilities.argmax(axis=1) == split.y).mean())


# ------------------------------------------------------------------------------------ data


def stratified_sample(split: Split, n: int, rng: np.random.Generator) -> Split:
    """n examples with the classes as balanced as n allows (the remainder to random classes)."""
    classes = np.unique(split.y)
    if n < len(classes):
        raise ConvlensError(f"{n} samples cannot cover {len(classes)} classes; use at least {len(classes)}.")
    per_class = np.full(len(classes), n // len(classes))
    per_class[rng.choice(len(classes), n % len(classes), replace=False)] += 1
    chosen = []
    for label, count in zip(classes, per_class):
        members = np.flatnonzero(split.y == label)
        if count > len(members):
            raise ConvlensError(f"class {label} has only {len(members)} examples, {count} were asked for.")
        chosen.append(rng.choice(members, count, replace=False))
    order = rng.permutation(np.concatenate(chosen))
    return Split(split.x[order], split.y[order])


def augmented_stream(
    split: Split, count: int, rng: np.random.Generator, augmentation: DigitAugmentation | None
) -> Split:
    """`count` training images: shuffled passes over the split, each image freshly augmented."""
    passes = math.ceil(count / len(split))
    order = np.concatenate([rng.permutation(len(split)) for _ in range(passes)])[:count]
    x, y = split.x[order], split.y[order]
    if augmentation is None:
        return Split(x, y)
    warped = np.empty(x.shape, np.uint8)
    for start in range(0, count, 4096):
        part = x[start : start + 4096]
        warped[start : start + len(part)] = (
            np.clip(
                random_warp(
                    part,
                    rng,
                    augmentation.rotation_deg,
                    augmentation.shear,
                    augmentation.scale,
                    shift_px=augmentation.shift_px,
                ),
                0,
                255,
            )
            .round()
            .astype(np.uint8)
        )
    return Split(warped, y)


def mnist_few_and_validation(n: int, seed: int) -> tuple[Split, Split, Split]:
    """n stratified MNIST training digits, the validation pool, and the 10,000 test digits."""
    from toolkit.data.datasets import load_mnist

    train, test = load_mnist()
    pool = Split(train.x[:-VALIDATION_POOL], train.y[:-VALIDATION_POOL])
    validation = Split(train.x[-VALIDATION_POOL:], train.y[-VALIDATION_POOL:])
    return stratified_sample(pool, n, np.random.default_rng(seed)), validation, test


def letters_data(config: LettersConfig) -> tuple[Split, Split, str]:
    """Letters train and validation splits, and a sentence saying where they came from."""
    if config.emnist_dir:
        from toolkit.data.letters import load_emnist_letters

        train, test = load_emnist_letters(config.emnist_dir)
        return train, test, f"EMNIST letters from {config.emnist_dir}"
    from toolkit.data.letters import load_generated_letters, text_faces

    started = time.perf_counter()
    train, test = load_generated_letters(config.generated)
    return (
        train,
        test,
        (
            f"letters generated from {len(text_faces())} matplotlib faces "
            f"({time.perf_counter() - started:.0f} s to generate, or load from the cache)"
        ),
    )


# ------------------------------------------------------------------------------------ training


def train_few(
    model, train: Split, config: FewDigitsConfig, validation: Split | None = None, verbose="auto", phase: str = "few"
) -> dict[str, list[float]]:
    """Train on a few digits: `epochs` x `batches_per_epoch` batches of freshly augmented images."""
    import tensorflow as tf

    total = config.epochs * config.batches_per_epoch
    stream = augmented_stream(
        train, total * config.batch_size, np.random.default_rng(config.seed + 17), config.augmentation
    )
    batches = tf.data.Dataset.from_tensor_slices((_as_input(stream.x), stream.y)).batch(config.batch_size)
    _compile(model, config.learning_rate, total)
    history = model.fit(
        batches,
        epochs=config.epochs,
        steps_per_epoch=config.batches_per_epoch,
        shuffle=False,
        verbose=verbose,
        validation_data=None if validation is None else (_as_input(validation.x), validation.y),
        callbacks=phase_logs(phase),
    )
    return history.history


def _fit_all(
    model, train: Split, validation: Split, config: LettersConfig | FullConfig, verbose, phase: str
) -> dict[str, list[float]]:
    """Compile, then train on every image of `train` for `config.epochs` epochs: letters and the full-MNIST CNN."""
    _compile(model, config.learning_rate, config.epochs * math.ceil(len(train) / config.batch_size))
    return model.fit(
        _as_input(train.x),
        train.y,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(_as_input(validation.x), validation.y),
        verbose=verbose,
        callbacks=phase_logs(phase),
    ).history


def train_letters(config: LettersConfig, folder: Path, verbose="auto", log: Log = print, figures: bool = True) -> dict:
    """The CNN on 26 letter classes; writes letters.keras, and with `figures` the curves and the sample grid."""
    from toolkit.data.letters import save_letter_grid

    train, validation, source = letters_data(config)
    log(f"letters: {len(train)} training and {len(validation)} validation images, {source}")
    if figures:
        save_letter_grid(train, folder / "letters_samples.png", title=source)
    seed_training(config.seed)
    model = small_cnn(26)
    started = time.perf_counter()
    history = _fit_all(model, train, validation, config, verbose, names.LETTERS)
    metrics = {
        "val_accuracy": accuracy(model, validation),
        "train_images": len(train),
        "val_images": len(validation),
        "source": source,
        "seconds": round(time.perf_counter() - started, 1),
    }
    save_model_atomically(model, folder / names.LETTERS_MODEL)
    if figures:
        plot_curves({"letters": history}, folder / "letters_curves.png", "CNN on letters")
    _record(folder, "letters", config, history, metrics)
    return metrics


def run_few(
    method: str,
    letters_model,
    config: FewDigitsConfig,
    verbose="auto",
    data: tuple[Split, Split, Split] | None = None,
    validate: bool = True,
) -> tuple[keras.Model, dict[str, list[float]], dict]:
    """`transfer` (frozen letters convs + new Dense) or `scratch` on n digits: (model, history, metrics)."""
    train, validation, test = data or mnist_few_and_validation(config.samples, config.seed)
    seed_training(config.seed)
    model = transfer_cnn(letters_model) if method == "transfer" else small_cnn(10)
    started = time.perf_counter()
    history = train_few(model, train, config, validation if validate else None, verbose, phase=method)
    metrics = {
        "test_accuracy": accuracy(model, test),
        "samples": len(train),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return model, history, metrics


def train_full(config: FullConfig, folder: Path, verbose="auto") -> dict:
    """The CNN from scratch on the first 55,000 training digits, the last 5,000 validating: `full.keras`,
    the model the demo serves. The test digits are touched once, for the final figure."""
    from toolkit.data.datasets import load_mnist

    mnist_train, test = load_mnist()
    train = Split(mnist_train.x[:-VALIDATION_POOL], mnist_train.y[:-VALIDATION_POOL])
    validation = Split(mnist_train.x[-VALIDATION_POOL:], mnist_train.y[-VALIDATION_POOL:])
    seed_training(config.seed)
    model = small_cnn(10)
    started = time.perf_counter()
    history = _fit_all(model, train, validation, config, verbose, "full")
    metrics = {
        "test_accuracy": accuracy(model, test),
        "train_images": len(train),
        "val_images": len(validation),
        "seconds": round(time.perf_counter() - started, 1),
    }
    save_model_atomically(model, folder / names.FULL_MODEL)
    plot_curves(
        {"full MNIST": history},
        folder / "full_curves.png",
        f"CNN from scratch on {len(train):,} digits (validation = {VALIDATION_POOL:,} held-out training digits)",
    )
    _record(folder, "full", config, history, metrics)
    return metrics


def _record(folder: Path, name: str, config, history: dict, metrics: dict) -> None:
    """Merge one experiment's config, history and metrics into the folder's JSON files."""
    for filename, value in ((names.CONFIG_FILE, config), (names.HISTORY_FILE, history), (names.METRICS_FILE, metrics)):
        path = folder / filename
        merged = json.loads(path.read_text()) if path.exists() else {}
        merged[name] = (
            dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
        )
        write_json(path, merged)


def letters_model_for(config: LettersConfig, folder: Path, verbose="auto", log: Log = print) -> keras.Model:
    """The letters model in `folder`, trained now unless one with the same config is there."""
    path = folder / names.LETTERS_MODEL
    recorded = folder / names.CONFIG_FILE
    wanted = json.loads(json.dumps(dataclasses.asdict(config)))
    if path.exists() and recorded.exists() and json.loads(recorded.read_text()).get("letters") == wanted:
        log(f"letters: reusing {path} (same configuration)")
    else:
        train_letters(config, folder, verbose, log)
    return load_keras_model(path, compile=True)


def train_digits(profile: DigitsProfile, folder: Path, verbose="auto", log: Log = print) -> dict:
    """letters (unless cached) -> transfer and scratch on n digits -> full MNIST; returns all metrics."""
    letters_model = letters_model_for(profile.letters, folder, verbose, log)
    data = mnist_few_and_validation(profile.few.samples, profile.few.seed)
    histories = {}
    for method in ("transfer", "scratch"):
        log(
            f"{method}: n={profile.few.samples} digits, {profile.few.epochs} epochs of "
            f"{profile.few.batches_per_epoch} augmented batches"
        )
        model, history, metrics = run_few(method, letters_model, profile.few, verbose, data)
        save_model_atomically(model, folder / f"{method}.keras")
        _record(folder, method, profile.few, history, metrics)
        histories[method] = history
        log(f"{method}: test accuracy {metrics['test_accuracy']:.4f}")
    plot_curves(
        histories,
        folder / "transfer_vs_scratch_curves.png",
        f"{profile.few.samples} MNIST digits: frozen letter features vs from scratch "
        f"(validation = {VALIDATION_POOL} held-out training digits)",
    )
    log(f"full: the MNIST training digits but the last {VALIDATION_POOL:,}, which validate")
    train_full(profile.full, folder, verbose)
    metrics = json.loads((folder / names.METRICS_FILE).read_text())
    for name in ("letters", "transfer", "scratch", "full"):
        key = "val_accuracy" if name == "letters" else "test_accuracy"
        log(f"{name}.{key} = {metrics[name][key]:.4f}")
    return metrics
