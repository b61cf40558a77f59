"""Cat, dog or neither: the photo verdict from what the exported models say (numpy only).

Two networks see every photo. The ImageNet MobileNet (1000 classes, 224 px) knows what a photo
shows, cats and dogs among a thousand things; the cats-vs-dogs transfer model was trained on
32 x 32 CIFAR-10 cats and dogs and knows only those two answers. People photograph their pets at
home, where the cat may fill a fifth of the frame beside a sink or a bike, so the ImageNet network
looks twice: at the whole photo, and at a few closer crops of it. The verdict:

- "neither" only when no view, whole or closer, puts enough mass on domestic cats and dogs: the
  strongest cat-or-dog evidence at any scale is below a threshold chosen on dev data. Below
  `thumbnail_side` pixels (a CIFAR-sized thumbnail) crops show nothing more and the evidence is weak,
  so the whole photo alone counts, against a lower threshold. "Neither" also when the whole photo is
  more another animal (a lynx, a horse, a rabbit) than a cat or dog: positive evidence of something else.
  A room, a sink or a bike is no such evidence: the pet beside them is still found closer.
- otherwise cat or dog by the sum of two log-odds: the ImageNet network's dog mass against its
  domestic-cat mass, added over every view (a view that sees no animal adds almost nothing), plus a
  weight times the transfer model's logit. The weight has one value for photos and one for thumbnails.
The three probabilities shown are built so that the verdict is always the largest of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from toolkit.core.imagenet_groups import cat_and_dog_mass, other_animal_mass
from toolkit.core.names import IMAGENET_DOMESTIC_CAT_CLASSES, PHOTO_VERDICTS

EPSILON = 1e-6  # keeps log-odds finite when a network is certain
SURE = 0.8  # a cat-or-dog probability at least this (either way) is said plainly; below it, "probably"


@dataclass(frozen=True)
class DecisionRule:
    """The parameters of the verdict; the manifest records the ones chosen on dev data for the served model.

    The defaults serve an export that `convlens eval photos` has not measured yet.
    """

    animal_threshold: float = 0.3  # strongest domestic cat + dog mass at any scale below this: "neither"
    thumbnail_threshold: float = 0.01  # the same below `thumbnail_side` pixels (whole photo only)
    thumbnail_side: int = 64  # the shorter side, in the uploaded photo's pixels
    transfer_weight: float = 1.0  # weight of the transfer model's logit against the ImageNet log-odds (photos)
    thumbnail_transfer_weight: float = 4.0  # the same below `thumbnail_side` pixels
    flip_average: bool = True  # average both networks over the photo and its mirror image
    transfer_input: str = "as_trained"  # or "full_resolution": the photo resized straight to the model's input
    closer_look: bool = True  # the ImageNet network also sees crops of the photo (photos, not thumbnails)
    other_animal_veto: bool = True  # a photo whose whole frame is more another animal than a cat or dog: neither

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
    other_animal: float = 0.0  # mass on every other animal ImageNet knows (a lynx, a fox, a horse, a rabbit)

    @property
    def animal(self) -> float:
        return self.cat + self.dog

    @property
    def log_odds_dog(self) -> float:
        return float(np.log((self.dog + EPSILON) / (self.cat + EPSILON)))


@dataclass(frozen=True)
class CloserLook:
    """Domestic-cat and dog mass the ImageNet network gives one crop of the photo."""

    cat: float
    dog: float

    @property
    def animal(self) -> float:
        return self.cat + self.dog


def imagenet_evidence(probabilities: np.ndarray, labels: list[str]) -> ImagenetEvidence:
    """Cat and dog mass and the top 5 of one 1000-class probability vector."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    cat, dog = cat_and_dog_mass(p[None], IMAGENET_DOMESTIC_CAT_CLASSES)
    top = np.argsort(p)[::-1][:5]
    other = float(other_animal_mass(p[None])[0])
    return ImagenetEvidence(float(cat[0]), float(dog[0]), [(labels[i], float(p[i])) for i in top], other)


def closer_looks(probabilities: np.ndarray) -> list[CloserLook]:
    """Cat and dog mass of each crop's 1000-class probabilities (crops, 1000)."""
    cat, dog = cat_and_dog_mass(np.asarray(probabilities, np.float64), IMAGENET_DOMESTIC_CAT_CLASSES)
    return [CloserLook(float(c), float(d)) for c, d in zip(cat, dog)]


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
    looks_like: str  # the ImageNet network's top class on the whole photo
    p_dog: float  # the combined cat-or-dog probability, before "neither" is considered
    strongest: float = 0.0  # the largest domestic cat + dog mass over the views the rule looks at
    found_closer: bool = False  # the animal was found only in a closer crop: the whole photo shows mostly the scene
    imagenet_log_odds_dog: float = 0.0  # the ImageNet network's own say, over its views
    transfer_p_dog: float = 0.5  # the transfer model's own say

    @property
    def sure(self) -> bool:
        """Whether the cat-or-dog answer is confident (p at least SURE one way)."""
        return max(self.p_dog, 1 - self.p_dog) >= SURE

    @property
    def networks_disagree(self) -> bool:
        return (self.imagenet_log_odds_dog >= 0) != (self.transfer_p_dog >= 0.5)


def animal_evidence(
    evidence: ImagenetEvidence, closer: Sequence[CloserLook], shorter_side: int, rule: DecisionRule
) -> tuple[float, float, float, bool]:
    """(strongest cat+dog mass, dog mass summed, cat mass summed, thumbnail?) over the views the rule looks at."""
    thumbnail = shorter_side < rule.thumbnail_side
    looks = [] if thumbnail or not rule.closer_look else list(closer)
    strongest = max([evidence.animal, *(look.animal for look in looks)])
    return strongest, evidence.dog + sum(c.dog for c in looks), evidence.cat + sum(c.cat for c in looks), thumbnail


def vetoed(evidence: ImagenetEvidence, shorter_side: int, rule: DecisionRule) -> bool:
    """Whether the whole photo is more another animal than a cat or dog, where the rule lets that decide."""
    thumbnail = shorter_side < rule.thumbnail_side
    return rule.other_animal_veto and not thumbnail and evidence.other_animal > evidence.animal


def decide(
    evidence: ImagenetEvidence,
    transfer_p_dog: float,
    shorter_side: int,
    rule: DecisionRule,
    closer: Sequence[CloserLook] = (),
) -> Verdict:
    """The verdict for one photo from the ImageNet evidence (whole photo, and its closer crops) and the
    transfer model's p(dog)."""
    cat, dog, neither = PHOTO_VERDICTS
    strongest, dog_mass, cat_mass, thumbnail = animal_evidence(evidence, closer, shorter_side, rule)
    weight = rule.thumbnail_transfer_weight if thumbnail else rule.transfer_weight
    imagenet_log_odds = float(np.log((dog_mass + EPSILON) / (cat_mass + EPSILON)))
    p_dog = sigmoid(imagenet_log_odds + weight * logit(transfer_p_dog))
    threshold = rule.thumbnail_threshold if thumbnail else rule.animal_threshold
    # p(animal) is 1/2 exactly at the threshold, so "neither" wins exactly below it
    p_animal = sigmoid(logit(strongest) - logit(threshold))
    if vetoed(evidence, shorter_side, rule):  # positive evidence of another animal: below 1/2 as it outweighs
        p_animal = min(p_animal, sigmoid(logit(evidence.animal) - logit(evidence.other_animal)))
    scores = {cat: p_animal * (1 - p_dog), dog: p_animal * p_dog, neither: 1 - p_animal}
    if p_animal >= 0.5:  # an animal: the larger of cat and dog must beat "neither" in the display too
        winner = dog if p_dog >= 0.5 else cat
        scores[winner] = max(scores[winner], scores[neither] + EPSILON)
    total = sum(scores.values())
    probabilities = {key: value / total for key, value in scores.items()}
    label = max(probabilities, key=probabilities.__getitem__)
    looks_like = evidence.top5[0][0] if evidence.top5 else ""
    found_closer = label != neither and evidence.animal < threshold <= strongest
    return Verdict(
        label, probabilities, looks_like, p_dog, strongest, found_closer, imagenet_log_odds, float(transfer_p_dog)
    )


def verdict_summary(verdict: Verdict) -> str:
    """One or two Markdown sentences saying what the verdict means, without contradicting it."""
    label, p = verdict.label, verdict.probabilities[verdict.label]
    if label == "neither":
        return f"**Neither a cat nor a dog** ({p:.0%}): it looks like **{verdict.looks_like}**."
    said = f"**{label.capitalize()}** ({p:.0%})." if verdict.sure else f"**Probably a {label}** ({p:.0%})."
    if verdict.found_closer:
        said += f" The whole photo looks most like *{verdict.looks_like}*; the {label} fills only part of it."
    elif not verdict.sure and verdict.networks_disagree:
        said += " The two networks disagree, and neither is sure."
    return said
