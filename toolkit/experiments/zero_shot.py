"""The ImageNet zero-shot reference for cats vs dogs: the 1000-class MobileNet, never trained on our data.

Three rules, reported side by side:
- `domestic_equal_mass` (the rule until now): dog when the softmax mass on the 118 dog classes exceeds
  that on the 5 domestic-cat classes; wild cats are ignored and the threshold is fixed;
- `all_cats_validated`: the log ratio of the mass on every dog class to that on all 13 cat classes
  (domestic and wild), against a threshold chosen on the validation split, never on the test images;
- `all_cats_equal_mass`, between the two: every cat class counted, the threshold fixed at equal mass.
The validation column of the validated rule is optimistic: its threshold was fitted there.

`convlens eval zero-shot` measures them at 128 and 224 px (`runs/zero_shot/results.json`); every
`convlens train catsdogs` run records them in its metrics.
"""

from __future__ import annotations

import numpy as np

from toolkit.core.imagenet_groups import cat_and_dog_mass
from toolkit.core.json_files import write_json
from toolkit.core.names import (
    IMAGENET_CAT_CLASSES,
    IMAGENET_DOMESTIC_CAT_CLASSES,
    RESULTS_FILE,
    RESULTS_MARKDOWN,
    ZERO_SHOT,
)
from toolkit.data.datasets import Split
from toolkit.experiments.catsdogs_evaluation import confusion_matrix

OLD_RULE = "domestic_equal_mass"
ALL_CATS_EQUAL_MASS = "all_cats_equal_mass"  # the two changes apart: the wild cats counted, the threshold fixed
NEW_RULE = "all_cats_validated"
SMALLEST_MASS = 1e-12  # the log ratio of an image with no mass on one side stays finite


def imagenet_probabilities(images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The 1000 ImageNet probabilities of uint8 images, at their own size."""
    from toolkit.data import backbones

    size = images.shape[1]
    model = backbones.imagenet_mobilenet((size, size, 3), include_top=True)
    return model.predict(images.astype(np.float32) / 127.5 - 1.0, batch_size=batch_size, verbose=0)


def dog_log_ratio(probabilities: np.ndarray, cats: range = IMAGENET_CAT_CLASSES) -> np.ndarray:
    """log(mass on dogs / mass on `cats`) per image: above the threshold means dog."""
    cat_mass, dog_mass = cat_and_dog_mass(probabilities, cats)
    return np.log(np.maximum(dog_mass, SMALLEST_MASS)) - np.log(np.maximum(cat_mass, SMALLEST_MASS))


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold (dog when score > threshold) with the best accuracy on these labels; among equally good
    ones, the one nearest 0 (equal mass)."""
    values = np.unique(np.asarray(scores, float))
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0], [0.0]])
    labels = np.asarray(labels)
    accuracies = np.array([np.mean((scores > t).astype(int) == labels) for t in candidates])
    best = np.flatnonzero(accuracies == accuracies.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best]))]])


def _judged(predicted: np.ndarray, labels: np.ndarray) -> dict:
    return {"accuracy": float(np.mean(predicted == labels)), "confusion_matrix": confusion_matrix(labels, predicted)}


def zero_shot_reference(validation: Split, test: Split, batch_size: int = 64) -> dict:
    """Every rule on the test images, the validated rule's threshold set on the validation images (same size)."""
    val_probabilities = imagenet_probabilities(validation.x, batch_size)
    test_probabilities = imagenet_probabilities(test.x, batch_size)
    rules: dict[str, dict] = {}
    for rule, cats in (
        (NEW_RULE, IMAGENET_CAT_CLASSES),
        (ALL_CATS_EQUAL_MASS, IMAGENET_CAT_CLASSES),
        (OLD_RULE, IMAGENET_DOMESTIC_CAT_CLASSES),
    ):
        val_ratio, test_ratio = dog_log_ratio(val_probabilities, cats), dog_log_ratio(test_probabilities, cats)
        validated = rule == NEW_RULE
        threshold = best_threshold(val_ratio, validation.y) if validated else 0.0
        rules[rule] = {
            "cat_classes": [cats.start, cats.stop - 1],
            "log_ratio_threshold": threshold,
            "threshold_chosen_on": "validation" if validated else "fixed",
            "test": _judged((test_ratio > threshold).astype(np.int64), test.y),
            "validation": _judged((val_ratio > threshold).astype(np.int64), validation.y),
        }
    cat_mass, dog_mass = cat_and_dog_mass(test_probabilities)
    return {
        "test_accuracy": rules[NEW_RULE]["test"]["accuracy"],
        "confusion_matrix": rules[NEW_RULE]["test"]["confusion_matrix"],
        "input_size": int(test.x.shape[1]),
        "rule": NEW_RULE,
        "rules": rules,
        "validation_images": len(validation),
        "test_images": len(test),
        "mean_mass_on_cats_and_dogs": float(np.mean(cat_mass + dog_mass)),
    }


def reference_table(by_size: dict[str, dict]) -> str:
    """Markdown: every rule's validation and test accuracy at every size."""
    lines = [
        "| input | rule | threshold (log dog/cat mass) | validation | test |",
        "|---|---|---:|---:|---:|",
    ]
    for size, result in by_size.items():
        for rule in (OLD_RULE, ALL_CATS_EQUAL_MASS, NEW_RULE):
            entry = result["rules"][rule]
            lines.append(
                f"| {size} px | {rule} | {entry['log_ratio_threshold']:+.3f} ({entry['threshold_chosen_on']}) "
                f"| {entry['validation']['accuracy']:.4f} | {entry['test']['accuracy']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def zero_shot_from_cli(args, log=print) -> int:
    """`convlens eval zero-shot [--out DIR]`: every rule at the config's sizes, on the package's images."""
    from toolkit.experiments.catsdogs_config import config_for
    from toolkit.experiments.catsdogs_data import load_package_data
    from toolkit.experiments.runs import run_folder

    config = config_for("quick")
    data = load_package_data(config)
    by_size = {}
    for size in sorted({*config.zero_shot_sizes, config.input_size}):
        validation = Split(data.validation_at_size(size), data.validation.y)
        by_size[str(size)] = zero_shot_reference(validation, Split(data.test_at_size(size), data.test.y))
    folder = run_folder(ZERO_SHOT, getattr(args, "out", None))
    write_json(folder / RESULTS_FILE, {"source": data.source, "by_input_size": by_size})
    table = reference_table(by_size)
    (folder / RESULTS_MARKDOWN).write_text(table)
    log(table.rstrip("\n"))
    log(f"written to {folder}")
    return 0
