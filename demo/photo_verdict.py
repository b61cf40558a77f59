"""A photo's verdict (cat, dog or neither), what the ImageNet network sees, and why: plain functions.

Both networks run in onnxruntime: the ImageNet MobileNet once at 224 px; the cats-vs-dogs transfer
model once on the photo and on 9 copies with one region greyed out, in one batch, which gives
the occlusion map. The rule that turns their outputs into the verdict lives in
`toolkit.core.verdict`, shared with `convlens eval photos`, and its thresholds are the ones the
manifest records (chosen on dev data), so the demo and the evaluation cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import ImageOps

from demo.classify import Models, PhotoResult, open_photo
from toolkit.core.names import PHOTO_DECISION
from toolkit.core.occlusion import map_from_scores, occlusion_batch, overlay
from toolkit.core.preprocessing import photo_model_input
from toolkit.core.verdict import (
    DecisionRule,
    Verdict,
    decide,
    imagenet_evidence,
    logit,
    sigmoid,
    transfer_preprocessing,
)

MAP_SIDE = 224  # pixels of the map shown (and returned by the API)
MAP_PREPROCESSING = {"kind": "photo", "crop": "center_square", "resize_steps": [[MAP_SIDE, MAP_SIDE, "bilinear"]]}


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
        """One Markdown line saying what the verdict means."""
        label, p = self.verdict.label, self.verdict.probabilities[self.verdict.label]
        if label == "neither":
            return f"**Neither a cat nor a dog** ({p:.0%}): it looks like **{self.verdict.looks_like}**."
        return f"**{label.capitalize()}** ({p:.0%})."


def decision_rule(models: Models) -> DecisionRule:
    """The rule the manifest records (chosen on dev data by `convlens eval photos`), else the defaults."""
    return DecisionRule.from_record((models.manifest.get(PHOTO_DECISION) or {}).get("rule"))


def _transfer_log_odds(models: Models, images: np.ndarray, variant: str) -> np.ndarray:
    p_dog = models.catsdogs.predict(images, variant).reshape(-1)
    return np.array([logit(float(p)) for p in p_dog])


def judge_photo(models: Models, source, variant: str = "fp32", name: str | None = None) -> PhotoVerdict:
    """The verdict for one photo (a path, PIL image or array), with the ImageNet top 5 and the occlusion map."""
    if models.imagenet is None:
        raise ValueError("this export has no ImageNet model: judge_photo needs one")
    picture, notes = open_photo(source, name)
    rule = decision_rule(models)
    pictures = [picture, ImageOps.mirror(picture)] if rule.flip_average else [picture]
    seen_imagenet = np.stack([photo_model_input(p, models.imagenet.spec["preprocessing"]) for p in pictures])
    evidence = imagenet_evidence(models.imagenet.predict(seen_imagenet, "fp32").mean(axis=0), models.imagenet.labels)
    transfer_steps = transfer_preprocessing(rule, models.catsdogs.spec["preprocessing"], models.catsdogs.input_shape[0])
    seen = photo_model_input(picture, transfer_steps)
    occluded = occlusion_batch(seen)
    mirrored = [photo_model_input(pictures[1], transfer_steps)] if rule.flip_average else []
    # one onnxruntime call for the map and the mirror image
    scores = _transfer_log_odds(models, np.concatenate([occluded, *(m[None] for m in mirrored)]), variant)
    sensitivity, log_odds = map_from_scores(scores[: len(occluded)])
    p_dog = sigmoid(log_odds)
    if mirrored:
        p_dog = (p_dog + sigmoid(scores[-1])) / 2
    cat_label, dog_label = models.catsdogs.labels
    transfer_probabilities = {cat_label: 1 - p_dog, dog_label: p_dog}
    transfer_label = max(transfer_probabilities, key=transfer_probabilities.__getitem__)
    transfer = PhotoResult(transfer_label, transfer_probabilities[transfer_label], transfer_probabilities, seen, notes)
    verdict = decide(evidence, p_dog, min(picture.size), rule)
    photo = photo_model_input(picture, MAP_PREPROCESSING)  # the same centre square the models saw, in full colour
    return PhotoVerdict(verdict, evidence.top5, transfer, sensitivity, overlay(photo, sensitivity), notes)
