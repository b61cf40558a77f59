"""Image preprocessing shared by training and serving (numpy and Pillow only, no TensorFlow).

The exported models take float32 pixels 0..255; what happens before that (crop, the resizes
the training data went through, MNIST-style centring) lives here, once, and is recorded in
the manifest so the server applies exactly what training did.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from toolkit.core.errors import ConvlensError

RESAMPLING = {
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "nearest": Image.Resampling.NEAREST,
}
DRAFT_SIDE = 512  # JPEGs are decoded at the smallest 1/2, 1/4 or 1/8 scale still at least this large
DRAFT_FORMATS = ("JPEG", "MPO")  # decoded at a reduced scale by Pillow's draft mode
MNIST_BOX = 20  # MNIST digits are fitted into a 20x20 box ...
MNIST_SIZE = 28  # ... and centred by centre of mass in 28x28


def resize_steps(image: np.ndarray, steps: list[list]) -> np.ndarray:
    """Apply `[[height, width, method], ...]` resizes in order to an HxWxC uint8 image."""
    picture = Image.fromarray(image)
    for height, width, method in steps:
        picture = picture.resize((int(width), int(height)), RESAMPLING[method])
    return np.asarray(picture)


def center_square(picture: Image.Image) -> Image.Image:
    """The largest centred square of a picture."""
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    return picture.crop((left, top, left + side, top + side))


def photo_to_rgb(picture: Image.Image) -> Image.Image:
    """Any Pillow image (EXIF-rotated, RGBA, palette, grayscale, CMYK, 16-bit) as 8-bit RGB.

    Transparent areas become white, as they look in a viewer.
    """
    picture = ImageOps.exif_transpose(picture)
    if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(picture, dtype=np.float64)
        if picture.mode.startswith("I;16") or values.max() > 255:
            values = values / 257.0  # 16-bit range 0..65535 onto 0..255, dark stays dark
        elif picture.mode == "F" and values.max() <= 1.0:
            values = values * 255.0  # floats in 0..1
        picture = Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8))
    if picture.mode == "P" and "transparency" in picture.info:
        picture = picture.convert("RGBA")
    if picture.mode in ("RGBA", "LA", "PA"):
        picture = picture.convert("RGBA")
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture)
    return picture.convert("RGB")


def decode_photo(picture: Image.Image) -> Image.Image:
    """An opened photo decoded as the demo and the evaluation see it: big JPEGs at a reduced scale (10x faster,
    the same result at 224 px), the first frame of an animation, 16-bit kept at its brightness, upright 8-bit RGB.

    Raises Pillow's own errors (OSError, SyntaxError, ValueError, EOFError) for a truncated or corrupt file.
    """
    if picture.format in DRAFT_FORMATS:
        picture.draft(picture.mode, (DRAFT_SIDE, DRAFT_SIDE))
    if getattr(picture, "n_frames", 1) > 1:
        picture.seek(0)
    picture.load()
    if picture.mode.startswith("I;16"):  # photo_to_rgb would stretch it to its maximum
        picture = ImageOps.exif_transpose(picture)
        picture = Image.fromarray((np.asarray(picture, np.uint32) >> 8).astype(np.uint8))
    return photo_to_rgb(picture)


def photo_model_input(picture: Image.Image, preprocessing: dict) -> np.ndarray:
    """The uint8 H x W x 3 image a photo model sees, after the preprocessing the manifest records."""
    kind = preprocessing.get("kind")
    if kind not in ("photo", "resize"):
        raise ConvlensError(
            f"the photo model's preprocessing {kind!r} is not one this version knows: "
            f're-export with this version ("make export").'
        )
    if preprocessing.get("crop") == "center_square":
        picture = center_square(picture)
    return resize_steps(np.asarray(picture.convert("RGB")), preprocessing.get("resize_steps", []))


def upsample_batch(images: np.ndarray, steps: list[list]) -> np.ndarray:
    """`resize_steps` over a batch (N, H, W, C) of uint8 images."""
    return np.stack([resize_steps(image, steps) for image in images])


def mnist_like(ink: np.ndarray, threshold: float = 0.05) -> np.ndarray | None:
    """An ink map (H x W, 0 = paper, larger = more ink) as an MNIST-style 28x28 uint8 digit.

    The ink's bounding box is scaled to fit 20x20 keeping its aspect ratio, then placed so its
    centre of mass sits at the centre of the 28x28 field. None when there is no ink.
    """
    ink = np.asarray(ink, dtype=np.float64)
    if ink.ndim != 2:
        raise ValueError(f"expected a 2-D ink map, got shape {ink.shape}")
    peak = ink.max() if ink.size else 0.0
    if peak <= 0:
        return None
    ink = ink / peak
    rows, cols = np.nonzero(ink > threshold)
    if len(rows) == 0:
        return None
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    scale = MNIST_BOX / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    box = np.asarray(resized, dtype=np.float64).clip(0, 255)
    total = box.sum()
    if total <= 0:
        return None
    cy = (box.sum(axis=1) * np.arange(new_h)).sum() / total
    cx = (box.sum(axis=0) * np.arange(new_w)).sum() / total
    top = int(round(MNIST_SIZE / 2 - 0.5 - cy))
    left = int(round(MNIST_SIZE / 2 - 0.5 - cx))
    top = min(max(top, 0), MNIST_SIZE - new_h)
    left = min(max(left, 0), MNIST_SIZE - new_w)
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float64)
    field[top : top + new_h, left : left + new_w] = box
    return field.round().astype(np.uint8)
