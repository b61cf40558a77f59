"""A folder of your own cat and dog photos as a labelled image set (numpy and Pillow, no TensorFlow).

Two layouts are understood:
- `cat/` and `dog/` subfolders (also `cats/`, `dogs/`, any case), photos anywhere inside them;
- Kaggle's flat naming, `cat.123.jpg` and `dog.456.jpg`, in the folder itself.

Every photo goes through the serving path's own steps (`photo_to_rgb`, `center_square`, one
bilinear resize), so a model trained on a folder sees what the demo will show it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from toolkit.core.errors import ConvlensError
from toolkit.core.preprocessing import center_square, photo_to_rgb, resize_steps
from toolkit.data.datasets import CATS_DOGS_LABELS, Split

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LABEL_OF_NAME = {"cat": 0, "cats": 0, "dog": 1, "dogs": 1}


def photo_resize_steps(size: int) -> list[list]:
    """The resizes a photo goes through after its centre square is cut: one bilinear resize."""
    return [[int(size), int(size), "bilinear"]]


def _photos_under(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES and not path.name.startswith(".")
    )


def find_labelled_photos(folder: str | os.PathLike) -> list[tuple[Path, int]]:
    """(path, label) for every photo of a folder in either layout, sorted by path; 0 = cat, 1 = dog."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConvlensError(
            f"{folder} is not a folder: give --data a folder with cat/ and dog/ subfolders "
            "(or Kaggle-style cat.123.jpg / dog.456.jpg files)."
        )
    labelled: list[tuple[Path, int]] = []
    class_folders = sorted(
        (child for child in folder.iterdir() if child.is_dir() and child.name.lower() in LABEL_OF_NAME),
        key=lambda child: (LABEL_OF_NAME[child.name.lower()], child.name),
    )  # cats first
    for child in class_folders:
        labelled += [(path, LABEL_OF_NAME[child.name.lower()]) for path in _photos_under(child)]
    if not class_folders:  # Kaggle naming: the label is the name's first dot-separated part
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES:
                prefix = path.name.split(".")[0].lower()
                if prefix in LABEL_OF_NAME:
                    labelled.append((path, LABEL_OF_NAME[prefix]))
    if not labelled:
        raise ConvlensError(
            f"no cat or dog photos found in {folder}: put them in cat/ and dog/ subfolders, "
            "or name them like Kaggle's cat.123.jpg and dog.456.jpg."
        )
    found = {label for _, label in labelled}
    if len(found) < 2:
        have, lack = CATS_DOGS_LABELS[min(found)], CATS_DOGS_LABELS[1 - min(found)]
        raise ConvlensError(
            f"{folder} has {len(labelled)} {have} photos and no {lack} photos: both classes are needed to train."
        )
    return labelled


def load_photo(path: str | os.PathLike, size: int) -> np.ndarray:
    """One photo as a (size, size, 3) uint8 image: RGB, centre square, bilinear resize."""
    with Image.open(path) as picture:
        square = center_square(photo_to_rgb(picture))
        return resize_steps(np.asarray(square), photo_resize_steps(size))


def load_photos(labelled: list[tuple[Path, int]], size: int, origin: str | os.PathLike = "the folder") -> Split:
    """The given (path, label) photos as a Split of (N, size, size, 3) uint8 images and labels.

    Files that cannot be read as images are skipped with one warning naming how many.
    """
    images, labels, unreadable = [], [], []
    for path, label in labelled:
        try:
            images.append(load_photo(path, size))
        except (UnidentifiedImageError, OSError, ValueError):
            unreadable.append(Path(path).name)
            continue
        labels.append(label)
    if unreadable:
        warnings.warn(
            f"skipped {len(unreadable)} unreadable file(s) in {origin}: {', '.join(unreadable[:5])}"
            f"{' ...' if len(unreadable) > 5 else ''}",
            stacklevel=2,
        )
    if not images:
        raise ConvlensError(f"none of the {len(labelled)} photos in {origin} could be read as an image.")
    return Split(np.stack(images), np.asarray(labels, dtype=np.int64))


def load_photo_folder(folder: str | os.PathLike, size: int = 128) -> Split:
    """All the photos of a folder (either layout) as (N, size, size, 3) uint8 images and labels."""
    split = load_photos(find_labelled_photos(folder), size, origin=folder)
    if len(set(split.y.tolist())) < 2:
        raise ConvlensError(f"too few readable photos in {folder}: both cats and dogs are needed.")
    return split
