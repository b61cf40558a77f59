"""A stranger's image opened safely: only photo formats, bounded pixels, bytes and time, upright 8-bit RGB,
and a message that says what to do for every image that cannot be classified (empty, text, SVG,
truncated, too large, too small, a format or mode that cannot be bounded). Every host (the demo,
`convlens classify`, a Ray replica, the Teach tab) opens images through `open_photo`.

The decoder's budgets, all checked from the header before a pixel is decoded:
- pixels: JPEG up to MAX_PIXELS (decoded at a reduced scale, at most MAX_DECODED_PIXELS), every other
  format up to MAX_FULL_DECODE_PIXELS and MAX_DECODED_BYTES in the mode Pillow decodes to;
- sides: both at least MIN_SIDE, the longer at most MAX_SIDE (a 4,000,000 x 4 strip never decodes);
- frames: the first frame or page only, and pages are never counted (Pillow counts TIFF pages in
  quadratic time, so `n_frames` is never touched);
- formats Pillow cannot bound are refused: BMP run-length encoding (its decoder grows a buffer
  with each delta op), TIFF with an unusual mode or compression;
- a JPEG too short to hold the blocks its header declares is truncated, and is refused;
- time: DECODE_SECONDS, checked after each step (the budgets above bound each step's time);
- memory: after a large decode the C allocator hands freed memory back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from toolkit.core.errors import ConvlensError
from toolkit.core.preprocessing import DRAFT_FORMATS, DRAFT_SIDE, photo_to_rgb

MAX_PIXELS = 40_000_000  # 40 megapixels: any camera JPEG (decoded at a reduced scale), but not a decompression bomb
MAX_FULL_DECODE_PIXELS = 16_000_000  # PNG, WebP, GIF, BMP, TIFF are decoded whole
MAX_DECODED_BYTES = 64 * 1024 * 1024  # one decoded image in Pillow's memory (16 MP of RGB or RGBA, 4 bytes a pixel)
MAX_DECODED_PIXELS = 4_000_000  # a JPEG is decoded at the 1/2, 1/4 or 1/8 scale that keeps it under this
MAX_KEPT_PIXELS = 4_000_000  # a larger decoded image is reduced (box filter) before it is handed on
MAX_SIDE = 40_000  # pixels, the longer side: a JPEG panorama, but not a 4,000,000 x 4 strip
MIN_SIDE = 16  # pixels; below this there is nothing left to classify
DECODE_SECONDS = 10.0  # one image, from opening to 8-bit RGB; measured worst case well under 2 s
TRIM_AFTER_BYTES = 8 * 1024 * 1024  # decodes larger than this hand their freed memory back to the system
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes MPO; no EPS/PDF (Ghostscript)
IMAGE_KINDS = "a JPEG, PNG, WebP, GIF, BMP or TIFF photo"
# Bytes a pixel takes in Pillow's memory, by mode (RGB is stored in 4 bytes); a mode not listed is refused.
MODE_BYTES = {
    "1": 1,
    "L": 1,
    "P": 1,
    "LA": 4,
    "PA": 4,
    "La": 4,
    "I;16": 2,
    "I;16B": 2,
    "I;16L": 2,
    "I;16N": 2,
    "RGB": 4,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
    "YCbCr": 4,
    "I": 8,  # 32-bit: decoded, then a float32 copy to convert it
    "F": 8,
}
REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "CMYK")  # what `Image.reduce` takes before photo_to_rgb
TIFF_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "I;16L", "I", "F")
TIFF_COMPRESSIONS = ("raw", "packbits", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "jpeg", "tiff_jpeg")
BMP_RAW, BMP_BITFIELDS = 0, 3  # the BMP compressions decoded into a buffer of the header's size
JPEG_ARITHMETIC_SOF = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})  # blocks cost no bit: size cannot be checked
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
    images over the pixel, byte or side budgets (decompression bombs), formats that cannot be
    bounded, and images under MIN_SIDE pixels.
    """
    started = time.monotonic()
    notes: list[str] = []
    if isinstance(source, (str, Path)):
        name = name or Path(source).name
    if isinstance(source, np.ndarray):
        picture = _array_to_image(source)
    elif isinstance(source, Image.Image):
        picture = source
    else:
        picture = open_image_file(Path(source), name)
    check_budget(picture)
    if _is_animated(picture):
        notes.append("This is an animated image: its first frame was classified.")
    try:
        picture = _decode(picture, started)
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        raise BadInput(
            f"The image {_quoted(name)}is truncated or corrupt ({error}): upload the complete file."
        ) from None
    return picture, notes


def check_budget(picture: Image.Image) -> None:
    """Refuse an opened (not decoded) image whose header declares more than the decoder's budgets allow."""
    width, height = picture.size
    pixels = width * height
    if pixels > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise BadInput(
            f"Image too large: {width} x {height} pixels ({pixels / 1e6:.0f} megapixels); the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels and {MAX_SIDE} pixels a side. Scale it down and try again."
        )
    if min(width, height) < MIN_SIDE:
        raise BadInput(
            f"Image too small: {width} x {height} pixels; both sides must be at least {MIN_SIDE} pixels to classify it."
        )
    if picture.mode not in MODE_BYTES:
        raise BadInput(
            f"This image's pixel format ({picture.mode}) is not one convlens decodes: save it as an "
            f"ordinary 8-bit JPEG or PNG."
        )
    if picture.format in DRAFT_FORMATS:
        return  # decoded at a reduced scale: at most MAX_DECODED_PIXELS
    decoded = pixels * MODE_BYTES[picture.mode]
    if pixels > MAX_FULL_DECODE_PIXELS or decoded > MAX_DECODED_BYTES:
        raise BadInput(
            f"Image too large: {width} x {height} pixels ({pixels / 1e6:.0f} megapixels); "
            f"a {picture.format} image is decoded whole, so its limit is "
            f"{MAX_FULL_DECODE_PIXELS / 1e6:.0f} megapixels ({MAX_DECODED_BYTES >> 20} MB decoded). "
            f"Send it as a JPEG, or scale it down."
        )


def _is_animated(picture: Image.Image) -> bool:
    """Whether more frames follow the first, without counting them (TIFF and GIF count in quadratic/linear time)."""
    if picture.format == "TIFF":
        return bool(getattr(picture, "_TiffImageFile__next", 0))  # the first page's link to a second one
    try:
        return bool(getattr(picture, "is_animated", False))  # GIF: skips one frame; WebP, PNG, MPO: the header
    except (OSError, SyntaxError, ValueError, EOFError):
        return False


def _draft_scale(width: int, height: int) -> int:
    """The JPEG scale (1, 2, 4 or 8): Pillow's choice for a DRAFT_SIDE short side, then halved until the
    decoded image fits MAX_DECODED_PIXELS, so a 40000 x 1000 strip is decoded at 1/8 (keyed on the long side)."""
    short = min(width // DRAFT_SIDE, height // DRAFT_SIDE)
    scale = next((s for s in (8, 4, 2, 1) if short >= s), 1)
    while scale < 8 and -(-width // scale) * -(-height // scale) > MAX_DECODED_PIXELS:
        scale *= 2
    return scale


def _decode(picture: Image.Image, started: float) -> Image.Image:
    """The first frame decoded within the budgets, as upright 8-bit RGB (as `decode_photo` makes it, without
    counting frames, at a scale that also bounds the long side, and with float and 32-bit images converted in place)."""
    if picture.format in DRAFT_FORMATS:
        scale = _draft_scale(*picture.size)
        picture.draft(picture.mode, (picture.width // scale, picture.height // scale))
    picture.load()
    decoded = picture.width * picture.height * MODE_BYTES.get(picture.mode, 4)
    _check_time(started, "decoding")
    ImageOps.exif_transpose(picture, in_place=True)  # upright first: `reduce` drops the orientation tag
    if picture.mode.startswith("I;16"):  # photo_to_rgb would stretch it to its maximum
        picture = Image.fromarray((np.asarray(picture) >> 8).astype(np.uint8))
    elif picture.mode in ("I", "F"):
        picture = _wide_to_8bit(picture)
    if picture.mode in REDUCIBLE_MODES:
        picture = _within_kept_pixels(picture)
    picture = _within_kept_pixels(photo_to_rgb(picture))
    _check_time(started, "converting")
    if decoded > TRIM_AFTER_BYTES:
        release_memory()
    return picture


def _within_kept_pixels(picture: Image.Image) -> Image.Image:
    """The image reduced by a whole factor (box filter) to at most MAX_KEPT_PIXELS, so later steps stay small."""
    pixels = picture.width * picture.height
    return picture.reduce(int(np.ceil(np.sqrt(pixels / MAX_KEPT_PIXELS)))) if pixels > MAX_KEPT_PIXELS else picture


def _wide_to_8bit(picture: Image.Image) -> Image.Image:
    """A 32-bit integer or float image as 8-bit grey, in float32 and in place (photo_to_rgb's rule, half its memory)."""
    mode = picture.mode
    values = np.array(picture, dtype=np.float32)  # a writable copy
    np.nan_to_num(values, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    top = float(values.max()) if values.size else 0.0
    if top > 255:
        values /= 257.0  # 16-bit range 0..65535 onto 0..255, dark stays dark
    elif mode == "F" and top <= 1.0:
        values *= 255.0  # floats in 0..1
    np.clip(values, 0, 255, out=values)
    np.rint(values, out=values)
    return Image.fromarray(values.astype(np.uint8))


def _check_time(started: float, step: str) -> None:
    spent = time.monotonic() - started
    if spent > DECODE_SECONDS:
        raise BadInput(
            f"The image took {spent:.0f} s to decode ({step}); the limit is {DECODE_SECONDS:.0f} s. "
            f"Send an ordinary JPEG or PNG."
        )


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6") if ctypes.util.find_library("c") else None


def release_memory() -> None:
    """Hand memory freed by a large decode back to the system (glibc's malloc_trim; nothing elsewhere)."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _quoted(name: str | None) -> str:
    return f"{name!r} " if name else ""


def open_image_file(path: Path, name: str | None, formats: tuple[str, ...] = PHOTO_FORMATS) -> Image.Image:
    """The image file opened lazily (`formats` only), or BadInput saying why it cannot be read.

    Also refuses, from the header, what the decoder cannot bound: BMP run-length encoding, TIFF with
    an unusual mode or compression, and a JPEG too short to hold the pixels it declares (truncated).
    """
    name = name or path.name
    if not path.is_file():
        raise BadInput(f"The file {name!r} could not be found (the upload may have expired): upload it again.")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"The file {name!r} is empty (0 bytes): upload {IMAGE_KINDS}.")
    with open(path, "rb") as handle:
        head = handle.read(2048)
    kind = _looks_like_text(head)
    if kind == "SVG":
        raise BadInput(
            f"{name!r} is an SVG drawing, which the models cannot read: export it as PNG, or upload {IMAGE_KINDS}."
        )
    try:
        picture = Image.open(path, formats=list(formats))  # no EPS (Ghostscript) or other exotic decoders
    except Image.DecompressionBombError as error:
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        megapixels = f" ({int(pixels.group(1)) / 1e6:.0f} megapixels)" if pixels else ""
        raise BadInput(
            f"Image too large{megapixels}: the limit is {MAX_PIXELS / 1e6:.0f} megapixels, and an image "
            f"this large could exhaust the server's memory. Scale it down and try again."
        ) from None
    except UnidentifiedImageError:
        what = "a text file" if kind == "text" else "not an image convlens can read"
        raise BadInput(f"{name!r} is {what}, even if its name says otherwise: upload {IMAGE_KINDS}.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise BadInput(f"The image {name!r} is truncated or corrupt ({error}): upload the complete file.") from None
    _refuse_unbounded(picture, path, size, name)
    return picture


def _refuse_unbounded(picture: Image.Image, path: Path, size: int, name: str) -> None:
    """Refuse, from the header, the encodings whose decoding the budgets cannot bound, and truncated JPEGs."""
    if picture.format == "BMP" and picture.info.get("compression", BMP_RAW) not in (BMP_RAW, BMP_BITFIELDS):
        raise BadInput(
            f"{name!r} is a run-length-encoded BMP, which convlens does not decode (its size cannot be "
            f"bounded before decoding): save it as PNG or JPEG."
        )
    if picture.format == "TIFF":
        compression = picture.info.get("compression", "raw")
        if picture.mode not in TIFF_MODES or compression not in TIFF_COMPRESSIONS:
            raise BadInput(
                f"{name!r} is a TIFF with an unusual layout ({picture.mode}, {compression}) that convlens "
                f"does not decode: save it as PNG or JPEG."
            )
    if picture.format in DRAFT_FORMATS:
        arithmetic, scan_offset = _jpeg_layout(path)
        if arithmetic:
            raise BadInput(
                f"{name!r} is an arithmetic-coded JPEG, which convlens does not decode: save it as an "
                f"ordinary JPEG or PNG."
            )
        # Huffman coding spends at least one bit on every 8 x 8 block of the first component.
        blocks = -(-picture.width // 8) * -(-picture.height // 8)
        if size - scan_offset < blocks // 8:
            raise BadInput(
                f"The image {name!r} is truncated: its header declares {picture.width} x {picture.height} "
                f"pixels, but the file holds only {size:,} bytes, too few for that many pixels. Upload the "
                f"complete file."
            )


def _jpeg_layout(path: Path) -> tuple[bool, int]:
    """(arithmetic coded, offset of the first scan's data) from a JPEG's markers (headers only, 1 MB at most)."""
    with open(path, "rb") as handle:
        data = handle.read(1 << 20)
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if marker in JPEG_ARITHMETIC_SOF:
            return True, offset
        if marker == 0xDA:  # start of scan: entropy-coded data follows its header
            return False, offset + 2 + length
        offset += 2 + length
    return False, min(offset, len(data))


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
