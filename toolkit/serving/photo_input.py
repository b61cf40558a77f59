"""A stranger's image opened safely: only photo formats, bounded pixels, upright 8-bit RGB, and a message
that says what to do for every image that cannot be classified (empty, text, SVG, truncated, too large,
too small). Every host (the demo, `convlens classify`, a Ray replica) opens images through `open_photo`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from toolkit.core.errors import ConvlensError
from toolkit.core.preprocessing import DRAFT_FORMATS, decode_photo

MAX_PIXELS = 40_000_000  # 40 megapixels: any camera JPEG (decoded at a reduced scale), but not a decompression bomb
MAX_FULL_DECODE_PIXELS = 16_000_000  # PNG, WebP, GIF, BMP, TIFF are decoded whole: 64 MB at RGBA
MIN_SIDE = 16  # pixels; below this there is nothing left to classify
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes MPO; no EPS/PDF (Ghostscript)
IMAGE_KINDS = "a JPEG, PNG, WebP, GIF, BMP or TIFF photo"
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses twice this outright; `open_photo` refuses it with a message
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is reported, not silently padded with grey


class BadInput(ConvlensError):
    """An input that cannot be classified; the message says why and what to do instead."""


def _looks_like_text(head: bytes) -> str | None:
    """'SVG' or 'text' when the first bytes are markup or plain text rather than an image."""
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in lowered[:1024] or (lowered.startswith(b"<?xml") and b"svg" in lowered):
        return "SVG"
    if head and all(byte in b"\t\r\n" or 32 <= byte < 127 for byte in head[:256]):
        return "text"
    return None


def open_photo(source, name: str | None = None) -> tuple[Image.Image, list[str]]:
    """A photo (path, PIL image or HxW[xC] uint8 array) as 8-bit RGB, upright, with notes for the user.

    Refuses, with a message saying what to do: empty, non-image, SVG, truncated or corrupt files,
    images over MAX_PIXELS (decompression bombs) and images under MIN_SIDE pixels.
    """
    notes: list[str] = []
    if isinstance(source, (str, Path)):
        name = name or Path(source).name
    if isinstance(source, np.ndarray):
        picture = _array_to_image(source)
    elif isinstance(source, Image.Image):
        picture = source
    else:
        picture = open_image_file(Path(source), name)
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise BadInput(
            f"Image too large: {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels. Scale it down and try again."
        )
    if picture.format not in DRAFT_FORMATS and width * height > MAX_FULL_DECODE_PIXELS:
        raise BadInput(
            f"Image too large: {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"a {picture.format} image is decoded whole, so its limit is "
            f"{MAX_FULL_DECODE_PIXELS / 1e6:.0f} megapixels. Send it as a JPEG, or scale it down."
        )
    if getattr(picture, "n_frames", 1) > 1:
        notes.append("This is an animated image: its first frame was classified.")
    try:
        picture = decode_photo(picture)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise BadInput(
            f"The image {_quoted(name)}is truncated or corrupt ({error}): upload the complete file."
        ) from None
    if min(picture.size) < MIN_SIDE:
        raise BadInput(
            f"Image too small: {picture.width} x {picture.height} pixels; both sides must be at least "
            f"{MIN_SIDE} pixels to classify it."
        )
    return picture, notes


def _quoted(name: str | None) -> str:
    return f"{name!r} " if name else ""


def open_image_file(path: Path, name: str | None, formats: tuple[str, ...] = PHOTO_FORMATS) -> Image.Image:
    """The image file opened lazily (`formats` only), or BadInput saying why it cannot be read."""
    name = name or path.name
    if not path.is_file():
        raise BadInput(f"The file {name!r} could not be found (the upload may have expired): upload it again.")
    if path.stat().st_size == 0:
        raise BadInput(f"The file {name!r} is empty (0 bytes): upload {IMAGE_KINDS}.")
    with open(path, "rb") as handle:
        head = handle.read(2048)
    kind = _looks_like_text(head)
    if kind == "SVG":
        raise BadInput(
            f"{name!r} is an SVG drawing, which the models cannot read: export it as PNG, or upload {IMAGE_KINDS}."
        )
    try:
        return Image.open(path, formats=list(formats))  # no EPS (Ghostscript) or other exotic decoders
    except Image.DecompressionBombError as error:
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f" ({int(pixels.group(1)) / 1e6:.0f} megapixels)" if pixels else ""
        raise BadInput(
            f"Image too large{size}: the limit is {MAX_PIXELS / 1e6:.0f} megapixels, and an image "
            f"this large could exhaust the server's memory. Scale it down and try again."
        ) from None
    except UnidentifiedImageError:
        what = "a text file" if kind == "text" else "not an image convlens can read"
        raise BadInput(f"{name!r} is {what}, even if its name says otherwise: upload {IMAGE_KINDS}.") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise BadInput(f"The image {name!r} is truncated or corrupt ({error}): upload the complete file.") from None


def _array_to_image(array: np.ndarray) -> Image.Image:
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or array.size == 0:
        raise BadInput(f"An image array must be H x W, H x W x 3 or H x W x 4; got shape {array.shape}.")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(array)
