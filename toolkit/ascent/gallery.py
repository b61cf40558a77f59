"""The gallery: what `convlens visualize` renders, as labelled PNG grids plus an index.json the demo reads.

Each panel function renders one visualisation with one method, writes its PNG into a folder and
returns its index entry.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from toolkit.ascent import feature_models, subjects
from toolkit.ascent.grid import labelled_grid, save_png
from toolkit.ascent.objectives import channel
from toolkit.ascent.render import Rendering, method_named, render, target_check, to_uint8
from toolkit.ascent.subjects import IMAGENET_SIZE, Options
from toolkit.core.errors import ConvlensError
from toolkit.core.json_files import write_json
from toolkit.core.names import FAIR_ROBUSTNESS, GALLERY_FOLDER, GALLERY_INDEX
from toolkit.core.paths import exported_dir

BACKBONE_LAYERS = {
    "mobilenet": ("conv_pw_5_relu", "conv_pw_13_relu"),
    "resnet50v2": ("conv3_block4_out", "conv5_block3_out"),
}
BACKBONE_TITLES = {"mobilenet": "MobileNet v1 (ImageNet)", "resnet50v2": "ResNet50V2 (ImageNet)"}
GRID_FILTERS = 64
# A 64-image batch through MobileNet costs ~30x one image per step: the robust filter grids default to fewer steps.
GRID_STEPS = {"naive": None, "robust": 128}
METHOD_CAPTIONS = {
    "naive": "naive: pixels from grey noise, L2-normalised gradient steps, no transformations (keras.io's recipe)",
    "robust": "robust: decorrelated Fourier image, Adam, random pad/jitter/scale/rotation every step "
    "(Feature Visualization's recipe)",
}

Progress = Callable[[int, int], None]


@dataclass
class Entry:
    """One gallery image, as the demo reads it from index.json."""

    file: str
    title: str
    caption: str
    kind: str  # filters | filter | class | digits | digit-filters | catsdogs
    method: str
    model: str
    steps: int
    seconds: float
    layer: str | None = None
    probabilities: dict | None = field(default=None)
    log_odds: dict | None = field(default=None)  # the same check in log-odds, which does not saturate

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _caption(method: str, rendering: Rendering, extra: str = "") -> str:
    text = f"{METHOD_CAPTIONS[method]}; {rendering.steps} steps in {rendering.seconds:.1f} s."
    return f"{text} {extra}".strip()


def _robustness(features, rendering: Rendering, targets: list[int], labels: list[str]) -> tuple[dict, dict]:
    """(probabilities, log-odds) of the targets as rendered and under the 16 transformations, labelled."""
    check = target_check(features, rendering.images, targets)

    def labelled(name: str, digits: int) -> dict:
        as_rendered, under = check[name]
        return {
            "as_rendered": {label: round(float(v), digits) for label, v in zip(labels, as_rendered)},
            "under_transforms": {label: round(float(v), digits) for label, v in zip(labels, under)},
        }

    return labelled("probabilities", 4), labelled("log_odds", 2)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def filters_panel(
    folder: Path, layer: str, method: str, options: Options, progress: Progress | None = None, count: int = GRID_FILTERS
) -> Entry:
    """The first `count` filters of an ImageNet backbone layer, rendered as one batch, in an 8-column grid."""
    size = options.size or IMAGENET_SIZE
    features = feature_models.imagenet_features(options.backbone, size, (layer,), weights=options.weights)
    count = min(count, features.model.output[layer].shape[-1])
    rendering = render(
        features,
        [channel(layer, i) for i in range(count)],
        method_named(method),
        options.steps or GRID_STEPS[method],
        options.seed,
        progress=progress,
    )
    title = f"{BACKBONE_TITLES[options.backbone]} {layer}: {count} filters ({method})"
    file = f"filters_{options.backbone}_{layer}_{method}.png"
    save_png(labelled_grid(to_uint8(rendering.images), [str(i) for i in range(count)], 8, title), folder / file)
    return Entry(
        file,
        title,
        _caption(method, rendering, "Each image maximises one filter's mean activation."),
        "filters",
        method,
        options.backbone,
        rendering.steps,
        round(rendering.seconds, 2),
        layer,
    )


def filter_panel(
    folder: Path, layer: str, index: int, method: str, options: Options, progress: Progress | None = None
) -> Entry:
    """One filter maximised and minimised, side by side (a batch of two)."""
    size = options.size or IMAGENET_SIZE
    features = feature_models.imagenet_features(options.backbone, size, (layer,), weights=options.weights)
    if not 0 <= index < features.model.output[layer].shape[-1]:
        raise ConvlensError(
            f"layer {layer} has {features.model.output[layer].shape[-1]} filters; --filter {index} is out of range."
        )
    rendering = render(
        features,
        [channel(layer, index), -channel(layer, index)],
        method_named(method),
        options.steps,
        options.seed,
        progress=progress,
    )
    title = f"{layer} filter {index}: maximised and minimised ({method})"
    file = f"filter_{options.backbone}_{layer}_{index}_{method}.png"
    labels = [f"max {rendering.values[0]:.2f}", f"min {-rendering.values[1]:.2f}"]
    save_png(labelled_grid(to_uint8(rendering.images), labels, 2, title, min_cell=192), folder / file)
    return Entry(
        file,
        title,
        _caption(method, rendering, "Labels: the filter's mean activation reached."),
        "filter",
        method,
        options.backbone,
        rendering.steps,
        round(rendering.seconds, 2),
        layer,
    )


def class_panel(
    folder: Path, class_name: str | int, method: str, options: Options, progress: Progress | None = None
) -> Entry:
    """An ImageNet class logit maximised; the probability as rendered and under 16 random transformations."""
    subject = subjects.imagenet_class(options, class_name)
    index, name = subject.targets[0], subject.labels[0]
    recipe, objectives = subject.recipe(method)
    rendering = render(subject.features, objectives, recipe, options.steps, options.seed, progress=progress)
    probabilities, log_odds = _robustness(subject.features, rendering, [index], [name])
    p, q = probabilities["as_rendered"][name], probabilities["under_transforms"][name]
    title = f'ImageNet class {index} "{name}" ({method})'
    file = f"class_{options.backbone}_{index}_{_slug(name)}_{method}.png"
    save_png(
        labelled_grid(to_uint8(rendering.images), [f"p={p:.2f}; transformed {q:.2f}"], 1, title, min_cell=256),
        folder / file,
    )
    return Entry(
        file,
        title,
        _caption(
            method,
            rendering,
            f"p({name}) = {p:.2f} as rendered, {q:.2f} on average "
            "under 16 random small shifts, scalings and rotations.",
        ),
        "class",
        method,
        options.backbone,
        rendering.steps,
        round(rendering.seconds, 2),
        probabilities=probabilities,
        log_odds=log_odds,
    )


def digits_panel(folder: Path, method: str, options: Options, progress: Progress | None = None) -> Entry:
    """The ten digits: each output logit of the MNIST CNN maximised (grayscale, 28x28)."""
    subject = subjects.mnist_digits(options)
    recipe, objectives = subject.recipe(method)
    rendering = render(subject.features, objectives, recipe, options.steps, options.seed, progress=progress)
    labels = list(subject.labels)
    probabilities, log_odds = _robustness(subject.features, rendering, list(subject.targets), labels)
    title = f"MNIST CNN: the ten digits ({method})"
    file = f"digits_{method}.png"
    shown = [f"{d}: p={probabilities['as_rendered'][d]:.2f}" for d in labels]
    save_png(labelled_grid(to_uint8(rendering.images), shown, 10, title), folder / file)
    mean_q = np.mean(list(probabilities["under_transforms"].values()))
    prior = (
        " White ink on black inside MNIST's centred 20x20 box, ink and ragged edges penalised."
        if recipe.parameterisation == "digits"
        else ""
    )
    return Entry(
        file,
        title,
        _caption(method, rendering, f"Mean probability under 16 random transformations {mean_q:.2f}.{prior}"),
        "digits",
        method,
        "digits",
        rendering.steps,
        round(rendering.seconds, 2),
        probabilities=probabilities,
        log_odds=log_odds,
    )


def digit_filters_panel(folder: Path, method: str, options: Options, progress: Progress | None = None) -> Entry:
    """The filters of the MNIST CNN's two conv layers, one row per layer, rendered as one batch."""
    model = feature_models.load_trained(options.digits_path(), "digits")
    layers = feature_models.conv_layer_names(model)[:2]
    features = feature_models.feature_model(model, tuple(layers), input_scale=feature_models.PIXELS_0_255)
    objectives = [channel(layer, i) for layer in layers for i in range(features.model.output[layer].shape[-1])]
    rendering = render(features, objectives, method_named(method), options.steps, options.seed, progress=progress)
    counts = [features.model.output[layer].shape[-1] for layer in layers]
    title = f"MNIST CNN: filters of {' and '.join(layers)} ({method})"
    file = f"digit_filters_{method}.png"
    labels = [objective.name for objective in objectives]
    save_png(labelled_grid(to_uint8(rendering.images), labels, max(counts), title), folder / file)
    return Entry(
        file,
        title,
        _caption(
            method, rendering, f"Rows: {', '.join(f'{layer} ({count})' for layer, count in zip(layers, counts))}."
        ),
        "digit-filters",
        method,
        "digits",
        rendering.steps,
        round(rendering.seconds, 2),
        ", ".join(layers),
    )


def catsdogs_panel(folder: Path, method: str, options: Options, progress: Progress | None = None) -> Entry:
    """The cats-vs-dogs output maximised (dog) and minimised (cat), side by side."""
    subject = subjects.cats_dogs(options)
    recipe, objectives = subject.recipe(method)
    rendering = render(subject.features, objectives, recipe, options.steps, options.seed, progress=progress)
    probabilities, log_odds = _robustness(subject.features, rendering, list(subject.targets), list(subject.labels))
    title = f"Cats vs dogs: the output maximised (dog) and minimised (cat) ({method})"
    file = f"catsdogs_{method}.png"
    shown = [
        f"{label}: p={probabilities['as_rendered'][label]:.2f}; transformed "
        f"{probabilities['under_transforms'][label]:.2f}"
        for label in ("dog", "cat")
    ]
    save_png(labelled_grid(to_uint8(rendering.images), shown, 2, title, min_cell=256), folder / file)
    odds = ", ".join(
        f"{label} {log_odds['as_rendered'][label]:.1f} -> {log_odds['under_transforms'][label]:.1f}"
        for label in ("dog", "cat")
    )
    return Entry(
        file,
        title,
        _caption(
            method,
            rendering,
            "Probabilities as rendered and on average under 16 "
            "random small shifts, scalings and rotations; "
            f"log-odds as rendered -> transformed: {odds}.",
        ),
        "catsdogs",
        method,
        "catsdogs",
        rendering.steps,
        round(rendering.seconds, 2),
        probabilities=probabilities,
        log_odds=log_odds,
    )


# ---------------------------------------------------------------------------------------- the index


def gallery_dir(out: str | os.PathLike | None = None) -> Path:
    return Path(out) if out else exported_dir() / GALLERY_FOLDER


PROGRESS_KEYS = ("entries", "rendered", "total", "complete")  # what write_index owns; other records it keeps


def _index(folder: Path) -> dict:
    """The folder's index.json as a dict (an older bare list as its entries); empty when absent or unreadable."""
    try:
        index = json.loads((folder / GALLERY_INDEX).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    if isinstance(index, list):
        return {"entries": index, "rendered": len(index), "total": len(index), "complete": True}
    return index if isinstance(index, dict) else {}


def write_index(folder: Path, entries: list[Entry], total: int | None = None, keep_records: bool = True) -> Path:
    """Writes index.json atomically (temporary file, then rename): the entries, and how many of `total` are done.

    A gallery rendered image by image (`--progressive`) rewrites it after each image; the demo reads
    `rendered` of `total` and `complete` from it. Other records already in it (the fair robustness check's) stay,
    unless `keep_records` is false: a gallery rendered afresh drops what was measured on the models before.
    """
    path = folder / GALLERY_INDEX
    total = len(entries) if total is None else total
    kept = {key: value for key, value in _index(folder).items() if key not in PROGRESS_KEYS} if keep_records else {}
    write_json(
        path,
        {
            "entries": [entry.as_json() for entry in entries],
            "rendered": len(entries),
            "total": total,
            "complete": len(entries) >= total,
            **kept,
        },
    )
    return path


def read_index(folder: Path) -> list[dict]:
    """The entries of the folder's index.json (older galleries wrote a bare list); none when it is absent."""
    path = folder / GALLERY_INDEX
    index = json.loads(path.read_text()) if path.exists() else []
    return index.get("entries", []) if isinstance(index, dict) else index


def merge_fair_robustness(folder: Path, records: dict[str, dict]) -> Path:
    """Adds or replaces the fair robustness check's record of each panel kind (`class`, `digits`, `catsdogs`) in
    the folder's index.json under FAIR_ROBUSTNESS, leaving its entries and progress as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    # no index yet: no images either, and not complete, so that the demo still renders the gallery
    index = _index(folder) or {"entries": [], "rendered": 0, "total": 0, "complete": False}
    index[FAIR_ROBUSTNESS] = {**index.get(FAIR_ROBUSTNESS, {}), **records}
    path = folder / GALLERY_INDEX
    write_json(path, index)
    return path


def merge_into(folder: Path, entries: list[Entry]) -> Path:
    """Adds or replaces `entries` (by file) in the folder's index; an unfinished gallery stays unfinished."""
    folder.mkdir(parents=True, exist_ok=True)
    new_files = {entry.file for entry in entries}
    kept = [Entry(**entry) for entry in read_index(folder) if entry["file"] not in new_files]
    path = folder / GALLERY_INDEX
    index = json.loads(path.read_text()) if path.exists() else []
    total = index.get("total", 0) if isinstance(index, dict) and not index.get("complete", True) else 0
    return write_index(folder, kept + entries, total=max(total, len(kept) + len(entries)))


def replace_folder(built: Path, target: Path) -> None:
    """Puts a fully written folder in place of `target`: the demo sees the old gallery or the new one, never half."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    if old.exists():
        shutil.rmtree(old)
