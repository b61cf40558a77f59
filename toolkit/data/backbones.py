"""ImageNet backbones with the weights from the asset cache (no download at run time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data import assets

if TYPE_CHECKING:
    import keras


def imagenet_mobilenet(input_shape: tuple[int, int, int] = (128, 128, 3), include_top: bool = False) -> keras.Model:
    """Keras' MobileNet v1 (alpha 1.0) with the converted ImageNet weights.

    Expects inputs scaled to [-1, 1] (x / 127.5 - 1), as Keras' MobileNet. With `include_top`
    the output is the 1000-class softmax.
    """
    import keras

    model = keras.applications.MobileNet(
        input_shape=tuple(input_shape), alpha=1.0, include_top=include_top, weights=None, classes=1000
    )
    weights = assets.MOBILENET_TOP_FILE if include_top else assets.MOBILENET_NOTOP_FILE
    model.load_weights(assets.cached_file(weights))
    return model


def imagenet_classifier(size: int = 224) -> keras.Model:
    """The 1000-class ImageNet MobileNet taking float32 pixels 0..255 named `image`: x / 127.5 - 1 inside.

    224 is the size the checkpoint's weights were trained at.
    """
    import keras

    mobilenet = imagenet_mobilenet((size, size, 3), include_top=True)
    pixels = keras.Input((size, size, 3), name="image")
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="mobilenet_scaling")(pixels)
    return keras.Model(pixels, mobilenet(scaled, training=False), name="imagenet_mobilenet")
