"""What the exported networks say about a list of photos, computed once in onnxruntime, for every option.

For each photo: the ImageNet network's 1000 probabilities (the photo and its mirror image), and the
transfer model's p(dog) with the photo reaching it as training made its images (the manifest's
preprocessing: centre square, 32 x 32 box, blown up) or straight at full resolution, each also
mirrored. Every decision rule `convlens eval photos` compares reads these arrays, so the options
are compared on the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from toolkit.core.errors import ConvlensError
from toolkit.core.names import CATSDOGS, IMAGENET, MANIFEST_NAME
from toolkit.core.preprocessing import decode_photo, photo_model_input
from toolkit.core.verdict import DecisionRule, ImagenetEvidence, imagenet_evidence, transfer_preprocessing
from toolkit.export.manifest import load_verified_manifest
from toolkit.export.onnx_runtime import onnx_session

BATCH = 32
TRANSFER_INPUTS = ("as_trained", "full_resolution")


@dataclass
class ExportedPhotoModels:
    """The ImageNet network and a cats-vs-dogs transfer model of an export, as onnxruntime sessions."""

    imagenet: object
    imagenet_labels: list[str]
    imagenet_preprocessing: dict
    transfer: object
    transfer_preprocessing: dict
    transfer_side: int
    manifest: dict = field(repr=False)


def load_photo_models(export: Path, transfer_export: Path | None = None) -> ExportedPhotoModels:
    """The verified models of `export` (its transfer model, or the one of `transfer_export`)."""
    manifest = load_verified_manifest(export, [IMAGENET, CATSDOGS])
    transfer_manifest = manifest if transfer_export is None else load_verified_manifest(transfer_export, [CATSDOGS])
    missing = [name for name, m in ((IMAGENET, manifest), (CATSDOGS, transfer_manifest)) if name not in m["models"]]
    if missing:
        raise ConvlensError(f'{export / MANIFEST_NAME} has no {" or ".join(missing)} model: run "make export".')
    imagenet, transfer = manifest["models"][IMAGENET], transfer_manifest["models"][CATSDOGS]
    transfer_root = export if transfer_export is None else transfer_export
    return ExportedPhotoModels(
        onnx_session(Path(export) / imagenet["files"]["onnx"]["path"]),
        [str(label) for label in imagenet["labels"]],
        imagenet["preprocessing"],
        onnx_session(Path(transfer_root) / transfer["files"]["onnx"]["path"]),
        transfer["preprocessing"],
        int(transfer["input"]["shape"][1]),
        manifest,
    )


@dataclass(frozen=True)
class PhotoFeatures:
    """Per photo (N of them): the networks' outputs under every option, and the photo's shorter side."""

    imagenet: dict[bool, np.ndarray]  # mirrored? -> (N, 1000)
    transfer: dict[tuple[str, bool], np.ndarray]  # (transfer input, mirrored?) -> (N,) p(dog)
    shorter_side: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.shorter_side)

    def evidence(self, index: int, flip_average: bool) -> ImagenetEvidence:
        p = self.imagenet[False][index]
        if flip_average:
            p = (p + self.imagenet[True][index]) / 2
        return imagenet_evidence(p, self.labels)

    def transfer_p_dog(self, index: int, rule: DecisionRule) -> float:
        p = self.transfer[(rule.transfer_input, False)][index]
        if rule.flip_average:
            p = (p + self.transfer[(rule.transfer_input, True)][index]) / 2
        return float(p)


def _run(session, images: np.ndarray) -> np.ndarray:
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: images[i : i + BATCH].astype(np.float32)})[0] for i in range(0, len(images), BATCH)]
    )


def as_picture(image: Image.Image | np.ndarray | Path) -> Image.Image:
    """A photo decoded as the demo decodes it (`decode_photo`), from a path, a PIL image or an H x W x 3 array."""
    if isinstance(image, np.ndarray):
        return Image.fromarray(np.asarray(image, np.uint8))
    if isinstance(image, Path):
        with Image.open(image) as opened:
            return decode_photo(opened)
    return decode_photo(image)


def photo_features(models: ExportedPhotoModels, images: list, log=None) -> PhotoFeatures:
    """Both networks' outputs for every photo, under every option (plain and mirrored, both transfer inputs)."""
    pictures = [as_picture(image) for image in images]
    imagenet, transfer = {}, {}
    for mirrored in (False, True):
        shown = [ImageOps.mirror(p) for p in pictures] if mirrored else pictures
        imagenet[mirrored] = _run(
            models.imagenet, np.stack([photo_model_input(p, models.imagenet_preprocessing) for p in shown])
        )
        for transfer_input in TRANSFER_INPUTS:
            steps = transfer_preprocessing(
                DecisionRule(transfer_input=transfer_input), models.transfer_preprocessing, models.transfer_side
            )
            seen = np.stack([photo_model_input(p, steps) for p in shown])
            transfer[(transfer_input, mirrored)] = _run(models.transfer, seen).reshape(-1)
        if log:
            log(f"  {len(pictures)} photos through both networks ({'mirrored' if mirrored else 'as they are'})")
    sides = np.array([min(p.size) for p in pictures])
    return PhotoFeatures(imagenet, transfer, sides, models.imagenet_labels)
