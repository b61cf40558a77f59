"""Cat, dog or neither: the photo verdict from what the exported models say (numpy only).

Two networks see every photo. The ImageNet MobileNet (1000 classes, 224 px) knows what a photo
shows, cats and dogs among a thousand things; the cats-vs-dogs transfer model was trained on
32 x 32 CIFAR-10 cats and dogs and knows only those two answers. The verdict:

- "neither" when the ImageNet network puts little mass on domestic cats and dogs together. Below
  `thumbnail_side` pixels (a CIFAR-sized thumbnail) that evidence is weak, so a lower threshold
  applies; both thresholds are chosen on dev data (`convlens eval photos`).
- otherwise cat or dog by the sum of two log-odds: the ImageNet network's dog mass against its
  domestic-cat mass, plus a weight times the transfer model's logit. The weight, too, has one value
  for photos and one for thumbnails: on a real photo the ImageNet network is sure and should lead; on
  a blurry thumbnail it is unsure and the transfer model, which learned from such images, leads.
The three probabilities shown are built so that the verdict is always the largest of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from toolkit.core.imagenet_groups import cat_and_dog_mass
from toolkit.core.names import IMAGENET_DOMESTIC_CAT_CLASSES, PHOTO_VERDICTS

EPSILON = 1e-6  # keeps log-odds finite when a network is certain


@dataclass(frozen=True)
class DecisionRule:
    """The parameters of the verdict; the manifest records the ones chosen on dev data.

    The defaults, used by an export that `convlens eval photos` has not measured yet, are what it chose
    on dev data for the quick-profile models (README, "Photos people upload").
    """

    animal_threshold: float = 0.3633  # domestic cat + dog mass below this: "neither" (full-size photos)
    thumbnail_threshold: float = 0.01035  # the same below `thumbnail_side` pixels
    thumbnail_side: int = 64  # the shorter side, in the uploaded photo's pixels
    transfer_weight: float = 4.0  # weight of the transfer model's logit against the ImageNet log-odds (photos)
    thumbnail_transfer_weight: float = 4.0  # the same below `thumbnail_side` pixels
    flip_average: bool = True  # average both networks over the photo and its mirror image
    transfer_input: str = "as_trained"  # or "full_resolution": the photo resized straight to the model's input

    @classmethod
    def from_record(cls, record: dict | None) -> DecisionRule:
        """The rule a manifest records (unknown keys ignored), or the defaults."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (record or {}).items() if k in fields})

    def as_record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ImagenetEvidence:
    """What the ImageNet network's 1000 probabilities say about cats, dogs and everything else."""

    cat: float  # mass on domestic cats
    dog: float  # mass on dog breeds
    top5: list[tuple[str, float]]

    @property
    def animal(self) -> float:
        return self.cat + self.dog

    @property
    def log_odds_dog(self) -> float:
        return float(np.log((self.dog + EPSILON) / (self.cat + EPSILON)))


def imagenet_evidence(probabilities: np.ndarray, labels: list[str]) -> ImagenetEvidence:
    """Cat and dog mass and the top 5 of one 1000-class probability vector."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    cat, dog = cat_and_dog_mass(p[None], IMAGENET_DOMESTIC_CAT_CLASSES)
    top = np.argsort(p)[::-1][:5]
    return ImagenetEvidence(float(cat[0]), float(dog[0]), [(labels[i], float(p[i])) for i in top])


def transfer_preprocessing(rule: DecisionRule, trained: dict, side: int) -> dict:
    """How a photo reaches the transfer model under `rule`: as the manifest records it, or at full resolution."""
    if rule.transfer_input == "full_resolution":
        return {"kind": "photo", "crop": "center_square", "resize_steps": [[side, side, "bilinear"]]}
    return trained


def logit(p: float) -> float:
    p = float(np.clip(p, EPSILON, 1 - EPSILON))
    return float(np.log(p / (1 - p)))


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


@dataclass(frozen=True)
class Verdict:
    label: str  # one of PHOTO_VERDICTS
    probabilities: dict[str, float]  # cat, dog, neither; the label has the largest
    looks_like: str  # the ImageNet network's top class, for "neither"
    p_dog: float  # the combined cat-or-dog probability, before "neither" is considered


def decide(evidence: ImagenetEvidence, transfer_p_dog: float, shorter_side: int, rule: DecisionRule) -> Verdict:
    """The verdict for one photo from the ImageNet evidence and the transfer model's p(dog)."""
    cat, dog, neither = PHOTO_VERDICTS
    thumbnail = shorter_side < rule.thumbnail_side
    weight = rule.thumbnail_transfer_weight if thumbnail else rule.transfer_weight
    p_dog = sigmoid(evidence.log_odds_dog + weight * logit(transfer_p_dog))
    threshold = rule.thumbnail_threshold if thumbnail else rule.animal_threshold
    # p(animal) is 1/2 exactly at the threshold, so "neither" wins exactly below it
    p_animal = sigmoid(logit(evidence.animal) - logit(threshold))
    scores = {cat: p_animal * (1 - p_dog), dog: p_animal * p_dog, neither: 1 - p_animal}
    if p_animal >= 0.5:  # an animal: the larger of cat and dog must beat "neither" in the display too
        winner = dog if p_dog >= 0.5 else cat
        scores[winner] = max(scores[winner], scores[neither] + EPSILON)
    total = sum(scores.values())
    probabilities = {key: value / total for key, value in scores.items()}
    label = max(probabilities, key=probabilities.__getitem__)
    looks_like = evidence.top5[0][0] if evidence.top5 else ""
    return Verdict(label, probabilities, looks_like, p_dog)
