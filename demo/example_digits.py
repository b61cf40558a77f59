"""The digit tab's example drawings: a few digits drawn from pen strokes, as a person draws them on the canvas.

Rendered at start into the demo's scratch folder rather than shipped as PNGs: the strokes below are
the whole source, and the pictures always have the canvas's size and the brush's width.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from demo.limits import BRUSH, CANVAS

EXAMPLE_DIGITS_FOLDER = "example-digits"  # inside the demo's scratch folder
SUPERSAMPLE = 4  # drawn this many times larger, then reduced: smooth edges, as the canvas draws them

Point = tuple[float, float]

# Pen strokes on the unit square (x right, y down), one polyline per stroke, corners rounded when drawn.
EXAMPLE_STROKES: dict[str, list[list[Point]]] = {
    "2": [[(0.3, 0.3), (0.38, 0.16), (0.54, 0.12), (0.68, 0.2), (0.68, 0.36), (0.52, 0.56), (0.3, 0.84), (0.74, 0.83)]],
    "3": [
        [(0.3, 0.2), (0.48, 0.12), (0.66, 0.2), (0.64, 0.36), (0.46, 0.47)],
        [(0.46, 0.47), (0.66, 0.56), (0.7, 0.72), (0.54, 0.86), (0.3, 0.8)],
    ],
    "4": [[(0.56, 0.12), (0.3, 0.58), (0.76, 0.58)], [(0.62, 0.34), (0.6, 0.88)]],
    "5": [
        [(0.68, 0.14), (0.38, 0.15), (0.34, 0.45), (0.52, 0.41), (0.67, 0.52), (0.68, 0.7), (0.52, 0.85), (0.3, 0.8)],
    ],
}


def rounded(stroke: list[Point], passes: int = 3) -> list[Point]:
    """The polyline with its corners cut (Chaikin's method), so it curves as a hand-drawn stroke does."""
    for _ in range(passes):
        if len(stroke) < 3:
            return stroke
        cut = [stroke[0]]
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            cut += [(0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1), (0.25 * x0 + 0.75 * x1, 0.25 * y0 + 0.75 * y1)]
        stroke = [*cut, stroke[-1]]
    return stroke


def draw_strokes(strokes: list[list[Point]], side: int = CANVAS[0], brush: int = BRUSH) -> Image.Image:
    """The strokes drawn in black with a round brush on an opaque white canvas, as the Sketchpad shows them."""
    big, width = side * SUPERSAMPLE, brush * SUPERSAMPLE
    picture = Image.new("L", (big, big), 255)
    pen = ImageDraw.Draw(picture)
    for stroke in strokes:
        points = [(x * big, y * big) for x, y in rounded(stroke)]
        pen.line(points, fill=0, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen tips
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    return picture.resize((side, side), Image.Resampling.LANCZOS).convert("RGB")  # edges anti-aliased


def write_example_digits(folder: Path) -> list[Path]:
    """Draw every example digit into `folder` as `<digit>.png`; returns the files in digit order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for digit, strokes in sorted(EXAMPLE_STROKES.items()):
        path = folder / f"{digit}.png"
        draw_strokes(strokes).save(path, format="PNG")
        paths.append(path)
    return paths
