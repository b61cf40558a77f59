"""What the demo does, without a UI: load the verified export's ONNX models, open photos safely,
preprocess them as the manifest says and classify them (drawn digits: demo.sketches).

Plain functions on paths and arrays (onnxruntime, numpy and Pillow; no TensorFlow, no Gradio),
so they are tested without a server. Inputs a user can get wrong raise `BadInput`, a
`ConvlensError` whose message says what happened and what to do.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image, ImageFile, UnidentifiedImageError

from demo.limits import MAX_FULL_DECODE_PIXELS, MAX_MODEL_BYTES, MAX_PIXELS
from demo.uploads import PHOTO_FORMATS
from toolkit.core.errors import ConvlensError
from toolkit.core.names import CATSDOGS, DIGITS, IMAGENET, MANIFEST_NAME
from toolkit.core.preprocessing import DRAFT_FORMATS, decode_photo, photo_model_input
from toolkit.export.manifest import load_verified_manifest, read_manifest
from toolkit.export.onnx_runtime import onnx_session

MIN_SIDE = 16  # pixels; below this there is nothing left to classify
WIDE_ASPECT = 3.0  # beyond this, the centre square leaves most of the photo out: say so
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses twice this outright; `open_photo` refuses it with a message
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is reported, not silently padded with grey

MODELS = {CATSDOGS: "photo", DIGITS: "sketch"}  # the exported models the demo serves
OPTIONAL_MODELS = {IMAGENET: "photo"}  # served when the export has it (exports before it had not)
VARIANT_FILES = {"fp32": "onnx", "int8": "onnx_int8"}
IMAGE_KINDS = "a JPEG, PNG, WebP, GIF, BMP or TIFF photo"


class BadInput(ConvlensError):
    """An input the demo cannot classify; the message says why and what to do instead."""


# ---------------------------------------------------------------- models


@dataclass
class ExportedModel:
    """One exported model: its manifest entry and an onnxruntime session per variant."""

    name: str
    spec: dict
    paths: dict[str, Path]  # variant -> ONNX file
    _sessions: dict[str, onnxruntime.InferenceSession] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.spec["labels"]]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, without the batch dimension (H, W, C)."""
        return tuple(int(d) for d in self.spec["input"]["shape"][1:])

    def variants(self) -> list[str]:
        """The variants a user may pick: fp32, and int8 where the manifest recommends it."""
        recommended = bool(self.spec.get("quantization", {}).get("recommended"))
        return [v for v in VARIANT_FILES if v in self.paths and (v == "fp32" or recommended)]

    def session(self, variant: str) -> onnxruntime.InferenceSession:
        if variant not in self.paths:
            raise BadInput(f"the {self.name} model has no {variant!r} variant; choose one of {sorted(self.paths)}.")
        with self._lock:
            if variant not in self._sessions:
                self._sessions[variant] = onnx_session(self.paths[variant])
            return self._sessions[variant]

    def predict(self, images: np.ndarray, variant: str = "fp32") -> np.ndarray:
        """The model's output for a batch of images (N, H, W, C), pixels 0..255."""
        session = self.session(variant)
        batch = np.asarray(images, dtype=np.float32).reshape((-1, *self.input_shape))
        output = session.get_outputs()[0].name  # names differ by export path: read, never assume
        return session.run([output], {session.get_inputs()[0].name: batch})[0]


@dataclass
class Models:
    """The export the demo serves: its folder, manifest and models."""

    root: Path
    manifest: dict
    catsdogs: ExportedModel
    digits: ExportedModel
    imagenet: ExportedModel | None = None  # the 1000-class network the transfer model was built on, when exported


def load_models(exported_dir: Path) -> Models:
    """The verified export in `exported_dir`, every session opened; a clear error when it is unusable.

    Only the models the demo serves are checked (a bring-your-own export beside them does not
    block it), and every variant is opened now, while its file is the one just verified.
    """
    root = Path(exported_dir)
    manifest = read_manifest(root)
    wanted = [*MODELS, *(name for name in OPTIONAL_MODELS if name in manifest["models"])]
    manifest = load_verified_manifest(root, wanted)
    missing = [name for name in MODELS if name not in manifest["models"]]
    if missing:
        raise ConvlensError(
            f"{root / MANIFEST_NAME} has no {' or '.join(missing)} model, which the demo "
            f'serves: run "make export" to export both.'
        )
    models = {}
    for name in wanted:
        spec = manifest["models"][name]
        paths = {
            variant: root / spec["files"][key]["path"] for variant, key in VARIANT_FILES.items() if key in spec["files"]
        }
        if "fp32" not in paths:
            raise ConvlensError(f'{root / MANIFEST_NAME}: model {name!r} has no ONNX file: run "make export".')
        model = ExportedModel(name, spec, paths)
        for variant, key in VARIANT_FILES.items():
            if variant in paths:  # the bytes that were hashed are the bytes onnxruntime loads
                content = verified_bytes(root, paths[variant], spec["files"][key]["sha256"])
                try:
                    model._sessions[variant] = onnx_session(content)
                except Exception as error:  # onnxruntime's own exceptions do not share a base class
                    raise ConvlensError(
                        f'onnxruntime cannot load {paths[variant]} ({error}): run "make export" again.'
                    ) from None
        models[name] = model
    return Models(root, manifest, models[CATSDOGS], models[DIGITS], models.get(IMAGENET))


def verified_bytes(root: Path, path: Path, sha256: str) -> bytes:
    """The file's bytes, read once, when it lies inside the export, is not too large and matches its hash."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
        raise ConvlensError(f'{path} is not a file inside the export {root}: run "make export" again.')
    if resolved.stat().st_size > MAX_MODEL_BYTES:
        raise ConvlensError(
            f"{path} is over {MAX_MODEL_BYTES // 2**20} MB, more than any model the demo serves: "
            f'run "make export" again.'
        )
    content = resolved.read_bytes()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ConvlensError(f'{path} changed after the export was verified: run "make export" again.')
    return content


# ---------------------------------------------------------------- photos


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


def open_image_file(path: Path, name: str | None) -> Image.Image:
    """The image file opened lazily (photo formats only), or BadInput saying why it cannot be read."""
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
        return Image.open(path, formats=list(PHOTO_FORMATS))  # no EPS (Ghostscript) or other exotic decoders
    except Image.DecompressionBombError as error:
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f" ({int(pixels.group(1)) / 1e6:.0f} megapixels)" if pixels else ""
        raise BadInput(
            f"Image too large{size}: the limit is {MAX_PIXELS / 1e6:.0f} megapixels, and an image "
            f"this large could exhaust the server's memory. Scale it down and try again."
        ) from None
    except UnidentifiedImageError:
        what = "a text file" if kind == "text" else "not an image the demo can read"
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


@dataclass(frozen=True)
class PhotoResult:
    label: str
    probability: float  # of `label`
    probabilities: dict[str, float]
    model_input: np.ndarray  # what the model saw, uint8 H x W x 3
    notes: list[str]


def classify_photo(models: Models, source, variant: str = "fp32", name: str | None = None) -> PhotoResult:
    """Cat or dog, by the exported model: label, probabilities and the image the model saw."""
    model = models.catsdogs
    picture, notes = open_photo(source, name)
    preprocessing = model.spec["preprocessing"]
    if preprocessing.get("crop") == "center_square" and max(picture.size) / min(picture.size) > WIDE_ASPECT:
        notes.append(f"The photo is {picture.width} x {picture.height}: only its centre square was classified.")
    seen = photo_model_input(picture, preprocessing)
    if seen.shape != model.input_shape:
        raise ConvlensError(
            f"preprocessing made {seen.shape} but the model takes {model.input_shape}: "
            f'the manifest is inconsistent; run "make export" again.'
        )
    output = model.predict(seen[None], variant)
    labels = model.labels
    if model.spec["task"] == "binary":
        positive = float(np.clip(output.reshape(-1)[0], 0.0, 1.0))
        probabilities = {labels[0]: 1.0 - positive, labels[1]: positive}
    else:
        probabilities = {label: float(p) for label, p in zip(labels, output.reshape(-1))}
    label = max(probabilities, key=probabilities.__getitem__)
    return PhotoResult(label, probabilities[label], probabilities, seen, notes)
