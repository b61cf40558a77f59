"""A photo's verdict (cat, dog or neither), what the ImageNet network sees, and why: one pipeline.

Both networks run in onnxruntime, one batch each: the ImageNet MobileNet on the photo, its mirror image
and four closer crops (the corners of the whole photo, each 60% of its shorter side, overlapping in the
middle: a pet that fills a fifth of the frame fills much of one of them); the cats-vs-dogs transfer model
on the photo, its mirror image and copies with one region greyed out, which gives the occlusion map. The
map also frames the crop where the ImageNet network found the pet, when it found it only closer.
`photo_views`, `closer_crops` and `verdict_from_outputs` are the steps the evaluation
(`convlens eval photos`) runs too, so the demo and the evaluation cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from toolkit.core.errors import ConvlensError
from toolkit.core.occlusion import map_from_scores, occlusion_batch, outline, overlay
from toolkit.core.preprocessing import photo_model_input
from toolkit.serving.export_loader import ExportedModel, LoadedExport
from toolkit.serving.photo_input import open_photo
from toolkit.serving.verdict import (
    DecisionRule,
    Verdict,
    closer_looks,
    decide,
    imagenet_evidence,
    logit,
    sigmoid,
    transfer_preprocessing,
    verdict_summary,
)

MAP_SIDE = 224  # pixels of the map shown (and returned by the API)
MAP_PREPROCESSING = {"kind": "photo", "crop": "center_square", "resize_steps": [[MAP_SIDE, MAP_SIDE, "bilinear"]]}
WIDE_ASPECT = 3.0  # beyond this, the centre square leaves most of the photo out: say so
CLOSER_FRACTION = 0.6  # a closer crop's side, as a share of the photo's shorter side


@dataclass(frozen=True)
class PhotoResult:
    """One model's own answer for a photo."""

    label: str
    probability: float  # of `label`
    probabilities: dict[str, float]
    model_input: np.ndarray  # what the model saw, uint8 H x W x 3
    notes: list[str]


def decision_rule(export: LoadedExport) -> DecisionRule:
    """The rule the manifest records for these very models (chosen on dev data by `convlens eval photos`), else
    the defaults."""
    return DecisionRule.from_record(export.manifest.photo_rule_record())


def photo_views(picture: Image.Image, rule: DecisionRule) -> list[Image.Image]:
    """The photo as the networks see it under `rule`: itself, and its mirror image when the rule averages both."""
    return [picture, ImageOps.mirror(picture)] if rule.flip_average else [picture]


def closer_boxes(size: tuple[int, int], rule: DecisionRule) -> list[tuple[int, int, int, int]]:
    """Where the ImageNet network looks more closely (left, top, right, bottom): the four corners of the whole
    photo, each a square of CLOSER_FRACTION of its shorter side; none for a thumbnail or a rule without them."""
    width, height = size
    if not rule.closer_look or min(width, height) < rule.thumbnail_side:
        return []
    side = max(1, round(CLOSER_FRACTION * min(width, height)))
    corners = [(0, 0), (width - side, 0), (0, height - side), (width - side, height - side)]
    return [(left, top, left + side, top + side) for left, top in corners]


def closer_crops(picture: Image.Image, rule: DecisionRule) -> list[Image.Image]:
    """The closer crops of the photo (`closer_boxes`)."""
    return [picture.crop(box) for box in closer_boxes(picture.size, rule)]


def box_on_map(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box of the photo in the map's coordinates: the photo's centre square, resized to MAP_SIDE."""
    width, height = size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    scale = MAP_SIDE / side
    return (
        round((box[0] - left) * scale),
        round((box[1] - top) * scale),
        round((box[2] - left) * scale),
        round((box[3] - top) * scale),
    )


def transfer_steps(transfer: ExportedModel, rule: DecisionRule) -> dict:
    """How a photo reaches the transfer model under `rule`."""
    return transfer_preprocessing(rule, transfer.preprocessing, transfer.input_shape[0])


def verdict_from_outputs(
    imagenet_probabilities: np.ndarray,
    transfer_p_dog: np.ndarray,
    shorter_side: int,
    rule: DecisionRule,
    labels: list[str],
    closer_probabilities: np.ndarray | None = None,
) -> Verdict:
    """The verdict from both networks' outputs: over the photo's views ((views, 1000) and (views,)), averaged,
    and the ImageNet network's on the closer crops ((crops, 1000))."""
    evidence = imagenet_evidence(np.asarray(imagenet_probabilities).mean(axis=0), labels)
    closer = (
        [] if closer_probabilities is None or len(closer_probabilities) == 0 else closer_looks(closer_probabilities)
    )
    return decide(evidence, float(np.mean(transfer_p_dog)), shorter_side, rule, closer)


def _log_odds(model: ExportedModel, images: np.ndarray, variant: str) -> np.ndarray:
    return np.array([logit(float(p)) for p in model.predict(images, variant).reshape(-1)])


@dataclass(frozen=True)
class PhotoVerdict:
    verdict: Verdict
    top5: list[tuple[str, float]]  # what the ImageNet network sees
    transfer: PhotoResult  # the cats-vs-dogs model's own answer, and the image it saw
    occlusion: np.ndarray  # grid x grid: + pushed toward dog, - toward cat (transfer model's log-odds)
    map_image: np.ndarray  # the photo with the occlusion map laid over it, MAP_SIDE square
    notes: list[str]

    @property
    def summary(self) -> str:
        """One or two Markdown sentences saying what the verdict means."""
        return verdict_summary(self.verdict)


def judge_photo(
    export: LoadedExport,
    source,
    variant: str = "fp32",
    name: str | None = None,
    rule: DecisionRule | None = None,
) -> PhotoVerdict:
    """The verdict for one photo (a path, PIL image or array), with the ImageNet top 5 and the occlusion map.

    `rule` defaults to the export's own (`decision_rule`).
    """
    imagenet, transfer_model = export.imagenet, export.catsdogs
    if imagenet is None:
        raise ConvlensError('this export has no ImageNet model, which the photo verdict needs: run "make export".')
    picture, notes = open_photo(source, name)
    rule = rule or decision_rule(export)
    views, boxes = photo_views(picture, rule), closer_boxes(picture.size, rule)
    crops = [picture.crop(box) for box in boxes]
    # one onnxruntime call for the whole photo, its mirror image and the closer crops
    outputs = imagenet.predict(np.stack([photo_model_input(v, imagenet.preprocessing) for v in [*views, *crops]]))
    imagenet_probabilities, closer_probabilities = outputs[: len(views)], outputs[len(views) :]
    steps = transfer_steps(transfer_model, rule)
    seen = [photo_model_input(v, steps) for v in views]
    occluded = occlusion_batch(seen[0])
    # one onnxruntime call for the map (whose first image is the photo itself) and the other views
    scores = _log_odds(transfer_model, np.concatenate([occluded, *(s[None] for s in seen[1:])]), variant)
    sensitivity, log_odds = map_from_scores(scores[: len(occluded)])
    p_dog_views = np.array([sigmoid(log_odds), *(sigmoid(s) for s in scores[len(occluded) :])])
    verdict = verdict_from_outputs(
        imagenet_probabilities, p_dog_views, min(picture.size), rule, imagenet.labels, closer_probabilities
    )
    p_dog = float(p_dog_views.mean())
    cat_label, dog_label = transfer_model.labels
    transfer_probabilities = {cat_label: 1 - p_dog, dog_label: p_dog}
    transfer_label = max(transfer_probabilities, key=transfer_probabilities.__getitem__)
    transfer = PhotoResult(
        transfer_label, transfer_probabilities[transfer_label], transfer_probabilities, seen[0], notes
    )
    top5 = imagenet_evidence(imagenet_probabilities.mean(axis=0), imagenet.labels).top5
    photo = photo_model_input(picture, MAP_PREPROCESSING)  # the same centre square the models saw, in full colour
    shown = overlay(photo, sensitivity)
    if verdict.found_closer:  # frame the crop where the pet was found
        found = int(np.argmax([look.animal for look in closer_looks(closer_probabilities)]))
        shown = outline(shown, box_on_map(boxes[found], picture.size))
    return PhotoVerdict(verdict, top5, transfer, sensitivity, shown, notes)


def classify_photo(export: LoadedExport, source, variant: str = "fp32", name: str | None = None) -> PhotoResult:
    """Cat or dog, by the exported transfer model alone: label, probabilities and the image the model saw."""
    model = export.catsdogs
    picture, notes = open_photo(source, name)
    preprocessing = model.preprocessing
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
    if model.entry.task == "binary":
        positive = float(np.clip(output.reshape(-1)[0], 0.0, 1.0))
        probabilities = {labels[0]: 1.0 - positive, labels[1]: positive}
    else:
        probabilities = {label: float(p) for label, p in zip(labels, output.reshape(-1))}
    label = max(probabilities, key=probabilities.__getitem__)
    return PhotoResult(label, probabilities[label], probabilities, seen, notes)
