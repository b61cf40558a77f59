"""The affine warps of convlens, in one place.

- `affine_warp`: rotate, zoom, mirror and shift a batch about its centre in TensorFlow (one
  ImageProjectiveTransform, bilinear, edges reflected): the cats-vs-dogs augmentation and the
  gradient-ascent scale/rotate transforms.
- `random_warp`: the numpy/scipy warp of 28x28-style ink images (rotation, shear, x/y scale,
  shift, optional elastic field; zeros outside): the generated letters and the digit augmentation.

TensorFlow and scipy are imported inside the functions: core imports neither at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


def affine_warp(images, angle, scale, shift_x=0.0, shift_y=0.0, mirror=1.0) -> tf.Tensor:
    """Rotate by `angle` (radians), zoom by `scale`, mirror left-right where `mirror` is -1, and shift by
    (`shift_x`, `shift_y`) pixels, each about the image centre; scalars or one value per image (float32 NHWC)."""
    import tensorflow as tf

    count = tf.shape(images)[0]
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)

    def per_image(value) -> tf.Tensor:
        return tf.broadcast_to(tf.cast(value, tf.float32), [count])

    angle, scale, shift_x, shift_y, mirror = map(per_image, (angle, scale, shift_x, shift_y, mirror))
    # the matrix maps each output pixel to where it is read from: centre + A (p - centre) + shift,
    # A being the inverse rotation divided by the zoom
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1, b0, b1 = cos * mirror, -sin, sin * mirror, cos
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    a2 = centre_x + shift_x - a0 * centre_x - a1 * centre_y
    b2 = centre_y + shift_y - b0 * centre_x - b1 * centre_y
    zeros = tf.zeros([count])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    static = images.shape[1:3]
    output_shape = list(static) if static.is_fully_defined() else tf.shape(images)[1:3]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=output_shape,
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def smooth_field(rng: np.random.Generator, count: int, grid: int, size: int) -> np.ndarray:
    """Smooth random fields (count, size, size) of std about 1: Gaussian bumps on a coarse grid."""
    centres = (np.arange(grid) + 0.5) * size / grid
    width = size / grid
    basis = np.exp(-0.5 * ((np.arange(size)[:, None] + 0.5 - centres[None, :]) / width) ** 2)
    basis /= np.sqrt((basis**2).sum(axis=1, keepdims=True))  # unit variance at every pixel
    coarse = rng.standard_normal((count, grid, grid))
    return np.einsum("ij,njk,lk->nil", basis, coarse, basis, optimize=True)


def random_warp(
    images: np.ndarray,
    rng: np.random.Generator,
    rotation_deg: float,
    shear: float,
    scale: tuple[float, float],
    shift_px: float = 0.0,
    elastic_px: float = 0.0,
    elastic_grid: int = 4,
) -> np.ndarray:
    """A random affine (rotation, horizontal shear, x/y scale, shift) plus optional elastic warp of
    each image of a batch (N, H, W) about its centre; float32 out, bilinear, zeros outside."""
    from scipy.ndimage import map_coordinates

    count, height, width = images.shape
    angle = np.deg2rad(rng.uniform(-rotation_deg, rotation_deg, count))
    slant = rng.uniform(-shear, shear, count)
    scale_y, scale_x = rng.uniform(*scale, (2, count))
    shift = rng.uniform(-shift_px, shift_px, (2, count))
    # forward map A = R @ Shear @ Scale; sample the source at A^-1 (output - centre - shift)
    cos, sin = np.cos(angle), np.sin(angle)
    shear_matrix = np.zeros((count, 2, 2))
    shear_matrix[:, 0, 0] = shear_matrix[:, 1, 1] = 1
    shear_matrix[:, 1, 0] = slant  # col += slant * row: upright strokes lean
    rotation = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], 1)  # (row, col) coords
    scaling = np.zeros((count, 2, 2))
    scaling[:, 0, 0], scaling[:, 1, 1] = scale_y, scale_x
    forward = rotation @ shear_matrix @ scaling
    inverse = np.linalg.inv(forward)
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    out = np.stack([rows, cols]).reshape(2, -1).astype(np.float64)  # (2, H*W)
    relative = out[None] - centre[None, :, None] - shift.T[:, :, None]  # (N, 2, H*W)
    source = inverse @ relative + centre[None, :, None]
    source = source.reshape(count, 2, height, width)
    if elastic_px > 0:
        source[:, 0] += elastic_px * smooth_field(rng, count, elastic_grid, max(height, width))[:, :height, :width]
        source[:, 1] += elastic_px * smooth_field(rng, count, elastic_grid, max(height, width))[:, :height, :width]
    index = np.broadcast_to(np.arange(count, dtype=np.float64)[:, None, None], (count, height, width))
    coordinates = np.stack([index, source[:, 0], source[:, 1]])
    return map_coordinates(images.astype(np.float32), coordinates, order=1, mode="constant", cval=0.0)
