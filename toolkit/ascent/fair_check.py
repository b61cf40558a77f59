"""A fairer robustness check of the two methods: equal step budgets, and transformations neither optimised against.

The gallery's own check transforms with the families the robust method optimised against (shift, scale, rotation),
and compares 30 naive steps with 256 robust ones. This check renders each class subject with both methods at both
budgets (same seed) and measures the target's probability and log-odds of the saved images as rendered, under that
small check, and under each family of `unseen_transforms`, averaged over random draws with a fixed seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

from toolkit.ascent.feature_models import FeatureModel
from toolkit.ascent.render import METHODS, Progress, render, saved_target_measures, target_check, to_uint8
from toolkit.ascent.subjects import ClassSubject
from toolkit.ascent.unseen_transforms import unseen_families

AS_RENDERED = "as_rendered"
SMALL_TRANSFORMS = "small_transforms"  # the gallery's check
SMALL_TRANSFORMS_DESCRIPTION = (
    "the gallery's check: 16 random small shifts (up to 6%), scalings (0.9-1.1) and rotations (up to 10 degrees), "
    "bilinear: the families the robust method optimised against"
)
BUDGETS = tuple(sorted({method.steps for method in METHODS.values()}))  # each method's default, given to both
DRAWS = 16  # random draws per family, as the small check's 16 transformations
CHECK_SEED = 1234  # the small check's seed; the unseen families draw from it too

Measures = tuple[np.ndarray, np.ndarray]  # each image's (probability, log-odds) of its target


def family_measures(
    features: FeatureModel, images: np.ndarray, targets: Sequence[int], draws: int = DRAWS, seed: int = CHECK_SEED
) -> dict[str, Measures]:
    """Each image's target probability and log-odds as rendered, under the small check, and under each unseen
    family, averaged over `draws` draws (one for a family that draws nothing, such as JPEG at a fixed quality)."""
    check = target_check(features, images, targets, seed=seed)
    (p, p_small), (odds, odds_small) = check["probabilities"], check["log_odds"]
    measures = {AS_RENDERED: (p, odds), SMALL_TRANSFORMS: (p_small, odds_small)}
    saved = to_uint8(images)
    for name, family in unseen_families(features.channels).items():
        stream = zlib.crc32(name.encode())  # each family its own random numbers, whatever the order of families
        each = [
            saved_target_measures(features, family(saved, np.random.default_rng([seed, stream, k])), targets)
            for k in range(draws if family.random else 1)
        ]
        measures[name] = (np.mean([m[0] for m in each], axis=0), np.mean([m[1] for m in each], axis=0))
    return measures


def family_descriptions(channels: int) -> dict[str, str]:
    """What each recorded figure measures, by its name in the record."""
    unseen = {name: family.description for name, family in unseen_families(channels).items()}
    return {AS_RENDERED: "the saved image itself", SMALL_TRANSFORMS: SMALL_TRANSFORMS_DESCRIPTION, **unseen}


def _summary(measures: Measures, labels: Sequence[str]) -> dict:
    p, odds = measures
    return {
        "mean_p": round(float(np.mean(p)), 4),
        "mean_log_odds": round(float(np.mean(odds)), 2),
        "p": {label: round(float(v), 4) for label, v in zip(labels, p)},
        "log_odds": {label: round(float(v), 2) for label, v in zip(labels, odds)},
    }


def fair_check(
    subject: ClassSubject,
    budgets: Sequence[int] = BUDGETS,
    seed: int = 0,
    draws: int = DRAWS,
    check_seed: int = CHECK_SEED,
    progress: Callable[[str], Progress | None] | None = None,
) -> dict:
    """The subject rendered by each method at each budget; per method, budget and family: the mean probability
    and log-odds of the targets (and each label's), as JSON. `progress(description)` may give a step callback."""
    labels = list(subject.labels)
    results: dict[str, dict] = {}
    for method in METHODS:
        recipe, objectives = subject.recipe(method)
        for steps in budgets:
            step_progress = progress(f"robustness {subject.kind} {method} {steps}") if progress else None
            rendering = render(subject.features, objectives, recipe, steps, seed, progress=step_progress)
            measures = family_measures(subject.features, rendering.images, subject.targets, draws, check_seed)
            results.setdefault(method, {})[str(steps)] = {
                "default_steps": steps == recipe.steps,
                "seconds": round(rendering.seconds, 2),
                "families": {name: _summary(m, labels) for name, m in measures.items()},
            }
    return {
        "title": subject.title,
        "labels": labels,
        "seed": seed,
        "check_seed": check_seed,
        "draws": draws,
        "budgets": list(budgets),
        "families": family_descriptions(subject.features.channels),
        "results": results,
    }
