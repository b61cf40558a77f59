"""Small Keras models the ascent and gallery tests build (TensorFlow is imported by the tests that use them)."""

import argparse

import keras


def digits_like_model(separate_softmax: bool = True):
    """The practical's CNN shape, scaled down: 28x28x1 -> conv -> pool -> conv -> flatten -> Dense(10)."""
    keras.utils.set_random_seed(1)
    image = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(1 / 255)(image)
    x = keras.layers.Conv2D(3, 5, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten()(x)
    if separate_softmax:
        out = keras.layers.Activation("softmax")(keras.layers.Dense(10, name="logits")(x))
    else:
        out = keras.layers.Dense(10, activation="softmax", name="logits")(x)
    return keras.Model(image, out)


def binary_model(size: int = 32):
    """0..255 RGB -> conv -> GAP -> Dense(1, sigmoid): the cats-vs-dogs head's shape."""
    keras.utils.set_random_seed(2)
    image = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(image)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, keras.layers.Dense(1, activation="sigmoid", name="p_dog")(x))


def visualize_args(**overrides) -> argparse.Namespace:
    """`convlens visualize all` as the real parser reads it, with the given fields replaced."""
    from toolkit.cli import build_parser

    args = build_parser().parse_args(["visualize", "all"])
    for name, value in overrides.items():
        setattr(args, name, value)
    return args
