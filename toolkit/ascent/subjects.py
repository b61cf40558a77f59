"""The class visualisations the gallery checks: which model, which targets, and each method's recipe for them.

The gallery's panels and the fair robustness check both render these, so both build them here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from toolkit.ascent import feature_models
from toolkit.ascent.objectives import Objective, brightness, class_logit, total_variation
from toolkit.ascent.render import Method, method_named
from toolkit.core import names
from toolkit.core.paths import runs_dir

IMAGENET_SIZE = 128
# The robust digits also pay for ink (MNIST is mostly black) and for ragged edges, per unit of mean pixel
# value / mean neighbour difference in [0, 1]; weighed against logits of ~20, found by looking at the renders.
DIGIT_INK_WEIGHT = 10.0
DIGIT_SMOOTHNESS_WEIGHT = 20.0


@dataclass(frozen=True)
class Options:
    """What the command line chose: backbone, steps (None: the method's), size, seed, where models are."""

    backbone: str = "mobilenet"
    weights: str | None = None
    steps: int | None = None
    size: int | None = None
    seed: int = 0
    digits_model: Path | None = None
    catsdogs_model: Path | None = None

    def digits_path(self) -> Path:
        return (
            Path(self.digits_model)
            if self.digits_model
            else runs_dir() / names.RUN_FOLDER[names.DIGITS] / names.FULL_MODEL
        )

    def catsdogs_path(self) -> Path:
        return (
            Path(self.catsdogs_model)
            if self.catsdogs_model
            else runs_dir() / names.RUN_FOLDER[names.CATSDOGS] / names.TRANSFER_MODEL
        )


@dataclass(frozen=True)
class ClassSubject:
    """Class outputs to maximise: the model's features, one objective per image, its target class and label."""

    kind: str  # the gallery's kind: class | digits | catsdogs
    title: str
    features: feature_models.FeatureModel
    objectives: tuple[Objective, ...]
    targets: tuple[int, ...]  # the class each image should score (a sigmoid's: 1 above 0.5, 0 below)
    labels: tuple[str, ...]
    digit_priors: bool = False  # the robust recipe paints MNIST-like digits (grey Fourier image, ink penalised)

    def recipe(self, method: str) -> tuple[Method, list[Objective]]:
        """The method, as this subject renders it, and the objectives it optimises."""
        recipe, objectives = method_named(method), list(self.objectives)
        if self.digit_priors and recipe.parameterisation == "fourier":
            recipe = replace(recipe, parameterisation="digits")
            objectives = [
                o - DIGIT_INK_WEIGHT * brightness() - DIGIT_SMOOTHNESS_WEIGHT * total_variation() for o in objectives
            ]
        return recipe, objectives


def imagenet_class_features(backbone: str, size: int, weights: str | None = None) -> feature_models.FeatureModel:
    return feature_models.imagenet_features(backbone, size, logits=True, weights=weights)


def imagenet_class(options: Options, class_name: str | int) -> ClassSubject:
    """One ImageNet class logit of the backbone, at `options.size` (default 128 px)."""
    from toolkit.data.datasets import imagenet_class_index, imagenet_class_names

    index = imagenet_class_index(class_name)
    name = imagenet_class_names()[index].split(",")[0]
    size = options.size or IMAGENET_SIZE
    features = imagenet_class_features(options.backbone, size, options.weights)
    title = f'ImageNet "{name}" ({options.backbone}, {size} px)'
    return ClassSubject("class", title, features, (class_logit(index),), (index,), (name,))


def mnist_digits(options: Options) -> ClassSubject:
    """The ten output logits of the MNIST CNN (grayscale, 28x28), with the robust recipe's digit priors."""
    model = feature_models.load_trained(options.digits_path(), "digits")
    features = feature_models.feature_model(model, logits=True, input_scale=feature_models.PIXELS_0_255)
    targets = tuple(range(10))
    objectives = tuple(class_logit(d) for d in targets)
    return ClassSubject("digits", "MNIST CNN, the ten digits", features, objectives, targets, names.DIGIT_LABELS, True)


def cats_dogs(options: Options) -> ClassSubject:
    """The cats-vs-dogs output maximised (dog) and minimised (cat)."""
    model = feature_models.load_trained(options.catsdogs_path(), "cats-vs-dogs")
    features = feature_models.feature_model(model, logits=True, input_scale=feature_models.PIXELS_0_255)
    dog, cat = names.CATS_DOGS_LABELS.index("dog"), names.CATS_DOGS_LABELS.index("cat")
    return ClassSubject(
        "catsdogs", "cats vs dogs", features, (class_logit(0), -class_logit(0)), (dog, cat), ("dog", "cat")
    )
