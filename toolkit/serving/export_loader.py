"""An export folder verified once and opened: each model's manifest entry and its onnxruntime sessions.

The bytes whose sha256 was checked are the bytes onnxruntime loads, so a file swapped after the check is
never served. Every host loads an export through `load_export`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime

from toolkit.core.errors import ConvlensError
from toolkit.core.names import CATSDOGS, DIGITS, IMAGENET, MANIFEST_NAME
from toolkit.serving.contract import REEXPORT, FileRef, Manifest, ManifestEntry, ManifestError, read_manifest
from toolkit.serving.onnx_sessions import onnx_session
from toolkit.serving.photo_input import BadInput

MAX_MODEL_BYTES = 256 * 2**20  # an ONNX file; MobileNet is 17 MB
SERVED_MODELS = (CATSDOGS, DIGITS)  # the photo and digit pipelines need these
OPTIONAL_SERVED = (IMAGENET,)  # the photo verdict uses it when the export has it (exports before it had not)


@dataclass
class ExportedModel:
    """One exported model: its manifest entry and an onnxruntime session per variant (fp32, int8)."""

    name: str
    entry: ManifestEntry
    sessions: dict[str, onnxruntime.InferenceSession] = field(default_factory=dict, repr=False)

    @property
    def labels(self) -> list[str]:
        return list(self.entry.labels)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, without the batch dimension (H, W, C)."""
        return self.entry.input.image_shape

    @property
    def preprocessing(self) -> dict:
        return self.entry.preprocessing

    def variants(self) -> list[str]:
        """The variants a user may pick: fp32, and int8 where the export recommends it."""
        return [v for v in self.sessions if v == "fp32" or self.entry.int8_recommended]

    def session(self, variant: str) -> onnxruntime.InferenceSession:
        if variant not in self.sessions:
            raise BadInput(f"the {self.name} model has no {variant!r} variant; choose one of {sorted(self.sessions)}.")
        return self.sessions[variant]

    def predict(self, images: np.ndarray, variant: str = "fp32") -> np.ndarray:
        """The model's output for a batch of images (N, H, W, C), pixels 0..255."""
        session = self.session(variant)
        batch = np.asarray(images, dtype=np.float32).reshape((-1, *self.input_shape))
        output = session.get_outputs()[0].name  # names differ by export path: read, never assume
        return session.run([output], {session.get_inputs()[0].name: batch})[0]


@dataclass
class LoadedExport:
    """A verified export: its folder, manifest and the models opened from it."""

    root: Path
    manifest: Manifest
    models: dict[str, ExportedModel]

    def model(self, name: str) -> ExportedModel:
        if name not in self.models:
            raise ManifestError(f"{self.root / MANIFEST_NAME} has no {name!r} model: {REEXPORT}.")
        return self.models[name]

    @property
    def catsdogs(self) -> ExportedModel:
        return self.model(CATSDOGS)

    @property
    def digits(self) -> ExportedModel:
        return self.model(DIGITS)

    @property
    def imagenet(self) -> ExportedModel | None:
        """The 1000-class network the transfer model was built on, when the export has it."""
        return self.models.get(IMAGENET)


def load_export(root: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> LoadedExport:
    """The export in `root` with the `required` models (and the `optional` ones it has) verified and opened.

    Only those models are checked, so a bring-your-own model beside them does not block serving.
    """
    root = Path(root)
    manifest = read_manifest(root)
    missing = [name for name in required if name not in manifest.models]
    if missing:
        raise ManifestError(
            f'{root / MANIFEST_NAME} has no {" or ".join(missing)} model: run "make export" to export '
            f"{'it' if len(missing) == 1 else 'them'}."
        )
    wanted = [*required, *(name for name in optional if name in manifest.models)]
    problems = manifest.problems(root, wanted)
    if problems:
        raise ManifestError(
            "the export is incomplete or was changed:\n  - " + "\n  - ".join(problems) + f"\nThen {REEXPORT}."
        )
    models = {name: _open_model(root, name, manifest.models[name]) for name in wanted}
    return LoadedExport(root, manifest, models)


def load_served_export(root: Path) -> LoadedExport:
    """The export with what the photo and digit pipelines serve, verified and opened."""
    return load_export(root, SERVED_MODELS, OPTIONAL_SERVED)


def _open_model(root: Path, name: str, entry: ManifestEntry) -> ExportedModel:
    files = entry.variant_files()
    if "fp32" not in files:
        raise ManifestError(f"{root / MANIFEST_NAME}: model {name!r} has no ONNX file: {REEXPORT}.")
    model = ExportedModel(name, entry)
    for variant, ref in files.items():
        content = verified_bytes(root, ref)
        try:
            model.sessions[variant] = onnx_session(content)
        except Exception as error:  # onnxruntime's own exceptions do not share a base class
            raise ConvlensError(f"onnxruntime cannot load {root / ref.path} ({error}): {REEXPORT}.") from None
    return model


def verified_bytes(root: Path, ref: FileRef) -> bytes:
    """The file's bytes, read once, when it lies inside the export, is not too large and matches its hash."""
    path = root / ref.path
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
        raise ConvlensError(f"{path} is not a file inside the export {root}: {REEXPORT}.")
    if resolved.stat().st_size > MAX_MODEL_BYTES:
        raise ConvlensError(
            f"{path} is over {MAX_MODEL_BYTES // 2**20} MB, more than any model convlens serves: {REEXPORT}."
        )
    content = resolved.read_bytes()
    if hashlib.sha256(content).hexdigest() != ref.sha256:
        raise ConvlensError(f"{path} changed after the export was verified: {REEXPORT}.")
    return content
