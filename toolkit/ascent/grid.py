"""Labelled image grids as PNG (pillow only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PAD = 4
LABEL_HEIGHT = 16
TITLE_HEIGHT = 24


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def labelled_grid(
    images: np.ndarray, labels: Sequence[str], columns: int, title: str = "", min_cell: int = 96
) -> Image.Image:
    """Images (N, H, W[, C]) uint8 in a grid of `columns`, each with its label below, small images enlarged."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n, height, width = images.shape[:3]
    zoom = max(1, -(-min_cell // max(height, width)))
    cell_w, cell_h = width * zoom, height * zoom
    rows = -(-n // columns)
    title_h = TITLE_HEIGHT if title else 0
    width_needed = PAD + columns * (cell_w + PAD)
    if title:  # a single picture must not cut its own title
        width_needed = max(
            width_needed, int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(title, font=_font(15))) + 2 * PAD
        )
    canvas = Image.new("RGB", (width_needed, title_h + PAD + rows * (cell_h + LABEL_HEIGHT + PAD)), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((PAD, 4), title, fill="black", font=_font(15))
    label_font = _font(11)
    for i in range(n):
        row, col = divmod(i, columns)
        x, y = PAD + col * (cell_w + PAD), title_h + PAD + row * (cell_h + LABEL_HEIGHT + PAD)
        tile = Image.fromarray(images[i]).convert("RGB").resize((cell_w, cell_h), Image.Resampling.NEAREST)
        canvas.paste(tile, (x, y))
        draw.text((x, y + cell_h + 2), str(labels[i])[: max(4, cell_w // 6)], fill="black", font=label_font)
    return canvas


def save_png(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
    return path
