"""The letters source: handwriting-like letters generated from fonts, or the real EMNIST letters.

EMNIST is in no package registry, so the offline default draws the 26 letters (upper and lower
case merged into one class each, as EMNIST letters does) from every text face that ships with
matplotlib. Font outlines do not look written, so each glyph is thinned to its skeleton and
redrawn with a round pen of random, slowly varying width after a random affine and elastic
warp; then blur, and the same MNIST-like normalisation the demo applies to sketches
(`toolkit.core.preprocessing.mnist_like`). Deterministic for a seed and cached under CONVLENS_HOME.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from toolkit.core.atomic_files import write_atomically
from toolkit.core.errors import ConvlensError
from toolkit.core.paths import convlens_home
from toolkit.core.preprocessing import mnist_like
from toolkit.core.warp import random_warp, smooth_field
from toolkit.data.datasets import Split

LETTERS = string.ascii_lowercase  # label i is LETTERS[i], either case
GENERATOR_VERSION = 1  # bump when the drawing changes, so old caches are not reused
# matplotlib's faces without Latin letters (symbol fonts, or glyph placeholders) are left out.
NOT_TEXT_FACES = {"LastResortHE-Regular.ttf", "cmex10.ttf", "cmsy10.ttf"}
GLYPH_SIZE = 64  # glyphs are drawn on a GLYPH_SIZE canvas, warped, then normalised to 28x28
GLYPH_FILL = 40  # the glyph's larger side, in canvas pixels, before the warp
SERIF_PX = 9  # skeleton branches this short are serifs: pens do not draw them ...
SHORT_STROKE_LETTERS = set("ftrGQ")  # ... except in letters whose identity is a short stroke
EMNIST_FILES = {
    "train": ("emnist-letters-train-images-idx3-ubyte.gz", "emnist-letters-train-labels-idx1-ubyte.gz"),
    "test": ("emnist-letters-test-images-idx3-ubyte.gz", "emnist-letters-test-labels-idx1-ubyte.gz"),
}


@dataclass(frozen=True)
class LetterStyle:
    """How the generated letters vary; sizes are in GLYPH_SIZE canvas pixels (about 2.3 per MNIST pixel)."""

    lower_case_fraction: float = 0.5
    rotation_deg: float = 12.0  # uniform in +-
    shear: float = 0.3  # horizontal shear, uniform in +- (slanted writing)
    scale: tuple[float, float] = (0.75, 1.2)  # width and height, independently
    elastic_px: float = 3.0  # std of the smooth elastic displacement
    elastic_grid: int = 4  # its control points per side (fewer = smoother)
    pen_radius: tuple[float, float] = (1.6, 4.2)  # round pen, per letter ...
    pen_pressure: float = 0.3  # ... varying along the strokes by up to this fraction
    blur_sigma: tuple[float, float] = (0.3, 1.2)


@dataclass(frozen=True)
class GeneratedLetters:
    """The generated letters data set: `per_class` training and `test_per_class` test images per letter."""

    per_class: int = 1200
    test_per_class: int = 200
    seed: int = 0
    style: LetterStyle = LetterStyle()

    def cache_key(self) -> str:
        fields = {
            "version": GENERATOR_VERSION,
            "faces": [path.name for path in text_faces()],
            **dataclasses.asdict(self),
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------- glyphs


@lru_cache(maxsize=1)
def text_faces() -> tuple[Path, ...]:
    """The TrueType faces bundled with matplotlib that draw Latin letters."""
    import matplotlib
    from fontTools.ttLib import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = []
    for path in sorted(folder.glob("*.ttf")):
        if path.name in NOT_TEXT_FACES:
            continue
        cmap = TTFont(path, lazy=True).getBestCmap() or {}
        if all(ord(char) in cmap for char in string.ascii_letters):
            faces.append(path)
    if not faces:
        raise ConvlensError(
            f"no usable fonts in {folder}: reinstall matplotlib, or train on the real EMNIST letters with --data DIR."
        )
    return tuple(faces)


def _glyph(face: Path, char: str) -> np.ndarray:
    """A character of a face, filled, as a bool image whose larger side is GLYPH_FILL."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(face), 3 * GLYPH_FILL)
    left, top, right, bottom = font.getbbox(char)
    picture = Image.new("L", (int(right - left) + 8, int(bottom - top) + 8), 0)  # FreeType boxes are whole pixels
    ImageDraw.Draw(picture).text((4 - left, 4 - top), char, font=font, fill=255)
    ink = np.asarray(picture)
    rows, cols = np.nonzero(ink > 127)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = GLYPH_FILL / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.LANCZOS)) > 127


def _without_spurs(line: np.ndarray, longest: int) -> np.ndarray:
    """A skeleton without the short side branches (up to `longest` pixels) that serifs leave on it."""
    from scipy.ndimage import convolve, label

    ring = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]])
    neighbours = convolve(line.astype(np.int32), ring, mode="constant") * line
    junctions = neighbours >= 3
    near_junction = convolve(junctions.astype(np.int32), ring, mode="constant") > 0
    # Cut the skeleton at its junctions: what is left are branches; a spur is a short branch
    # that has a free end and touches a junction at the other.
    branches, count = label(line & ~junctions, structure=np.ones((3, 3)))
    pruned = line.copy()
    for index in range(1, count + 1):
        branch = branches == index
        if branch.sum() <= longest and (neighbours[branch] == 1).any() and (near_junction & branch).any():
            pruned &= ~branch
    return pruned


@lru_cache(maxsize=2)
def _skeletons(faces: tuple[Path, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Centre lines of every face's 52 letters, on the canvas: (faces, 52, S, S) float32 and the letters."""
    from skimage.morphology import skeletonize

    chars = string.ascii_lowercase + string.ascii_uppercase
    canvas = np.zeros((len(faces), len(chars), GLYPH_SIZE, GLYPH_SIZE), np.float32)
    for f, face in enumerate(faces):
        for c, char in enumerate(chars):
            line = skeletonize(_glyph(face, char))
            if char not in SHORT_STROKE_LETTERS:
                line = _without_spurs(line, SERIF_PX)
            line = line.astype(np.float32)
            height, width = line.shape
            top, left = (GLYPH_SIZE - height) // 2, (GLYPH_SIZE - width) // 2
            canvas[f, c, top : top + height, left : left + width] = line
    return canvas, np.array(list(chars))


# ---------------------------------------------------------------------------------- drawing


def _pen_strokes(lines: np.ndarray, rng: np.random.Generator, style: LetterStyle) -> np.ndarray:
    """Redraw warped centre lines (N, S, S) with a round pen of varying width: ink in 0..1."""
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    count = len(lines)
    on_line = lines > 0.25
    # One transform over the stack: the huge spacing between images keeps them apart.
    distance = distance_transform_edt(~on_line, sampling=(1e4, 1.0, 1.0))
    radius = rng.uniform(*style.pen_radius, count)[:, None, None]
    pressure = 1 + style.pen_pressure * np.tanh(smooth_field(rng, count, 3, GLYPH_SIZE))
    ink = np.clip(radius * pressure + 0.5 - distance, 0.0, 1.0)
    sigma = rng.uniform(*style.blur_sigma, count)
    return np.stack([gaussian_filter(one, s) for one, s in zip(ink, sigma)])


def draw_letters(
    labels: np.ndarray, rng: np.random.Generator, style: LetterStyle = LetterStyle(), batch: int = 512
) -> np.ndarray:
    """MNIST-like 28x28 uint8 images (white ink on black) of the given letter labels 0..25."""
    faces = text_faces()
    skeletons, chars = _skeletons(faces)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    for start in range(0, len(labels), batch):
        part = labels[start : start + batch]
        upper = rng.random(len(part)) >= style.lower_case_fraction
        column = part + 26 * upper
        face = rng.integers(0, len(faces), len(part))
        lines = random_warp(
            skeletons[face, column],
            rng,
            style.rotation_deg,
            style.shear,
            style.scale,
            elastic_px=style.elastic_px,
            elastic_grid=style.elastic_grid,
        )
        for i, ink in enumerate(_pen_strokes(lines, rng, style)):
            digit = mnist_like(ink)
            if digit is not None:
                images[start + i] = digit
    return images


def generate_letters(count_per_class: int, seed: int, style: LetterStyle = LetterStyle()) -> Split:
    """`count_per_class` images of each of the 26 letters, shuffled; the same for the same seed."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(26), count_per_class))
    return Split(draw_letters(labels, rng, style), labels.astype(np.int64))


def load_generated_letters(config: GeneratedLetters = GeneratedLetters(), cache: bool = True) -> tuple[Split, Split]:
    """Train and test splits of generated letters, from the cache under CONVLENS_HOME when there."""
    path = convlens_home() / "letters" / f"generated-{config.cache_key()}.npz"
    if cache and path.exists():
        with np.load(path) as arrays:
            return Split(arrays["x_train"], arrays["y_train"]), Split(arrays["x_test"], arrays["y_test"])
    # Different seeds for the two splits so no test letter repeats a training draw.
    train = generate_letters(config.per_class, config.seed, config.style)
    test = generate_letters(config.test_per_class, config.seed + 1_000_003, config.style)
    if cache:
        encoded = io.BytesIO()
        np.savez_compressed(encoded, x_train=train.x, y_train=train.y, x_test=test.x, y_test=test.y)
        write_atomically(path, encoded.getvalue())
    return train, test


def save_letter_grid(split: Split, path: str | os.PathLike, per_letter: int = 8, title: str = "") -> None:
    """A PNG grid: one column per letter, `per_letter` examples down each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(per_letter, 26, figsize=(13, per_letter * 0.55 + 0.6))
    for label in range(26):
        examples = np.flatnonzero(split.y == label)[:per_letter]
        for row in range(per_letter):
            axis = axes[row, label]
            axis.axis("off")
            if row < len(examples):
                axis.imshow(split.x[examples[row]], cmap="gray", vmin=0, vmax=255)
        axes[0, label].set_title(LETTERS[label], fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9 if title else 0.95, wspace=0.05, hspace=0.05)
    figure.savefig(path, dpi=90)
    plt.close(figure)


# ---------------------------------------------------------------------------------- EMNIST


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """An IDX array of unsigned bytes, from a gzip file."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] != expected_dims:
        raise ConvlensError(
            f"{path} is not a gzip IDX file of {expected_dims}-D unsigned bytes; "
            "download the EMNIST 'letters' files again."
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_dims))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * expected_dims)
    if body.size != int(np.prod(shape)):
        raise ConvlensError(f"{path} is truncated ({body.size} bytes of {int(np.prod(shape))}); download it again.")
    return body.reshape(shape)


def load_emnist_letters(folder: str | os.PathLike) -> tuple[Split, Split]:
    """The official EMNIST letters (train, test) from a folder of its gzip IDX files.

    EMNIST stores each image transposed relative to MNIST, and labels letters 1..26; both are
    turned around here, so images are upright and labels are 0..25 like the generated ones.
    """
    folder = Path(folder).expanduser()
    names = [name for pair in EMNIST_FILES.values() for name in pair]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise ConvlensError(
            f"{folder} lacks the EMNIST letters files {', '.join(missing)}; put the four "
            "emnist-letters-*-ubyte.gz files from the EMNIST 'gzip' archive there."
        )
    splits = []
    for images_name, labels_name in EMNIST_FILES.values():
        images = _read_idx(folder / images_name, 3).transpose(0, 2, 1)
        labels = _read_idx(folder / labels_name, 1).astype(np.int64)
        if len(images) != len(labels) or images.shape[1:] != (28, 28):
            raise ConvlensError(
                f"{folder / images_name} and {labels_name} do not match (shapes "
                f"{images.shape}, {labels.shape}); download them again."
            )
        if labels.min() < 1 or labels.max() > 26:
            raise ConvlensError(f"{folder / labels_name} has labels outside 1..26: are these the 'letters' files?")
        splits.append(Split(np.ascontiguousarray(images), labels - 1))
    return splits[0], splits[1]
