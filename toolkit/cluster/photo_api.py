"""The JSON HTTP API as plain functions: a request's bytes in, the serving layer's answer out, no Ray.

A Serve replica is a few lines around these (`serve_app`), and tests call them directly. Photos are opened by
`toolkit.serving.photo_input.open_photo` (through `judge_photo`), so the refusals are the demo's own.

Routes (each its own Serve application):
  POST /photo[?map=1&variant=int8&name=cat.jpg]   body: the image file's bytes    -> JSON verdict
  POST /digit[?variant=int8]                      body: a 28 x 28 PNG or .npy      -> JSON reading
  POST /models/<name>[?variant=int8]              body: .npy batch (N, H, W, C)    -> .npy output
  GET  /models/<name>                                                              -> JSON: files and shape
"""

from __future__ import annotations

import base64
import dataclasses
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.core.errors import ConvlensError
from toolkit.serving.digit_reader import read_digit
from toolkit.serving.export_loader import ExportedModel, LoadedExport
from toolkit.serving.photo_input import BadInput, open_photo
from toolkit.serving.photo_pipeline import PhotoVerdict, judge_photo

PHOTO_ROUTE = "/photo"
DIGIT_ROUTE = "/digit"
MODELS_ROUTE = "/models"
NPY_TYPE = "application/x-npy"
MAX_BODY_BYTES = 20 * 1024 * 1024  # one image, as the demo's upload limit (demo.limits.MAX_UPLOAD_BYTES)
MAX_BATCH = 64  # images in one raw-model request
MAX_ARRAY_BYTES = MAX_BATCH * 224 * 224 * 3 * 4  # a float32 batch of the largest served input


def refusal(error: Exception) -> tuple[int, dict]:
    """(HTTP status, JSON body) for an error a client can act on: 413 too large, else 400."""
    status = 413 if isinstance(error, BadInput) and str(error).startswith("Request too large") else 400
    return status, {"error": str(error)}


def check_size(body: bytes, limit: int = MAX_BODY_BYTES) -> None:
    if len(body) > limit:
        raise BadInput(
            f"Request too large: {len(body) / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB. Scale it down."
        )


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_base64(image: np.ndarray) -> str:
    return base64.b64encode(png_bytes(image)).decode("ascii")


def image_from_base64(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text)), formats=["PNG"]).convert("RGB"))


def photo_verdict_of(export: LoadedExport, body: bytes, name: str | None = None, variant: str = "fp32") -> PhotoVerdict:
    """The serving layer's verdict for an uploaded file's bytes, opened exactly as the demo opens an upload."""
    check_size(body)
    with tempfile.TemporaryDirectory(prefix="convlens-photo-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(body)
        return judge_photo(export, path, variant, name=name or "upload")


def verdict_json(judged: PhotoVerdict, with_images: bool = False) -> dict:
    """A verdict as JSON: what the demo shows (verdict, probabilities, top 5, summary, the transfer model's say),
    and with `with_images` the map and the image the transfer model saw, as base64 PNG."""
    transfer = judged.transfer
    answer = {
        "verdict": judged.verdict.label,
        "probabilities": judged.verdict.probabilities,
        "looks_like": judged.verdict.looks_like,
        "summary": judged.summary,
        "top5": [[label, probability] for label, probability in judged.top5],
        "transfer": {
            "label": transfer.label,
            "probability": transfer.probability,
            "probabilities": transfer.probabilities,
        },
        "details": dataclasses.asdict(judged.verdict),
        "occlusion": np.asarray(judged.occlusion).tolist(),
        "notes": list(judged.notes),
    }
    if with_images:
        answer["map_png"] = png_base64(judged.map_image)
        answer["transfer_input_png"] = png_base64(transfer.model_input)
    return answer


def photo_answer(
    export: LoadedExport, body: bytes, name: str | None = None, variant: str = "fp32", with_map: bool = False
) -> tuple[int, dict]:
    """(HTTP status, JSON) for POST /photo: the verdict, or the demo's refusal of the file."""
    try:
        return 200, verdict_json(photo_verdict_of(export, body, name, variant), with_map)
    except ConvlensError as error:
        return refusal(error)


def array_from_npy(body: bytes, limit: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """A numeric array from .npy bytes (never pickles), or BadInput."""
    check_size(body, limit)
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise BadInput(f"The body is not a .npy array ({error}): send np.save output.") from None
    if array.dtype.kind not in "uif":
        raise BadInput(f"The array holds {array.dtype}, not numbers: send pixel values 0..255.")
    return array


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def digit_answer(export: LoadedExport, body: bytes, variant: str = "fp32") -> tuple[int, dict]:
    """(HTTP status, JSON) for POST /digit: a 28 x 28 MNIST-like image (white ink on black) as PNG or .npy."""
    try:
        if body[:6] == b"\x93NUMPY":
            digit = array_from_npy(body)
        else:
            check_size(body)
            picture, _ = open_photo(Image.open(io.BytesIO(body), formats=["PNG"]) if body else np.zeros(0))
            digit = np.asarray(picture.convert("L"))
        read = read_digit(export, digit, variant)
    except ConvlensError as error:
        return refusal(error)
    except (OSError, ValueError) as error:
        return refusal(BadInput(f"The digit is not a PNG or .npy image ({error}): send a 28 x 28 PNG."))
    return 200, {"label": read.label, "probability": read.probability, "probabilities": read.probabilities}


def model_batch(shape: tuple[int, ...], array: np.ndarray, name: str) -> np.ndarray:
    """A float32 batch (N, *shape) from one image or a batch of them, or BadInput saying what the model takes."""
    batch = array[None] if array.shape == tuple(shape) else array
    if batch.shape[1:] != tuple(shape) or not 0 < len(batch) <= MAX_BATCH:
        raise BadInput(f"The {name} model takes up to {MAX_BATCH} images of {tuple(shape)}; got {array.shape}.")
    return batch.astype(np.float32)


def model_info(model: ExportedModel) -> dict:
    """What a client checks before it trusts a remote model: the files' sha256 and the input shape."""
    return {
        "name": model.name,
        "input_shape": list(model.input_shape),
        "sha256": {variant: ref.sha256 for variant, ref in model.entry.variant_files().items()},
    }
