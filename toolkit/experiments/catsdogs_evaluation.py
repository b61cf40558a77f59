"""Cats vs dogs: how a trained model is judged (test accuracy and confusion) and how fast it trains; the
ImageNet zero-shot reference is in `zero_shot`."""

from __future__ import annotations

import time

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.data.datasets import Split
from toolkit.experiments.catsdogs_data import evaluation_dataset
from toolkit.experiments.catsdogs_models import (
    cats_dogs_scratch_model,
    cats_dogs_transfer_model,
    compile_for_training,
    distribution_strategy,
    unfreeze_for_fine_tuning,
)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """2x2 counts, rows = true class (cat, dog), columns = predicted class."""
    matrix = np.zeros((2, 2), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(predicted, int)), 1)
    return matrix.tolist()


def evaluate_test_accuracy(model, test: Split, batch_size: int = 64) -> dict:
    """Accuracy and confusion matrix of a p(dog) model on uint8 images (threshold 0.5)."""
    p_dog = model.predict(evaluation_dataset(test, batch_size), verbose=0).reshape(-1)
    predicted = (p_dog > 0.5).astype(np.int64)
    return {
        "test_accuracy": float(np.mean(predicted == test.y)),
        "test_images": int(len(test)),
        "confusion_matrix": confusion_matrix(test.y, predicted),
    }


def measure_training_throughput(
    phase: str = "frozen", steps: int = 5, batch_size: int = 32, input_size: int = 128
) -> float:
    """Training images per second of one phase ("frozen", "fine_tune" or "scratch") on random batches.

    One warm-up step (tracing) is excluded; the caller takes medians over repeated calls.
    """

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
