"""What is optimised: a value per image, read from named activations; objectives combine with + - *.

The render loop gives each objective the activations of its own image only (a batch of one), so
objectives never see each other and a batch renders what each would render alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import tensorflow as tf

LOGITS = "logits"  # the activation name under which a model's pre-softmax/pre-sigmoid output is read
INPUT = "input"  # the [0, 1] image as the model sees it (after the transformations)


@dataclass(frozen=True)
class Objective:
    """A value to maximise, per image, from a dict of activations; `layers` names the ones it reads."""

    fn: Callable[[Mapping[str, tf.Tensor]], tf.Tensor]  # activations (B, ...) -> (B,)
    layers: tuple[str, ...]
    name: str

    def __call__(self, activations: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.fn(activations)

    def __add__(self, other: Objective) -> Objective:
        return Objective(
            lambda acts: self(acts) + other(acts), _union(self.layers, other.layers), f"{self.name} + {other.name}"
        )

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)

    def __neg__(self) -> Objective:
        return Objective(lambda acts: -self(acts), self.layers, f"-{self.name}")

    def __mul__(self, weight: float) -> Objective:
        return Objective(lambda acts: weight * self(acts), self.layers, f"{weight:g} * {self.name}")

    __rmul__ = __mul__


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(name for name in b if name not in a)


def default_border(map_size: int) -> int:
    """Activations this close to the edge see the padding more than the image: keras.io drops 2 of them."""
    return 2 if map_size >= 12 else 0


def channel(layer: str, index: int, border: int | None = None) -> Objective:
    """The mean activation of one channel (filter) of a layer, the `border` outermost rows/columns excluded."""

    def fn(acts: Mapping[str, tf.Tensor]) -> tf.Tensor:
        a = acts[layer]
        b = default_border(min(a.shape[1], a.shape[2])) if border is None else border
        if b:
            a = a[:, b:-b, b:-b, :]
        return tf.reduce_mean(a[..., index], axis=[1, 2])

    return Objective(fn, (layer,), f"{layer}:{index}")


def class_logit(index: int) -> Objective:
    """A class's logit, taken before the softmax (or sigmoid), where its gradient does not vanish."""
    return Objective(lambda acts: acts[LOGITS][:, index], (LOGITS,), f"logit:{index}")


def brightness() -> Objective:
    """The image's mean pixel value: subtract it to ask for dark images with little ink, as MNIST's digits."""
    return Objective(lambda acts: tf.reduce_mean(acts[INPUT], axis=[1, 2, 3]), (INPUT,), "brightness")


def total_variation() -> Objective:
    """The mean absolute difference between neighbouring pixels: subtract it to ask for smooth strokes."""

    def fn(acts: Mapping[str, tf.Tensor]) -> tf.Tensor:
        x = acts[INPUT]
        return tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]), axis=[1, 2, 3]) + tf.reduce_mean(
            tf.abs(x[:, :, 1:] - x[:, :, :-1]), axis=[1, 2, 3]
        )

    return Objective(fn, (INPUT,), "total_variation")


def maximise(objective: Objective) -> Objective:
    return objective


def minimise(objective: Objective) -> Objective:
    return -objective
