"""What the demo offers besides the models, written into the export so the demo needs nothing from
toolkit.data: example photos (`examples/*.png`) and ImageNet's class names (`imagenet_classes.json`)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.core import names
from toolkit.core.errors import ConvlensError

EXAMPLE_CATS_DOGS = 3  # of each class, the first ones of the 400-image test split
CHELSEA_FILE = "chelsea_cat.png"


def skimage_photo_path(filename: str) -> Path | None:
    """A photo shipped in scikit-image's data folder (chelsea.png, astronaut.png ...), found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / filename
    return path if path.is_file() else None


def chelsea_path() -> Path | None:
    """scikit-image's chelsea.png (a real cat photo), found without importing scikit-image."""
    return skimage_photo_path("chelsea.png")


def write_example_photos(folder: Path) -> list[Path]:
    """Example photos as PNG files in `folder`: chelsea, then the first test cats and dogs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    chelsea = chelsea_path()
    if chelsea is not None:
        target = folder / CHELSEA_FILE
        if not target.exists():
            Image.open(chelsea).convert("RGB").save(target)
        paths.append(target)
    try:
        from toolkit.data.datasets import load_cats_dogs  # numpy only; needs the asset cache

        _, test = load_cats_dogs()
    except (ConvlensError, OSError, KeyError):
        return paths
    for label, name in enumerate(names.CATS_DOGS_LABELS):
        for number, index in enumerate(np.flatnonzero(test.y == label)[:EXAMPLE_CATS_DOGS], start=1):
            target = folder / f"test_{name}_{number}.png"
            if not target.exists():
                Image.fromarray(test.x[index]).save(target)
            paths.append(target)
    return paths


def write_imagenet_classes(path: Path) -> bool:
    """ImageNet's 1000 class names as a JSON list (index -> name); False when the asset cache lacks them."""
    try:
        from toolkit.data.datasets import imagenet_class_names

        classes = list(imagenet_class_names())
    except (ConvlensError, OSError, KeyError, ValueError):
        return False
    Path(path).write_text(json.dumps(classes, indent=0) + "\n")
    return True


def stage_demo_files(staging: Path, log: Callable[[str], None] = print) -> list[str]:
    """Write the examples folder and the ImageNet class names into a staged export; returns what was written."""
    written = []
    if write_example_photos(Path(staging) / names.EXAMPLES_FOLDER):
        written.append(names.EXAMPLES_FOLDER)
    if write_imagenet_classes(Path(staging) / names.IMAGENET_CLASSES_FILE):
        written.append(names.IMAGENET_CLASSES_FILE)
    else:
        log('ImageNet class names are not in the asset cache (run "convlens assets"): the export goes without them.')
    return written
