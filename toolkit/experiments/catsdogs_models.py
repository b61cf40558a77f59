"""Cats vs dogs models: the ImageNet MobileNet transfer model, the same net from scratch, fine-tuning and compiling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from toolkit.data import backbones

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over several GPUs, else the default strategy (one device or the CPU)."""
    import tensorflow as tf

    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _classifier_on(base, input_size: int, dropout: float, name: str) -> keras.Model:
    """pixels 0..255 -> x/127.5-1 -> base -> GlobalAveragePooling2D -> Dropout -> Dense(1, sigmoid)."""
    import keras

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="mobilenet_scaling")(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_dog")(x)
    return keras.Model(inputs, outputs, name=name)


def cats_dogs_transfer_model(input_size: int = 128, dropout: float = 0.2) -> keras.Model:
    """The practical's model: ImageNet MobileNet v1 (frozen) + pooling + dropout + Dense(1, sigmoid).

    3,229,889 parameters, 1,025 trainable; input float32 pixels 0..255, output p(dog).
    """
    base = backbones.imagenet_mobilenet((input_size, input_size, 3), include_top=False)
    base.trainable = False  # also keeps its BatchNorm layers in inference mode
    return _classifier_on(base, input_size, dropout, "cats_dogs_transfer")


def cats_dogs_scratch_model(input_size: int = 128, dropout: float = 0.2) -> keras.Model:
    """The same network with random weights, everything trainable: the from-scratch baseline."""
    import keras

    base = keras.applications.MobileNet(
        input_shape=(input_size, input_size, 3), alpha=1.0, include_top=False, weights=None
    )
    return _classifier_on(base, input_size, dropout, "cats_dogs_scratch")


def pooled_features_model(model) -> keras.Model:
    """pixels -> the pooled output of the frozen base (what the head sees), sharing the model's layers."""
    import keras

    return keras.Model(model.input, model.get_layer("pool").output, name="pooled_features")


def head_on_features(model) -> keras.Model:
    """pooled features -> the model's own Dropout and Dense layers: training it trains the model's head."""
    import keras

    features = keras.Input(model.get_layer("pool").output.shape[1:], name="pooled_features")
    outputs = model.get_layer("p_dog")(model.get_layer("dropout")(features))
    return keras.Model(features, outputs, name="head")


def mobilenet_base(model) -> keras.Model:
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
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )


def count_parameters(model) -> dict[str, int]:
    """Total, trainable and non-trainable parameter counts, as Keras' summary shows them."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(sum(np.prod(w.shape) for w in model.weights))
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}
