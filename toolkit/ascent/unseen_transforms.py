"""Transformation families neither ascent method optimised against, applied to images as saved (uint8, as in the PNG).

The robust method optimises against pad, jitter, scale and rotation, resampled bilinearly; the gallery's small check
applies the same families, so it flatters that method. These are others: shifts beyond its jitter, another
interpolation, JPEG re-encoding and colour jitter. Each family is a callable `(images, rng) -> images` on uint8
(N, H, W, C) arrays that draws its parameters once per call and applies them to the whole batch, so with the same
seed every image, and both methods, meet the same transformations.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def _each(images: np.ndarray, change: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    """`change` applied to each image of a uint8 (N, H, W, C) batch through Pillow (C = 1: mode L, 3: RGB)."""
    images = np.asarray(images, np.uint8)
    grey = images.shape[-1] == 1
    changed = [np.asarray(change(Image.fromarray(image[..., 0] if grey else image)), np.uint8) for image in images]
    return np.stack([c[..., None] if grey else c for c in changed])


def shifted(images: np.ndarray, dy: int, dx: int, fill: int) -> np.ndarray:
    """The images moved down by `dy` and right by `dx` whole pixels; what comes in is `fill`."""
    height, width = images.shape[1:3]
    out = np.full_like(images, fill)
    if abs(dy) < height and abs(dx) < width:
        out[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = images[
            :, max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
        ]
    return out


@dataclass(frozen=True)
class LargeShift:
    """A shift by `low`..`high` of the side in a random direction (whole pixels), filled with `background`."""

    low: float = 0.15
    high: float = 0.25
    background: int = 128
    random: bool = True

    def offsets(self, size: int, rng: np.random.Generator) -> tuple[int, int]:
        """(dy, dx) of one draw: a distance of `low`..`high` of `size`, at a uniformly random angle."""
        distance, angle = rng.uniform(self.low, self.high) * size, rng.uniform(0.0, 2 * math.pi)
        return round(distance * math.sin(angle)), round(distance * math.cos(angle))

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return shifted(images, *self.offsets(images.shape[1], rng), self.background)

    @property
    def description(self) -> str:
        return f"a shift by {self.low:.0%}-{self.high:.0%} of the side in a random direction, padded"


@dataclass(frozen=True)
class Resample:
    """Resized down to `low`..`high` of the side and back up, both ways with Pillow's `method`."""

    method: str  # a key of RESAMPLING
    low: float = 0.5
    high: float = 0.75
    random: bool = True

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        factor, filter_ = rng.uniform(self.low, self.high), RESAMPLING[self.method]
        height, width = images.shape[1:3]
        small = (max(1, round(width * factor)), max(1, round(height * factor)))
        return _each(images, lambda image: image.resize(small, filter_).resize((width, height), filter_))

    @property
    def description(self) -> str:
        return f"resized to {self.low:.0%}-{self.high:.0%} of the side and back, {self.method} both ways"


@dataclass(frozen=True)
class Jpeg:
    """Re-encoded as JPEG at `quality` by Pillow (its default 4:2:0 chroma subsampling for colour)."""

    quality: int
    random: bool = False  # the same every time: one draw says it all

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        def reencode(image: Image.Image) -> Image.Image:
            encoded = io.BytesIO()
            image.save(encoded, "JPEG", quality=self.quality)
            return Image.open(io.BytesIO(encoded.getvalue())).convert(image.mode)

        return _each(images, reencode)

    @property
    def description(self) -> str:
        return f"JPEG re-encoding at quality {self.quality} (Pillow)"


@dataclass(frozen=True)
class ColourJitter:
    """Brightness and contrast factors drawn from 1 +- their amount; for colour images also saturation, and a hue
    turned by up to +- `hue` of the circle (Pillow's ImageEnhance and HSV). A grey image stays one channel."""

    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    random: bool = True

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # all four are drawn for grey images too, so that a seed draws the same brightness and contrast for both
        b, c, s = (rng.uniform(1 - amount, 1 + amount) for amount in (self.brightness, self.contrast, self.saturation))
        turn = round(rng.uniform(-self.hue, self.hue) * 256)

        def jitter(image: Image.Image) -> Image.Image:
            image = ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(b)).enhance(c)
            if image.mode != "RGB":
                return image
            hue, saturation, value = ImageEnhance.Color(image).enhance(s).convert("HSV").split()
            return Image.merge("HSV", (hue.point(lambda h: (h + turn) % 256), saturation, value)).convert("RGB")

        return _each(images, jitter)

    @property
    def description(self) -> str:
        return (
            f"colour jitter: brightness x{1 - self.brightness:.1f}-{1 + self.brightness:.1f}, "
            f"contrast x{1 - self.contrast:.1f}-{1 + self.contrast:.1f}; "
            f"colour images also saturation x{1 - self.saturation:.1f}-{1 + self.saturation:.1f} "
            f"and hue +-{self.hue:.0%} of the circle"
        )


Family = LargeShift | Resample | Jpeg | ColourJitter


def unseen_families(channels: int) -> dict[str, Family]:
    """The families, by the name the check records them under; shifts pad black for one channel, grey otherwise
    (the models' backgrounds, as in the small check)."""
    return {
        "large_shift": LargeShift(background=0 if channels == 1 else 128),
        "resize_nearest": Resample("nearest"),
        "resize_bicubic": Resample("bicubic"),
        "jpeg_q30": Jpeg(30),
        "jpeg_q70": Jpeg(70),
        "colour_jitter": ColourJitter(),
    }
