"""What the exported networks say about a list of photos, computed once in onnxruntime, for every option.

For each photo: the ImageNet network's 1000 probabilities on each of its views (the photo and its
mirror image), and the transfer model's p(dog) with the photo reaching it as training made its images
(the manifest's preprocessing) or straight at full resolution, on each view. Every decision rule
`convlens eval photos` compares reads these arrays through the serving layer's own steps
(`photo_views`, `transfer_steps`, `verdict_from_outputs`), so the options are compared on the same
numbers the demo computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.core.names import CATSDOGS, IMAGENET
from toolkit.core.preprocessing import decode_photo, photo_model_input
from toolkit.serving.export_loader import ExportedModel, LoadedExport, load_export
from toolkit.serving.onnx_sessions import onnx_outputs
from toolkit.serving.photo_pipeline import closer_crops, photo_views, transfer_steps, verdict_from_outputs
from toolkit.serving.verdict import (
    DecisionRule,
    ImagenetEvidence,
    Verdict,
    animal_evidence,
    closer_looks,
    imagenet_evidence,
    vetoed,
)

TRANSFER_INPUTS = ("as_trained", "full_resolution")
CHUNK = 128  # photos preprocessed at a time
ALL_VIEWS = DecisionRule(flip_average=True, closer_look=True)  # every view; a rule without them reads fewer


@dataclass
class ExportedPhotoModels:
    """The ImageNet network of an export and a cats-vs-dogs transfer model (its own, or another export's)."""

    imagenet: ExportedModel
    transfer: ExportedModel
    export: LoadedExport


def load_photo_models(export: Path, transfer_export: Path | None = None) -> ExportedPhotoModels:
    """The verified models of `export` (its transfer model, or the one of `transfer_export`)."""
    loaded = load_export(export, (IMAGENET, CATSDOGS) if transfer_export is None else (IMAGENET,))
    transfer = loaded.catsdogs if transfer_export is None else load_export(transfer_export, (CATSDOGS,)).catsdogs
    imagenet = loaded.imagenet
    assert imagenet is not None  # load_export required it
    return ExportedPhotoModels(imagenet, transfer, loaded)


@dataclass(frozen=True)
class PhotoFeatures:
    """Per photo (N of them): the networks' outputs on every view and under every option, and its shorter side."""

    imagenet: np.ndarray  # (N, views, 1000)
    transfer: dict[str, np.ndarray]  # transfer input -> (N, views) p(dog)
    closer: list[np.ndarray]  # per photo, the ImageNet network's outputs on its closer crops: (crops, 1000), or none
    shorter_side: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.shorter_side)

    def _views(self, flip_average: bool) -> slice:
        return slice(None) if flip_average else slice(0, 1)

    def strongest(self, index: int, rule: DecisionRule) -> float:
        """The strongest domestic cat + dog mass over the views `rule` looks at; 0 where the rule's other-animal
        veto already says neither, so that photo does not weigh on the threshold."""
        evidence = self.evidence(index, rule.flip_average)
        side = int(self.shorter_side[index])
        if vetoed(evidence, side, rule):
            return 0.0
        looks = closer_looks(self.closer[index]) if len(self.closer[index]) else []
        return animal_evidence(evidence, looks, side, rule)[0]

    def evidence(self, index: int, flip_average: bool) -> ImagenetEvidence:
        return imagenet_evidence(self.imagenet[index, self._views(flip_average)].mean(axis=0), self.labels)

    def transfer_p_dog(self, index: int, rule: DecisionRule) -> float:
        return float(self.transfer[rule.transfer_input][index, self._views(rule.flip_average)].mean())

    def verdict(self, index: int, rule: DecisionRule) -> Verdict:
        """The serving layer's verdict for photo `index` under `rule`."""
        views = self._views(rule.flip_average)
        return verdict_from_outputs(
            self.imagenet[index, views],
            self.transfer[rule.transfer_input][index, views],
            int(self.shorter_side[index]),
            rule,
            self.labels,
            self.closer[index],
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
    """Both networks' outputs for every photo, on every view, under both transfer inputs."""
    pictures = [as_picture(image) for image in images]
    views = [photo_views(p, ALL_VIEWS) for p in pictures]
    count = len(views[0]) if views else 2

    def run(model: ExportedModel, steps: dict) -> np.ndarray:
        outputs = []
        for start in range(0, len(views), CHUNK):  # bounded memory: a chunk of photos at a time
            chunk = [
                photo_model_input(v, steps) for picture_views in views[start : start + CHUNK] for v in picture_views
            ]
            outputs.append(onnx_outputs(model.session("fp32"), np.stack(chunk)))
        return np.concatenate(outputs).reshape(len(pictures), count, -1)

    imagenet = run(models.imagenet, models.imagenet.preprocessing)
    transfer = {
        name: run(models.transfer, transfer_steps(models.transfer, DecisionRule(transfer_input=name)))[..., 0]
        for name in TRANSFER_INPUTS
    }
    if log:
        log(f"  {len(pictures)} photos through both networks, {count} views each")
    closer = []
    for picture in pictures:
        crops = closer_crops(picture, ALL_VIEWS)
        inputs = [photo_model_input(c, models.imagenet.preprocessing) for c in crops]
        closer.append(
            onnx_outputs(models.imagenet.session("fp32"), np.stack(inputs)) if inputs else np.zeros((0, 1000))
        )
    sides = np.array([min(p.size) for p in pictures])
    return PhotoFeatures(imagenet, transfer, closer, sides, models.imagenet.labels)
