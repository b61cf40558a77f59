"""What a stranger's request may make the demo open, and how much of it.

Every HTTP request is a stranger's. A file reference in a request is honoured only when Gradio
received that file as an upload, or when it is Gradio's copy of one of the demo's own examples
(photos and digit drawings); every other reference gets the same message, whatever lies at that path, so the answer
says nothing about the server's files. Image sizes are read from the header before anything is
decoded, and the Sketchpad's blob store is bounded in blobs, bytes, layers and age.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, SupportsIndex, SupportsInt

from PIL import Image, UnidentifiedImageError

from demo.limits import (
    BLOB_MAX_AGE_S,
    BLOB_MAX_BYTES,
    BLOB_MAX_SKETCHES,
    BLOB_MAX_TOTAL_BYTES,
    CANVAS,
    SKETCH_MAX_LAYERS,
    SKETCH_MAX_SIDE,
)
from toolkit.core.errors import ConvlensError

if TYPE_CHECKING:
    from gradio.components.image_editor import EditorDataBlobs

REFUSED_FILE = "The image did not arrive with this request: upload it again."
SKETCH_FORMATS = ("PNG", "WEBP", "JPEG")  # what a canvas exports
BLOB_KINDS = ("background", "layer", "composite")


class RefusedInput(ConvlensError):
    """A request the demo will not act on; the message says what to do, and nothing about the server."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class UploadGate:
    """Decides which file paths a request may make the demo open.

    `uploaded` is Gradio's live set of files received through its upload route; `cached` yields
    the files Gradio copied into its cache for the app (examples among them), of which only the
    ones with the content of an example (a photo or a digit drawing) are honoured.
    """

    def __init__(self, uploaded: set[str], cached: Callable[[], Iterable[str]], examples: Iterable[Path]) -> None:
        self._uploaded = uploaded
        self._cached = cached
        self._example_hashes = {_sha256(path) for path in examples}
        self._examples: set[str] = set()
        self._seen_cached: set[str] = set()
        self._lock = threading.Lock()

    def _is_example(self, path: str) -> bool:
        with self._lock:
            if path in self._examples:
                return True
            for candidate in self._cached():  # Gradio caches examples when the page first asks for them
                if candidate not in self._seen_cached:
                    self._seen_cached.add(candidate)
                    try:
                        if os.path.isfile(candidate) and _sha256(Path(candidate)) in self._example_hashes:
                            self._examples.add(os.path.realpath(candidate))
                    except OSError:
                        continue
            return path in self._examples

    def check(self, path: object) -> Path:
        """The path, resolved, when the request may open it; RefusedInput (one message for all) otherwise."""
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise RefusedInput(REFUSED_FILE)
        resolved = os.path.realpath(str(path))
        uploaded = resolved in self._uploaded or (str(path) in self._uploaded and not os.path.islink(str(path)))
        if not (uploaded or self._is_example(resolved)) or not os.path.isfile(resolved):
            raise RefusedInput(REFUSED_FILE)
        return Path(resolved)


def open_image_header(source: Path | bytes, formats: tuple[str, ...], what: str = "image") -> Image.Image:
    """The image, opened lazily (header read, pixels not decoded) and restricted to `formats`."""
    try:
        return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=list(formats))
    except Image.DecompressionBombError:
        raise RefusedInput(f"The {what} is far too large to decode safely: scale it down and try again.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise RefusedInput(
            f"The {what} could not be read as an image (only {', '.join(formats)} are read): send one of those."
        ) from None


def check_sketch_image(source: Path | bytes) -> None:
    """Refuse a sketch image that is not a canvas-sized PNG, WebP or JPEG, from its header alone."""
    with open_image_header(source, SKETCH_FORMATS, "drawing") as picture:
        width, height = picture.size
    if max(width, height) > SKETCH_MAX_SIDE:
        raise RefusedInput(
            f"The drawing is too large ({width} x {height} pixels): the canvas is "
            f"{CANVAS[0]} x {CANVAS[1]}, and drawings over {SKETCH_MAX_SIDE} pixels a side are refused. "
            f"Draw on the canvas instead."
        )


class BoundedBlobStore:
    """The Sketchpad's blob store (sketch id -> EditorDataBlobs), bounded in sketches, bytes and age.

    Gradio keeps one entry per id that the browser posts to `accept_blobs` and drops it only when
    that sketch is classified; this store evicts the oldest entries instead of growing.
    """

    def __init__(
        self,
        max_sketches: int = BLOB_MAX_SKETCHES,
        max_bytes: int = BLOB_MAX_TOTAL_BYTES,
        max_age_s: float = BLOB_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_sketches, self.max_bytes, self.max_age_s, self._clock = max_sketches, max_bytes, max_age_s, clock
        self._entries: OrderedDict[str, tuple[float, EditorDataBlobs]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _bytes_of(blobs) -> int:
        parts = [
            getattr(blobs, "background", None),
            getattr(blobs, "composite", None),
            *(getattr(blobs, "layers", None) or []),
        ]
        return sum(len(part) for part in parts if isinstance(part, (bytes, bytearray)))

    def total_bytes(self) -> int:
        with self._lock:
            return sum(self._bytes_of(blobs) for _, blobs in self._entries.values())

    def _evict(self) -> None:
        now = self._clock()
        for key in [key for key, (born, _) in self._entries.items() if now - born > self.max_age_s]:
            del self._entries[key]
        while self._entries and (
            len(self._entries) > self.max_sketches
            or sum(self._bytes_of(b) for _, b in self._entries.values()) > self.max_bytes
        ):
            self._entries.popitem(last=False)

    def get(self, key: str, default: EditorDataBlobs | None = None) -> EditorDataBlobs | None:
        with self._lock:
            self._evict()
            entry = self._entries.get(key)
            return entry[1] if entry else default

    def __setitem__(self, key: str, blobs: EditorDataBlobs) -> None:
        with self._lock:
            born = self._entries.pop(key, (self._clock(), None))[0]
            self._entries[key] = (born, blobs)
            self._evict()

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._entries

    def pop(self, key: str, default: EditorDataBlobs | None = None) -> EditorDataBlobs | None:
        with self._lock:
            entry = self._entries.pop(key, None)
            return entry[1] if entry else default

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def check_blob_post(kind: object, index: object, blob: object) -> None:
    """Refuse a Sketchpad blob post that names an unknown part, a layer beyond the bound, or too many bytes."""
    if kind not in BLOB_KINDS:
        raise RefusedInput(f"Unknown sketch part {kind!r}: expected one of {', '.join(BLOB_KINDS)}.")
    if kind == "layer":
        try:
            if not isinstance(index, (str, bytes, bytearray, SupportsInt, SupportsIndex)):
                raise TypeError(index)  # what int() refuses, refused with the same message
            number = int(index)
        except (TypeError, ValueError):
            raise RefusedInput("A sketch layer needs a whole-number index.") from None
        if not 0 <= number < SKETCH_MAX_LAYERS:
            raise RefusedInput(f"A sketch has at most {SKETCH_MAX_LAYERS} layers; got index {number}.")
    if not isinstance(blob, (bytes, bytearray)) or len(blob) > BLOB_MAX_BYTES:
        raise RefusedInput(f"A sketch image must be at most {BLOB_MAX_BYTES // (1024 * 1024)} MB.")
    check_sketch_image(bytes(blob))
