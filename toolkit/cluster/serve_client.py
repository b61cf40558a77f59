"""A client of `convlens serve` with the standard library only (no Ray): the Gradio demo uses it with --serve-url.

`remote_export` is the export the demo serves with every model run by the Serve deployment of that model:
the demo's tabs call the serving layer's pipelines as always, and each onnxruntime call becomes a POST to
/models/<name>. `ServeClient.photo_verdict` asks the photo deployment for a whole verdict and rebuilds the
same `PhotoVerdict` the photo tab renders (the bench and the tests compare it with the in-process one).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from toolkit.cluster.photo_api import (
    MODELS_ROUTE,
    NPY_TYPE,
    PHOTO_ROUTE,
    array_from_npy,
    image_from_base64,
    npy_bytes,
)
from toolkit.core.errors import ConvlensError
from toolkit.serving.contract import read_manifest
from toolkit.serving.export_loader import ExportedModel, LoadedExport
from toolkit.serving.photo_input import BadInput
from toolkit.serving.photo_pipeline import PhotoResult, PhotoVerdict
from toolkit.serving.verdict import Verdict

SERVE_URL_VARIABLE = "CONVLENS_SERVE_URL"
TIMEOUT_S = 60.0


def serve_url(given: str | None = None) -> str | None:
    """The Serve deployment to answer through: `given`, else $CONVLENS_SERVE_URL, else None (in-process)."""
    url = given or os.environ.get(SERVE_URL_VARIABLE) or None
    return url.rstrip("/") if url else None


class ServeClient:
    """The JSON HTTP API of `convlens serve` at `url` (e.g. http://127.0.0.1:8000)."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def request(self, route: str, body: bytes | None = None, query: dict | None = None, kind: str = "") -> bytes:
        """The answer's bytes; a refusal raises BadInput with the server's message, no answer ConvlensError."""
        address = self.url + route + (f"?{urlencode(query)}" if query else "")
        headers = {"content-type": kind} if kind else {}
        request = urllib.request.Request(address, data=body, headers=headers, method="POST" if body else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                message = f"the Serve deployment answered {error.code} at {address}: {text[:300]}"
            raise (BadInput if 400 <= error.code < 500 else ConvlensError)(message) from None
        except (urllib.error.URLError, OSError) as error:
            raise ConvlensError(
                f"the Serve deployment at {self.url} did not answer ({error}): start it with `convlens serve`, "
                f"or leave out --serve-url to classify in-process."
            ) from None

    def photo(self, photo: bytes, name: str | None = None, variant: str = "fp32", with_map: bool = False) -> dict:
        """POST /photo: the verdict JSON for an image file's bytes."""
        query = {"variant": variant, **({"name": name} if name else {}), **({"map": "1"} if with_map else {})}
        return json.loads(self.request(PHOTO_ROUTE, photo, query, "application/octet-stream"))

    def photo_verdict(self, path: Path | str, name: str | None = None, variant: str = "fp32") -> PhotoVerdict:
        """The photo deployment's verdict for a file, as the same PhotoVerdict the in-process pipeline returns."""
        path = Path(path)
        answer = self.photo(path.read_bytes(), name or path.name, variant, with_map=True)
        return verdict_from_json(answer)

    def model_info(self, name: str) -> dict:
        return json.loads(self.request(f"{MODELS_ROUTE}/{name}"))

    def predict(self, name: str, images: np.ndarray, variant: str = "fp32") -> np.ndarray:
        """A raw model's output, run by its Serve deployment (pixels travel as uint8 when they are whole numbers)."""
        images = np.asarray(images)
        whole = np.issubdtype(images.dtype, np.integer) or bool(np.all(images == np.round(images)))
        if whole and images.size and images.min() >= 0 and images.max() <= 255:
            images = images.astype(np.uint8)
        answer = self.request(f"{MODELS_ROUTE}/{name}", npy_bytes(images), {"variant": variant}, NPY_TYPE)
        return array_from_npy(answer)


def verdict_from_json(answer: dict) -> PhotoVerdict:
    """The PhotoVerdict a /photo answer describes (asked with map=1 for the images)."""
    transfer = answer["transfer"]
    seen = image_from_base64(answer["transfer_input_png"]) if "transfer_input_png" in answer else np.zeros((1, 1, 3))
    shown = image_from_base64(answer["map_png"]) if "map_png" in answer else np.zeros((1, 1, 3))
    notes = list(answer.get("notes", []))
    return PhotoVerdict(
        verdict=Verdict(**answer["details"]),
        top5=[(label, float(probability)) for label, probability in answer["top5"]],
        transfer=PhotoResult(transfer["label"], transfer["probability"], transfer["probabilities"], seen, notes),
        occlusion=np.asarray(answer["occlusion"]),
        map_image=shown.astype(np.uint8),
        notes=notes,
    )


@dataclass
class _Port:
    name: str


class RemoteSession:
    """Stands in for an onnxruntime session: `run` is answered by the model's Serve deployment."""

    def __init__(self, client: ServeClient, model: str, variant: str) -> None:
        self.client, self.model, self.variant = client, model, variant

    def get_inputs(self) -> list[_Port]:
        return [_Port("image")]

    def get_outputs(self) -> list[_Port]:
        return [_Port("output")]

    def run(self, output_names: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        (images,) = feed.values()
        return [self.client.predict(self.model, images, self.variant)]


def remote_export(url: str, exported: Path) -> LoadedExport:
    """The export in `exported` (its manifest: labels, preprocessing, the photo rule) with every model run by
    the Serve deployment at `url`; refused when the deployment serves other files than this manifest names."""
    client = ServeClient(url)
    manifest = read_manifest(Path(exported))
    models = {}
    for name, entry in manifest.models.items():
        files = entry.variant_files()
        try:
            served = client.model_info(name)["sha256"]
        except BadInput:
            continue  # a model the deployment does not serve (a bring-your-own one): the demo goes without it
        expected = {variant: ref.sha256 for variant, ref in files.items()}
        if served != expected:
            raise ConvlensError(
                f"the Serve deployment at {url} serves other {name} model files than {Path(exported)} names: "
                f"deploy this export (convlens serve --exported {exported}) or point --exported at the served one."
            )
        sessions = {variant: RemoteSession(client, name, variant) for variant in files}
        models[name] = ExportedModel(name, entry, sessions)
    return LoadedExport(Path(exported), manifest, models)
