"""What the demo offers besides the models, written into the export so the demo needs nothing from
toolkit.data: example photos (`examples/*.png`, each with its caption) and ImageNet's class names
(`imagenet_classes.json`)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, PngImagePlugin

from toolkit.core import names
from toolkit.core.errors import ConvlensError

EXAMPLE_SIDE = 640  # longer side of a staged example photo: full size on a page, small in the export
CAPTION_KEY = "Description"  # the PNG text chunk that carries an example's caption (the demo shows it)


@dataclass(frozen=True)
class ExamplePhoto:
    """One example the demo offers: a real photo from the real-photo set, or scikit-image's when it is absent."""

    file: str  # in exported/examples/, numbered so that the demo lists them in this order
    caption: str
    photo_id: str | None = None  # in the real-photo set (`convlens assets --only photos`)
    skimage_file: str | None = None  # in scikit-image's data folder


# A cat, a dog, a cat in a room and neither; with the fallback used when the real-photo set is not fetched.
EXAMPLE_PHOTOS = (
    ExamplePhoto("1_cat.png", "A cat: Chelsea, scikit-image's sample photo", skimage_file="chelsea.png"),
    ExamplePhoto("2_dog.png", "A dog: a golden retriever (plasma-workspace-data, CC0)", "plasma-workspace-data/dog"),
    ExamplePhoto(
        "3_cat_in_a_room.png", "A cat in a room: a kitten on a wooden floor (opencv-doc)", "opencv-doc/kitten-on-floor"
    ),
    ExamplePhoto("4_neither.png", "Neither: a cup of coffee (scikit-image)", skimage_file="coffee.png"),
)
ROOM_FALLBACK = ExamplePhoto(
    "3_cat_in_a_room.png", "A cat in a room, made up: Chelsea pasted small into scikit-image's coffee photo"
)


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


def real_photo_path(photo_id: str) -> Path | None:
    """A photo of the real-photo set when it is already in the asset cache (nothing is fetched here)."""
    from toolkit.core.paths import photos_dir
    from toolkit.data.photos import PHOTO_PINS, photo_file

    for archive, photo in PHOTO_PINS.in_table_order():
        if photo.id == photo_id:
            path = photos_dir() / archive.name / photo_file(photo)
            return path if path.is_file() else None
    return None


def cat_in_a_room() -> Image.Image | None:
    """Chelsea pasted at a fifth of the width into the coffee photo: a stand-in for a cat in a room."""
    chelsea, coffee = chelsea_path(), skimage_photo_path("coffee.png")
    if chelsea is None or coffee is None:
        return None
    room = Image.open(coffee).convert("RGB")
    cat = Image.open(chelsea).convert("RGB")
    cat = cat.resize((room.width // 5, round(cat.height * room.width / 5 / cat.width)), Image.Resampling.LANCZOS)
    room.paste(cat, (room.width // 20, room.height - cat.height - room.height // 20))
    return room


def _source(example: ExamplePhoto) -> tuple[Image.Image, str] | None:
    if example.photo_id and (path := real_photo_path(example.photo_id)) is not None:
        return Image.open(path), example.caption
    if example.skimage_file and (path := skimage_photo_path(example.skimage_file)) is not None:
        return Image.open(path), example.caption
    if example.file == ROOM_FALLBACK.file and (room := cat_in_a_room()) is not None:
        return room, ROOM_FALLBACK.caption
    return None


def write_example_photos(folder: Path) -> list[Path]:
    """Example photos as PNG files in `folder`, at most EXAMPLE_SIDE pixels, each with its caption in the PNG."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for example in EXAMPLE_PHOTOS:
        source = _source(example)
        if source is None:
            continue
        picture, caption = source
        picture = ImageOps.exif_transpose(picture).convert("RGB")
        picture.thumbnail((EXAMPLE_SIDE, EXAMPLE_SIDE), Image.Resampling.LANCZOS)
        text = PngImagePlugin.PngInfo()
        text.add_text(CAPTION_KEY, caption)
        target = folder / example.file
        picture.save(target, format="PNG", pnginfo=text)
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
