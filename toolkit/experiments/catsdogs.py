"""Cats vs dogs: ImageNet MobileNet transfer learning, fine-tuning, a from-scratch baseline, a zero-shot reference.

Reads top to bottom: config (catsdogs_config) -> data and augmentation (catsdogs_data) -> models
(catsdogs_models) -> training phases -> evaluation -> the run
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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.core import names
from toolkit.core.json_files import write_json
from toolkit.core.plots import plot_curves
from toolkit.data.datasets import CATS_DOGS_LABELS, Split
from toolkit.experiments.catsdogs_config import (  # noqa: F401
    EXPERIMENT,
    PROFILES,
    ZERO_SHOT_SIZES,
    Augmentation,
    CatsDogsConfig,
    config_for,
)
from toolkit.experiments.catsdogs_data import (  # noqa: F401
    CatsDogsData,
    augment_batch,
    evaluation_dataset,
    load_data,
    stratified_holdout,
    training_dataset,
)
from toolkit.experiments.catsdogs_evaluation import (  # noqa: F401  # the experiment's names, as before
    confusion_matrix,
    evaluate_test_accuracy,
    measure_training_throughput,
)
from toolkit.experiments.catsdogs_models import (  # noqa: F401
    cats_dogs_scratch_model,
    cats_dogs_transfer_model,
    compile_for_training,
    count_parameters,
    distribution_strategy,
    head_on_features,
    mobilenet_base,
    pooled_features_model,
    unfreeze_for_fine_tuning,
)
from toolkit.experiments.common import phase_logs, run_logs, save_model_atomically, seed_training
from toolkit.experiments.runs import run_folder
from toolkit.experiments.zero_shot import zero_shot_reference

if TYPE_CHECKING:
    import keras

# ---------------------------------------------------------------- training phases


def _merge_histories(*histories: dict) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for history in histories:
        for key, values in history.items():
            merged.setdefault(key, []).extend(float(v) for v in values)
    return merged


def _fit(
    model, data_: CatsDogsData, config: CatsDogsConfig, first_epoch: int, epochs: int, seed: int, phase: str
) -> dict:
    if epochs == 0:
        return {}
    history = model.fit(
        training_dataset(data_.train, config.batch_size, seed, config.augmentation),
        validation_data=evaluation_dataset(data_.validation, config.batch_size),
        initial_epoch=first_epoch,
        epochs=first_epoch + epochs,
        verbose=config.verbose,
        callbacks=phase_logs(phase),
    )
    return history.history


def cached_features(
    model, split: Split, config: CatsDogsConfig, copies: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The frozen base's pooled features of a split, once as it is and `copies` times augmented: (features, labels).

    The base is frozen and in inference mode, so an image's features do not change while the head trains.
    """
    import tensorflow as tf

    extract = tf.function(pooled_features_model(model), reduce_retracing=True)
    passes = [evaluation_dataset(split, config.batch_size)]
    passes += [training_dataset(split, config.batch_size, seed + copy, config.augmentation) for copy in range(copies)]
    features, labels = [], []
    for dataset in passes:
        for images, batch_labels in dataset:
            features.append(extract(images, training=False).numpy())
            labels.append(batch_labels.numpy())
    return np.concatenate(features), np.concatenate(labels)


def _fit_head_on_cached_features(model, data_: CatsDogsData, config: CatsDogsConfig, strategy) -> tuple[dict, dict]:
    """Phase 1 on cached features: the model's own head trained on the base's output computed once."""
    copies = config.cached_augmented_copies or 0
    started = time.perf_counter()
    train_x, train_y = cached_features(model, data_.train, config, copies, config.seed)
    validation_x, validation_y = cached_features(model, data_.validation, config, 0, config.seed)
    feature_seconds = time.perf_counter() - started
    with strategy.scope():
        head = head_on_features(model)
        compile_for_training(head, config.learning_rate)
    started = time.perf_counter()
    history = head.fit(
        train_x,
        train_y,
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        validation_data=(validation_x, validation_y),
        verbose=config.verbose,
        callbacks=phase_logs("transfer_frozen"),
    ).history
    info = {
        "features": "cached",
        "augmented_copies": copies,
        "cached_train_features": int(len(train_x)),
        "feature_seconds": round(feature_seconds, 1),
        "head_seconds": round(time.perf_counter() - started, 1),
    }
    return history, info


def train_transfer(
    data_: CatsDogsData, config: CatsDogsConfig, strategy, log=print
) -> tuple[keras.Model, dict[str, list[float]], dict]:
    """Phase 1 (base frozen) then phase 2 (fine-tuning); returns the model, its history and figures."""
    seed_training(config.seed)
    with strategy.scope():
        model = cats_dogs_transfer_model(config.input_size, config.dropout)
        compile_for_training(model, config.learning_rate)
    frozen_counts = count_parameters(model)
    cached = config.cached_augmented_copies is not None
    how = (
        f"on the base's features computed once (the images and {config.cached_augmented_copies} augmented copies)"
        if cached
        else "through the whole network, freshly augmented every epoch"
    )
    log(
        f"transfer, phase 1: {config.epochs} epochs with the ImageNet base frozen, {how} "
        f"({frozen_counts['trainable']:,} of {frozen_counts['total']:,} parameters trainable)"
    )
    started = time.perf_counter()
    if cached:
        frozen, frozen_phase = _fit_head_on_cached_features(model, data_, config, strategy)
    else:
        frozen, frozen_phase = (
            _fit(model, data_, config, 0, config.epochs, config.seed, "transfer_frozen"),
            {"features": "per epoch"},
        )
    frozen_seconds = time.perf_counter() - started
    after_frozen = evaluate_test_accuracy(model, data_.test, config.batch_size)
    with strategy.scope():
        unfreeze_for_fine_tuning(model)
        steps_per_epoch = math.ceil(len(data_.train) / config.batch_size)
        compile_for_training(
            model,
            config.fine_tune_learning_rate,
            steps_per_epoch * config.fine_tune_epochs if config.fine_tune_cosine_decay else None,
        )
    fine_counts = count_parameters(model)
    schedule = " with cosine decay to 0" if config.fine_tune_cosine_decay else ""
    log(
        f"transfer, phase 2: {config.fine_tune_epochs} epochs fine-tuning at learning rate "
        f"{config.fine_tune_learning_rate:g}{schedule} ({fine_counts['trainable']:,} parameters trainable, "
        "BatchNorm frozen)"
    )
    started = time.perf_counter()
    fine = _fit(model, data_, config, config.epochs, config.fine_tune_epochs, config.seed + 1, "transfer_fine_tuning")
    fine_seconds = time.perf_counter() - started
    info = {
        "parameters_frozen_phase": frozen_counts,
        "parameters_fine_tuning": fine_counts,
        "frozen_phase_seconds": round(frozen_seconds, 1),
        "frozen_phase": frozen_phase,
        "fine_tuning_seconds": round(fine_seconds, 1),
        "frozen_phase_test_accuracy": after_frozen["test_accuracy"],
    }
    return model, _merge_histories(frozen, fine), info


def train_scratch(
    data_: CatsDogsData, config: CatsDogsConfig, strategy, log=print
) -> tuple[keras.Model, dict[str, list[float]], dict]:
    """The same network from random weights, same augmentation, `baseline_epochs` epochs."""
    seed_training(config.seed)
    with strategy.scope():
        model = cats_dogs_scratch_model(config.input_size, config.dropout)
        compile_for_training(model, config.scratch_learning_rate)
    log(f"scratch baseline: {config.baseline_epochs} epochs from random weights")
    started = time.perf_counter()
    history = _fit(model, data_, config, 0, config.baseline_epochs, config.seed, "scratch")
    return model, _merge_histories(history), {"seconds": round(time.perf_counter() - started, 1)}


# ---------------------------------------------------------------- the run


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def _summary_table(metrics: dict, config: CatsDogsConfig) -> str:
    rows = [
        (
            "transfer: ImageNet MobileNet, frozen then fine-tuned",
            f"{config.epochs} + {config.fine_tune_epochs}",
            metrics["transfer"]["test_accuracy"],
        ),
        (
            "  the same, after the frozen phase only",
            f"{config.epochs}",
            metrics["transfer"]["frozen_phase_test_accuracy"],
        ),
    ]
    if "scratch" in metrics:
        rows.append(
            (
                "scratch: the same network, random weights",
                f"{config.baseline_epochs}",
                metrics["scratch"]["test_accuracy"],
            )
        )
    for size, result in metrics["imagenet_zero_shot"]["by_input_size"].items():
        rows.append((f"ImageNet 1000 classes, no training, at {size}x{size}", "0", result["test_accuracy"]))
    width = max(len(name) for name, _, _ in rows)
    lines = [
        f"cats vs dogs: {metrics['test_images']} test images, input {config.input_size}x{config.input_size}",
        f"{'model':<{width}}  {'epochs':>7}  {'test accuracy':>13}",
    ]
    lines += [f"{name:<{width}}  {epochs:>7}  {accuracy:>13.4f}" for name, epochs, accuracy in rows]
    lines.append(f"wall time {metrics['wall_seconds'] / 60:.1f} min")
    return "\n".join(lines)


def train_catsdogs(config: CatsDogsConfig, out: str | os.PathLike | None = None, log=print) -> dict:
    """Train the transfer model and the scratch baseline, measure the zero-shot reference, write the run.

    Writes `config.json`, `history.json`, `metrics.json`, `transfer.keras`, `scratch.keras`, the
    curves and Keras' CSV and TensorBoard logs (`logs/`) under `runs/catsdogs/` (or `out`); the
    models are written only once everything succeeded.
    """
    folder = run_folder(EXPERIMENT, out)
    with run_logs(folder):
        return _train_catsdogs(config, folder, log)


def _train_catsdogs(config: CatsDogsConfig, folder: Path, log) -> dict:
    started = time.perf_counter()
    data_ = load_data(config)
    log(
        f"data: {data_.source}; train {len(data_.train)}, validation {len(data_.validation)}, "
        f"test {len(data_.test)}, at {config.input_size}x{config.input_size}"
    )
    strategy = distribution_strategy()

    transfer_model, transfer_history, transfer_info = train_transfer(data_, config, strategy, log)
    metrics: dict = {
        "test_images": len(data_.test),
        "labels": list(CATS_DOGS_LABELS),
        "confusion_matrix_layout": "rows: true cat, dog; columns: predicted cat, dog",
    }
    metrics["transfer"] = {**evaluate_test_accuracy(transfer_model, data_.test, config.batch_size), **transfer_info}
    histories: dict[str, dict] = {"transfer": {**transfer_history, "fine_tune_start_epoch": config.epochs}}

    if not config.skip_scratch:
        scratch_model, scratch_history, scratch_info = train_scratch(data_, config, strategy, log)
        metrics["scratch"] = {**evaluate_test_accuracy(scratch_model, data_.test, config.batch_size), **scratch_info}
        histories["scratch"] = scratch_history

    log(
        "ImageNet zero-shot reference: "
        + ", ".join(f"{s}x{s}" for s in sorted({*config.zero_shot_sizes, config.input_size}))
    )
    by_size = {}
    for size in sorted({*config.zero_shot_sizes, config.input_size}):
        test = data_.test if size == config.input_size else Split(data_.test_at_size(size), data_.test.y)
        validation = Split(data_.validation_at_size(size), data_.validation.y)
        by_size[str(size)] = zero_shot_reference(validation, test, config.batch_size)
    metrics["imagenet_zero_shot"] = {**by_size[str(config.input_size)], "by_input_size": by_size}
    metrics["wall_seconds"] = round(time.perf_counter() - started, 1)

    save_model_atomically(transfer_model, folder / names.TRANSFER_MODEL)
    if not config.skip_scratch:
        save_model_atomically(scratch_model, folder / names.SCRATCH_MODEL)
    elif (folder / names.SCRATCH_MODEL).exists():
        (folder / names.SCRATCH_MODEL).unlink()  # an older run's baseline would not match this run
    write_json(folder / names.HISTORY_FILE, histories)
    write_json(folder / names.METRICS_FILE, metrics)
    write_json(
        folder / names.CONFIG_FILE,
        {
            "experiment": EXPERIMENT,
            **dataclasses.asdict(config),
            "baseline_epochs": config.baseline_epochs,
            "input_shape": [config.input_size, config.input_size, 3],
            "input_dtype": "float32",
            "input_range": [0, 255],
            "labels": list(CATS_DOGS_LABELS),
            "output": "p(dog), sigmoid",
            names.PREPROCESSING: data_.preprocessing,
            "data_source": data_.source,
            "split_sizes": {"train": len(data_.train), "validation": len(data_.validation), "test": len(data_.test)},
            "strategy": type(strategy).__name__,
            "replicas": int(strategy.num_replicas_in_sync),
            "versions": _versions(),
        },
    )
    _write_figures(folder, histories, config)
    log(_summary_table(metrics, config))
    log(f"written to {folder}")
    return metrics


def _write_figures(folder: Path, histories: dict, config: CatsDogsConfig) -> None:
    transfer = {k: v for k, v in histories["transfer"].items() if isinstance(v, list)}
    marks = {"fine-tuning starts": config.epochs} if config.fine_tune_epochs else None
    plot_curves(
        {"transfer": transfer},
        folder / "transfer_curves.png",
        f"transfer: ImageNet MobileNet at {config.input_size}x{config.input_size}",
        marks,
    )
    if "scratch" in histories:
        plot_curves(
            {"scratch": histories["scratch"]}, folder / "scratch_curves.png", "the same network trained from scratch"
        )
        plot_curves(
            {"transfer": transfer, "scratch": histories["scratch"]},
            folder / "transfer_vs_scratch.png",
            "transfer learning vs training from scratch",
            marks,
        )


def train_from_cli(args) -> int:
    """`convlens train catsdogs [--profile paper|quick] [--data DIR] [...]`."""
    config = config_for(
        getattr(args, "profile", None) or "quick",
        epochs=getattr(args, "epochs", None),
        fine_tune_epochs=getattr(args, "fine_tune_epochs", None),
        scratch_epochs=getattr(args, "scratch_epochs", None),
        seed=getattr(args, "seed", None),
        batch_size=getattr(args, "batch_size", None),
        input_size=getattr(args, "input_size", None),
        data=getattr(args, "data", None),
        skip_scratch=getattr(args, "skip_scratch", None) or None,
        resolution_augmentation=getattr(args, "resolution_augmentation", None),
        fine_tune_cosine_decay=False if getattr(args, "constant_fine_tune_rate", False) else None,
    )
    train_catsdogs(config, getattr(args, "out", None))
    return 0
