"""The demo's other panels, without a UI: example photos, the gradient-ascent gallery, a live
render (the one path that imports TensorFlow, lazily) and the Models report.

Everything here reads files (exported/, runs/) and returns plain values, and writes nothing;
missing optional files give a note, never an error.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from demo.limits import RENDER_MAX_STEPS, RENDER_MAX_WAITING, RENDER_METHODS, RENDER_SIZES
from demo.models_report import format_figure
from toolkit.core.names import (
    EXAMPLES_FOLDER,
    GALLERY_FOLDER,
    GALLERY_INDEX,
    IMAGENET_CLASSES_FILE,
)
from toolkit.serving.photo_input import BadInput

# ---------------------------------------------------------------- what the export offers


def example_photos(exported: Path) -> list[Path]:
    """The export's example photos (exported/examples/*.png); none when the export has none."""
    return sorted((Path(exported) / EXAMPLES_FOLDER).glob("*.png"))


def imagenet_class_choices(exported: Path) -> list[str]:
    """The 1000 ImageNet class names the export lists (index -> name); none when it lists none."""
    try:
        names = json.loads((Path(exported) / IMAGENET_CLASSES_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return []  # typing a name or index still works; the render says what is missing
    return [str(name) for name in names] if isinstance(names, list) else []


# ---------------------------------------------------------------- gallery

# What each kind of gallery image is, in plain words: (name, one sentence).
KIND_NAMES = {
    "class": (
        "Classes",
        "An image changed step by step until the ImageNet network is as sure as it can be of a class.",
    ),
    "filters": ("Filters of a layer", "For each filter of a layer, the pattern that makes it respond most."),
    "filter": ("One filter", "One filter's favourite pattern, and the pattern it responds to least."),
    "digits": ("Digits", "What the digit network thinks each digit, 0 to 9, looks like at its most."),
    "digit-filters": ("Digit network filters", "The patterns the digit network's first two layers look for."),
    "catsdogs": ("Cat or dog", "The image the cats-vs-dogs model finds most dog-like, and most cat-like."),
}
METHOD_WORDS = {
    "naive": "naive: pixels changed directly, starting from grey noise (the original practical's way)",
    "robust": "robust: a smoother image, shifted, scaled and rotated a little at every step, so it still works "
    "for the network when moved",
}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, (kind.replace("-", " ").capitalize(), ""))[0]


def kind_sentence(kind: str) -> str:
    return KIND_NAMES.get(kind, ("", ""))[1]


@dataclass(frozen=True)
class GalleryItem:
    path: Path
    title: str
    caption: str
    kind: str
    details: str  # markdown: caption, method, model and the probabilities


@dataclass(frozen=True)
class Gallery:
    items: list[GalleryItem]
    note: str  # shown above the gallery: what is there, or why nothing is
    total: int = 0  # images the render will make (index.json's total; the items' count for a finished gallery)
    complete: bool = True  # False while a progressive render (`convlens visualize all --progressive`) is unfinished

    def kinds(self) -> list[str]:
        return sorted({item.kind for item in self.items})

    def of_kind(self, kind: str | None) -> list[GalleryItem]:
        return [item for item in self.items if kind in (None, "", "all") or item.kind == kind]


def _format_probabilities(value) -> str:
    if isinstance(value, (int, float)):
        return f"{value:.1%}"
    if isinstance(value, dict):  # one entry per rendered image (its own target), in the gallery's order
        return ", ".join(f"{k} {v:.1%}" for k, v in value.items() if isinstance(v, (int, float)))
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        ranked = sorted(enumerate(value), key=lambda kv: kv[1], reverse=True)
        return ", ".join(f"{k}: {v:.1%}" for k, v in ranked[:3])
    return str(value)


def _details(entry: dict) -> str:
    lines = [f"**{entry.get('title') or entry['file']}**", ""]
    if entry.get("caption"):
        lines += [str(entry["caption"]), ""]
    if kind_sentence(str(entry.get("kind") or "")):
        lines += [kind_sentence(str(entry["kind"])), ""]
    if entry.get("method") in METHOD_WORDS:
        lines += [f"Method {METHOD_WORDS[entry['method']]}.", ""]
    facts = [
        f"{key}: {entry[key]}"
        for key in ("model", "layer", "filter", "class", "steps")
        if entry.get(key) not in (None, "")
    ]
    if isinstance(entry.get("seconds"), (int, float)):
        facts.append(f"rendered in {entry['seconds']:.1f} s")
    if facts:
        lines += [" · ".join(facts), ""]
    probabilities = entry.get("probabilities") or {}
    if isinstance(probabilities, dict):
        names = {"as_rendered": "as rendered", "under_transforms": "under small shifts, scales and rotations"}
        for key, value in probabilities.items():
            lines.append(f"- probability {names.get(key, key)}: {_format_probabilities(value)}")
    return "\n".join(lines)


def load_gallery(exported: Path) -> Gallery:
    """The gallery of `exported/gallery/index.json`; an empty one with a note when it is absent or unreadable."""
    folder = Path(exported) / GALLERY_FOLDER
    index = folder / GALLERY_INDEX
    hint = "run `make visualize` (`convlens visualize all`) to render it into exported/gallery/."
    if not index.exists():
        return Gallery([], f"No gallery yet: {hint}")
    try:
        entries = json.loads(index.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        return Gallery([], f"The gallery index {index} cannot be read ({error}): {hint}")
    total, complete = None, True
    if isinstance(entries, dict):  # {"entries", "rendered", "total", "complete"}; older galleries: a bare list
        total, complete = entries.get("total"), bool(entries.get("complete", True))
        entries = entries.get("entries") or entries.get("images") or []
    items, missing = [], 0
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not entry.get("file"):
            continue
        path = folder / entry["file"]
        if not path.is_file():
            missing += 1
            continue
        title = str(entry.get("title") or Path(entry["file"]).stem)
        items.append(
            GalleryItem(
                path, title, str(entry.get("caption") or ""), str(entry.get("kind") or "other"), _details(entry)
            )
        )
    total = total if isinstance(total, int) and total >= len(items) else len(items)
    if not complete:
        return Gallery(items, f"{len(items)} of {total} images rendered.", total, complete=False)
    note = f"{len(items)} images rendered by `convlens visualize`; click one for its caption and probabilities."
    if missing:
        note += f" {missing} listed in {GALLERY_INDEX} are missing: {hint}"
    if not items:
        note = f"The gallery is empty: {hint}"
    return Gallery(items, note, total)


def gallery_progress_note(gallery: Gallery, rendering: bool) -> str:
    """The note above the gallery: its own note, and while unfinished, whether more images are coming."""
    if gallery.complete and gallery.items:
        return gallery.note
    if rendering:
        done = f"{len(gallery.items)} of {gallery.total} images rendered; " if gallery.total else ""
        return (
            f"{done}the gallery is being rendered in the background and fills in as images land "
            "(the live render below works meanwhile)."
        )
    if not gallery.complete:
        return (
            f"{gallery.note} The gallery render is not running: run `make visualize` (`convlens visualize all`), "
            "or restart the demo, to finish it."
        )
    return gallery.note


# ---------------------------------------------------------------- live render


class RenderQueue:
    """One render at a time, at most `max_waiting` waiting: a full queue is refused with a message."""

    def __init__(self, max_waiting: int = RENDER_MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self._running = threading.Lock()
        self._count = threading.Lock()
        self._admitted = 0  # running + waiting

    def __enter__(self) -> Self:
        with self._count:
            if self._admitted > self.max_waiting:
                raise BadInput(
                    f"The renderer is busy ({self._admitted} renders running or waiting): try again in a minute."
                )
            self._admitted += 1
        self._running.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.release()
        with self._count:
            self._admitted -= 1


def load_renderer() -> Callable:
    """`toolkit.ascent.render_imagenet_class`, imported now (it imports TensorFlow); a clear error when absent."""
    # TensorFlow shares the 2 cores with onnxruntime: keep its thread pools small so a render never
    # starves classification (environment variables TF reads when it first starts).
    half = str(max(1, (os.cpu_count() or 2) // 2))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", half)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    try:
        ascent = importlib.import_module("toolkit.ascent")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("toolkit"):
            raise BadInput(
                "Live rendering is not available in this version (toolkit.ascent is missing); "
                "the gallery above shows renders made with `convlens visualize`."
            ) from None
        raise BadInput(
            f"Live rendering needs {error.name}, which this serving install does not have: install the training "
            f"stack (pip install '.[train]', or \"make setup\"). The gallery above shows renders made beforehand."
        ) from None
    render = getattr(ascent, "render_imagenet_class", None)
    if render is None:
        raise BadInput(
            "Live rendering is not available in this version (toolkit.ascent has no "
            "render_imagenet_class); use `convlens visualize class` instead."
        )
    return render


def render_class(
    class_name: str,
    method: str,
    steps: int,
    size: int,
    seed: int,
    progress: Callable | None = None,
    queue: RenderQueue | None = None,
) -> tuple[np.ndarray, dict]:
    """Maximise an ImageNet class live; inputs checked and bounded before anything is imported."""
    if not str(class_name or "").strip():
        raise BadInput("Choose an ImageNet class, by name (e.g. Siamese cat) or by index (0-999).")
    if method not in RENDER_METHODS:
        raise BadInput(f"The method must be one of {', '.join(RENDER_METHODS)}; got {method!r}.")
    try:
        steps, size, seed = int(steps), int(size), int(seed or 0)
    except (TypeError, ValueError):
        raise BadInput("Steps, size and seed must be whole numbers.") from None
    if not 1 <= steps <= RENDER_MAX_STEPS:
        raise BadInput(f"Steps must be between 1 and {RENDER_MAX_STEPS}; got {steps}.")
    if size not in RENDER_SIZES:
        raise BadInput(f"The size must be one of {', '.join(map(str, RENDER_SIZES))} pixels; got {size}.")
    if not 0 <= seed < 2**31:
        raise BadInput(f"The seed must be between 0 and {2**31 - 1}; got {seed}.")
    with queue or RenderQueue():
        render = load_renderer()
        # the renderer resolves the name or index, with suggestions (a ConvlensError) when it knows no such class
        image, info = render(
            str(class_name).strip(), method=method, steps=steps, size=size, seed=seed, progress=progress
        )
    return np.asarray(image), dict(info or {})


def render_summary(info: dict, seconds: float, loaded_tensorflow: bool = False) -> str:
    """Markdown for a finished render: what was rendered, how long it took, and how sure the network is of it."""
    loading = ", loading TensorFlow first (later renders skip that)" if loaded_tensorflow else ""
    lines = [f"Rendered in {seconds:.1f} s{loading}."]
    if "class_name" in info:
        lines.append(
            f"**{info['class_name']}** (ImageNet class {info.get('class_index', '?')}), "
            f"{info.get('method', '?')} method, {info.get('steps', '?')} steps, "
            f"{info.get('size', '?')} px, seed {info.get('seed', '?')}."
        )
    for key, words in (
        ("probability_as_rendered", "as rendered"),
        ("probability_under_transforms", "under small shifts, scales and rotations"),
    ):
        if isinstance(info.get(key), (int, float)):
            lines.append(f"- the network's probability for the class {words}: {info[key]:.1%}")
    shown = {
        "class_name",
        "class_index",
        "method",
        "steps",
        "size",
        "seed",
        "probability_as_rendered",
        "probability_under_transforms",
        "seconds",  # the time said above is the one people waited
    }
    lines += [f"- {key}: {format_figure(value)}" for key, value in info.items() if key not in shown]
    return "\n".join(lines)
