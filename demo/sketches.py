"""Drawn digits, without a UI: a Sketchpad value (or any image) read as ink, turned MNIST-like,
and read by the serving layer's digit reader.

Plain functions on arrays (numpy and Pillow; no TensorFlow, no Gradio). A drawing that cannot
be read raises `BadInput` (`EmptySketch` for an empty canvas) with a message that says what to do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.core.preprocessing import mnist_like
from toolkit.serving.digit_reader import DigitResult, read_digit
from toolkit.serving.export_loader import LoadedExport
from toolkit.serving.photo_input import MAX_PIXELS, BadInput, open_image_file

SKETCH_INK_LEVEL = 32  # 0..255: lighter than this is paper (anti-aliasing, compression noise)
SKETCH_MAX_INK_FRACTION = 0.5  # more ink than paper: a filled canvas, not a digit
SKETCH_MIN_EXTENT = 0.1  # of the canvas side: a smaller drawing is a dot, not a digit

EMPTY_SKETCH = "The canvas is empty: draw a digit (0-9) with the brush."


class EmptySketch(BadInput):
    """A sketch with nothing drawn (the live view clears quietly; the button says so)."""


def _sketch_layer(value) -> np.ndarray | None:
    """One layer of a sketch (array, PIL image or file path) as an RGBA uint8 array."""
    if value is None:
        return None
    if isinstance(value, dict):  # a file reference as gradio sends it
        value = value.get("path") or None
        if value is None:
            return None
    if isinstance(value, (str, Path)):
        picture = open_image_file(Path(value), None)
        if picture.width * picture.height > MAX_PIXELS:
            raise BadInput(f"The sketch is too large ({picture.width} x {picture.height}): draw on the canvas.")
        try:
            picture = picture.convert("RGBA")
        except (OSError, SyntaxError, ValueError) as error:
            raise BadInput(f"The sketch image is truncated or corrupt ({error}): draw again.") from None
        return np.asarray(picture)
    if isinstance(value, Image.Image):
        return np.asarray(value.convert("RGBA"))
    array = np.asarray(value)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise BadInput(f"A sketch must be an H x W, H x W x 3 or H x W x 4 image; got shape {array.shape}.")
    if array.shape[2] == 3:
        array = np.concatenate([array, np.full(array.shape[:2] + (1,), 255, array.dtype)], axis=-1)
    return np.clip(array, 0, 255).astype(np.uint8)


def sketch_ink(sketch) -> np.ndarray:
    """Ink map (H x W, 0 = paper .. 255 = black) of a Sketchpad value or a plain image.

    Ink is 255 - luminance of the picture laid on white paper: Gradio's composite is opaque white
    where nothing was drawn, and a transparent picture (as an API caller may send) reads the same.
    """
    if isinstance(sketch, dict):
        layers = [sketch.get("composite")]
        if layers[0] is None:  # no composite: lay the background and the layers on paper ourselves
            layers = [sketch.get("background"), *(sketch.get("layers") or [])]
    else:
        layers = [sketch]
    paper = None
    for layer in layers:
        rgba = _sketch_layer(layer)
        if rgba is None:
            continue
        if paper is None:
            paper = Image.new("RGBA", (rgba.shape[1], rgba.shape[0]), (255, 255, 255, 255))
        if (rgba.shape[1], rgba.shape[0]) != paper.size:
            raise BadInput("The sketch's layers have different sizes: clear the canvas and draw again.")
        paper = Image.alpha_composite(paper, Image.fromarray(rgba, "RGBA"))
    if paper is None:
        raise EmptySketch(EMPTY_SKETCH)
    luminance = np.asarray(paper.convert("L"), dtype=np.float64)
    return 255.0 - luminance


def sketch_to_digit(sketch) -> np.ndarray:
    """A drawing turned MNIST-like: 28 x 28 uint8, white ink on black, centred by centre of mass.

    Refuses an empty canvas, a canvas filled with ink and a lone dot, each with a message.
    """
    ink = sketch_ink(sketch)
    drawn = ink >= SKETCH_INK_LEVEL
    if not drawn.any():
        raise EmptySketch(EMPTY_SKETCH)
    if drawn.mean() > SKETCH_MAX_INK_FRACTION:
        raise BadInput(
            f"The canvas is {drawn.mean():.0%} ink: clear it and draw one digit in dark strokes on the white canvas."
        )
    rows, cols = np.nonzero(drawn)
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    if extent < SKETCH_MIN_EXTENT * min(ink.shape):
        raise BadInput(
            "The drawing is too small to read (a dot?): draw the digit large, about the height of the canvas."
        )
    digit = mnist_like(np.where(drawn, ink, 0.0))
    if digit is None:  # cannot happen once ink was found above; kept so a None never reaches the model
        raise EmptySketch(EMPTY_SKETCH)
    return digit


def classify_sketch(export: LoadedExport, sketch, variant: str = "fp32") -> DigitResult:
    """`sketch_to_digit`, then the serving layer's `read_digit`."""
    return read_digit(export, sketch_to_digit(sketch), variant)
