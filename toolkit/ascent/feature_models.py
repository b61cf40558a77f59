"""The models visualised, wrapped to take images in [0, 1] and return the activations objectives read.

A `FeatureModel` knows how to turn [0, 1] pixels into its model's input (MobileNet and ResNet50V2
expect x/127.5-1; our trained models take 0..255 pixels and normalise inside).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.ascent.objectives import LOGITS
from toolkit.core.errors import ConvlensError
from toolkit.core.model_files import load_keras_model

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

MINUS_ONE_TO_ONE = (2.0, -1.0)  # [0, 1] -> x/127.5 - 1 of 0..255 pixels
PIXELS_0_255 = (255.0, 0.0)  # [0, 1] -> 0..255 pixels


@dataclass(frozen=True)
class FeatureModel:
    """A Keras model from its own input to a dict of activations, and how [0, 1] images become that input."""

    model: keras.Model  # input -> {name: activation}
    size: int
    channels: int
    input_scale: tuple[float, float]  # model input = image * scale[0] + scale[1]

    def __call__(self, images01: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.model(images01 * self.input_scale[0] + self.input_scale[1], training=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.model.output.keys())


RELUS = ("relu", "relu6")


def _is_relu_layer(layer) -> bool:
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return True
    return isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") in RELUS


def _without_activation(layer) -> keras.KerasTensor:
    """The pre-activation output of a layer with a built-in activation (Conv2D, Dense): a linear twin on its input."""
    twin = type(layer).from_config({**layer.get_config(), "activation": "linear", "name": f"{layer.name}_linear"})
    output = twin(layer.input)
    twin.set_weights(layer.get_weights())
    return output


def layer_activation(model, name: str, pre_relu: bool = True) -> keras.KerasTensor:
    """The output tensor of layer `name`; with `pre_relu`, the value before its ReLU, whose gradient is not zero
    where the filter is off (Lucid optimises pre-ReLU tensors for the same reason)."""
    try:
        layer = model.get_layer(name)
    except ValueError:
        convs = [layer.name for layer in model.layers if "conv" in layer.name or "block" in layer.name][-8:]
        raise ConvlensError(
            f"the model has no layer {name!r}; layers near the top include: "
            f"{', '.join(convs)}. Pass one of its layer names with --layer."
        ) from None
    if pre_relu and _is_relu_layer(layer):
        return layer.input
    if pre_relu and layer.get_config().get("activation") in RELUS:
        return _without_activation(layer)
    return layer.output


def conv_layer_names(model) -> list[str]:
    """The Conv2D layers of a (small) model, in order."""
    import keras

    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def logits_tensor(model) -> keras.KerasTensor:
    """The pre-softmax (or pre-sigmoid) output: Keras MobileNet's `conv_preds`, else the last Dense without
    activation."""
    import keras

    names = [layer.name for layer in model.layers]
    if "conv_preds" in names:
        preds = model.get_layer("conv_preds").output
        return keras.layers.Flatten(name="conv_preds_logits")(preds)
    dense = next((layer for layer in reversed(model.layers) if isinstance(layer, keras.layers.Dense)), None)
    if dense is None:
        raise ConvlensError(f"model {model.name!r} has no Dense output layer, so its logits cannot be found.")
    if dense.get_config().get("activation") in (None, "linear"):
        return dense.output  # a separate softmax/sigmoid layer follows: the Dense already gives logits
    return _without_activation(dense)


def feature_model(
    model,
    layers: tuple[str, ...] = (),
    logits: bool = False,
    input_scale: tuple[float, float] = PIXELS_0_255,
    pre_relu: bool = True,
) -> FeatureModel:
    """Wraps `model` to return the activations of `layers` (and its logits) for [0, 1] images."""
    import keras

    outputs = {name: layer_activation(model, name, pre_relu) for name in layers}
    if logits:
        outputs[LOGITS] = logits_tensor(model)
    shape = model.inputs[0].shape
    if shape[1] is None or shape[1] != shape[2]:
        raise ConvlensError(f"model {model.name!r} needs a fixed square input size, not {tuple(shape[1:])}.")
    wrapped = keras.Model(model.inputs, outputs, name=f"{model.name}_features")
    return FeatureModel(wrapped, int(shape[1]), int(shape[3]), input_scale)


def resnet50v2(size: int, include_top: bool, weights: str | None) -> keras.Model:
    """Keras' ResNet50V2 (inputs x/127.5-1) with `weights`: None (random), a file, or "imagenet" (downloads)."""
    import keras

    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise ConvlensError(
            f"ResNet50V2 weights file {weights} does not exist. Pass --weights with the path of "
            f"a Keras ResNet50V2 weights file (.h5 / .weights.h5), or --weights imagenet with internet."
        )
    try:
        return keras.applications.ResNet50V2(weights=weights, include_top=include_top, input_shape=(size, size, 3))
    except ValueError as error:
        raise ConvlensError(
            f"the weights {weights} do not fit ResNet50V2 {'with' if include_top else 'without'} "
            f"its ImageNet top ({error}). Use a file for that variant."
        ) from None
    except Exception as error:  # the download: URLError, HTTPError, OSError, ... depending on the failure
        if weights == "imagenet":
            raise ConvlensError(
                f"could not download the ResNet50V2 ImageNet weights ({type(error).__name__}: "
                f"{error}). This machine may be offline: download them elsewhere and pass "
                f"--weights PATH, or use the default --backbone mobilenet."
            ) from None
        raise


def imagenet_backbone(backbone: str, size: int, include_top: bool, weights: str | None = None) -> keras.Model:
    """The ImageNet model visualised: our converted MobileNet v1 (offline), or ResNet50V2."""
    if backbone == "mobilenet":
        from toolkit.data.backbones import imagenet_mobilenet

        return imagenet_mobilenet((size, size, 3), include_top=include_top)
    if backbone == "resnet50v2":
        return resnet50v2(size, include_top, weights)
    raise ConvlensError(f"unknown backbone {backbone!r}: use mobilenet or resnet50v2.")


def imagenet_features(
    backbone: str = "mobilenet",
    size: int = 128,
    layers: tuple[str, ...] = (),
    logits: bool = False,
    weights: str | None = None,
) -> FeatureModel:
    """An ImageNet backbone's activations (and class logits when asked) for [0, 1] images."""
    model = imagenet_backbone(backbone, size, include_top=logits, weights=weights)
    return feature_model(model, layers, logits, MINUS_ONE_TO_ONE)


def load_trained(path: Path, what: str) -> keras.Model:
    """A trained Keras model from `path` (checked, loaded in safe mode), or a ConvlensError saying how to make it."""
    if not Path(path).is_file():
        raise ConvlensError(
            f"{what} model {path} is missing: train it first (`convlens train "
            f"{'digits' if 'digit' in what else 'catsdogs'}`)."
        )
    return load_keras_model(path)


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """Softmax over classes, or the sigmoid for a single output."""
    logits = np.asarray(logits, np.float64)
    if logits.shape[-1] == 1:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
