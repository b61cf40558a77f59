"""Random transformations applied before every step, so that only images robust to them score well.

Each transformation is a callable `(images, seed) -> images` with a stateless seed (two int32), so a
render is reproducible and every image of a batch gets the same transformation at a given step.
Shapes stay static (scale and rotation keep the size): with shapes that change from step to step,
TensorFlow recompiled part of the step every time and a step took 5x longer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tensorflow as tf

from toolkit.core.warp import affine_warp

Transform = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def _pick(values: Sequence[float], seed: tf.Tensor) -> tf.Tensor:
    """One of `values`, uniformly, from a stateless seed."""
    i = tf.random.stateless_uniform([], seed, 0, len(values), dtype=tf.int32)
    return tf.gather(tf.constant(list(values), tf.float32), i)


@dataclass(frozen=True)
class Pad:
    """Pads with a constant grey, so that jitter and rotation move the image, not only crop it."""

    width: int
    value: float = 0.5

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        w = self.width
        return tf.pad(images, [[0, 0], [w, w], [w, w], [0, 0]], constant_values=self.value)


@dataclass(frozen=True)
class Jitter:
    """A random crop `d` pixels smaller: shifts the image by 0..d pixels in each direction."""

    d: int

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        height, width = images.shape[1], images.shape[2]
        offsets = tf.random.stateless_uniform([2], seed, 0, self.d + 1, dtype=tf.int32)
        return tf.slice(images, [0, offsets[0], offsets[1], 0], [-1, height - self.d, width - self.d, -1])


def affine_about_centre(images: tf.Tensor, degrees: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """Rotates by `degrees` and zooms by `scale` about the centre, keeping the size (bilinear, edges reflected)."""
    return affine_warp(images, degrees * math.pi / 180.0, scale)


@dataclass(frozen=True)
class RandomScale:
    """Zooms about the centre by a factor picked from `scales`, keeping the size."""

    scales: tuple[float, ...]

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return affine_about_centre(images, tf.constant(0.0), _pick(self.scales, seed))


@dataclass(frozen=True)
class RandomRotate:
    """Rotates about the centre by an angle in degrees picked from `angles`."""

    angles: tuple[float, ...]

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return affine_about_centre(images, _pick(self.angles, seed), tf.constant(1.0))


@dataclass(frozen=True)
class Compose:
    """Applies transformations in order, each with its own seed derived from the step's seed."""

    transforms: tuple[Transform, ...]

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        for i, transform in enumerate(self.transforms):
            images = transform(images, tf.stack([seed[0], seed[1] * 101 + i]))
        return images


def fit(images: tf.Tensor, size: int) -> tf.Tensor:
    """Resizes back to the model's input size when the transformations changed it."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return tf.image.resize(images, [size, size], method="bilinear")


def standard(size: int, background: float = 0.5) -> Compose:
    """Lucid's standard robustness transformations, their pixel amounts scaled to the image size; pads with
    `background` (grey, or black for MNIST's digits)."""
    unit = max(1, round(size / 128 * 4))  # 4 px at 128: 12 px pad, 8 px jitter, as Lucid at its 128-224 sizes
    return Compose(
        (
            Pad(3 * unit, background),
            Jitter(2 * unit),
            RandomScale(tuple(1 + (i - 5) / 50 for i in range(11))),
            RandomRotate(tuple(range(-10, 11)) + (0,) * 5),
            Jitter(unit),
        )
    )


def small_random(size: int, background: float = 0.5) -> Compose:
    """The check's transformations: a shift of up to ~6%, a scale of 0.9-1.1 and a rotation of up to 10 degrees;
    pads with `background`."""
    shift = max(1, round(size * 0.06))
    return Compose(
        (
            Pad(shift, background),
            Jitter(2 * shift),
            RandomScale(tuple(0.9 + i / 50 for i in range(11))),
            RandomRotate(tuple(range(-10, 11))),
        )
    )
