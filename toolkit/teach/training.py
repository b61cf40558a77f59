"""Teaching from photos: each photo decoded by the serving layer's safe opener, featurised once (its views in
one batch with the others'), then the head cross-validated and fitted. The tab and `convlens teach` both call
`featurise` and `teach`, so the same photos and seed give the same model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.serving.photo_input import BadInput, open_photo
from toolkit.teach.features import FeatureBase, training_images
from toolkit.teach.head import cross_validate, fit_head
from toolkit.teach.taught_model import UNKNOWN, TaughtModel, TeachSettings

MIN_CLASSES, MAX_CLASSES = 2, 5
MIN_PHOTOS = 5  # per class: five folds of cross-validation need five
MAX_LABEL_CHARS = 40
DECODE_CHUNK = 16  # photos decoded between two onnxruntime calls (bounds the decoded images held at once)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

Progress = Callable[[float, str], None]


class TeachError(ConvlensError):
    """Training that cannot start (too few classes or photos, bad names); the message says what to change."""


@dataclass(frozen=True)
class TrainingPhoto:
    """One photo, featurised: its name (for messages), class, content sha256 and features (views, 1024)."""

    name: str
    label: str
    sha256: str
    features: np.ndarray


def check_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """The class names, stripped, when there are 2 to 5, distinct, short and not the word "unknown"."""
    names = tuple(str(label).strip() for label in labels)
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise TeachError(f"name {MIN_CLASSES} to {MAX_CLASSES} classes (got {len(names)}).")
    for name in names:
        if not name or len(name) > MAX_LABEL_CHARS or not name.isprintable():
            raise TeachError(f"class name {name[:50]!r}: use 1 to {MAX_LABEL_CHARS} printable characters.")
        if name.lower() == UNKNOWN:
            raise TeachError(f"{UNKNOWN!r} is the answer for photos of no class: name the class otherwise.")
    if len({name.lower() for name in names}) != len(names):
        raise TeachError(f"two classes have the same name ({', '.join(names)}): name each differently.")
    return names


def featurise(
    base: FeatureBase,
    sources: Sequence[tuple[object, str, str]],
    settings: TeachSettings,
    progress: Progress | None = None,
) -> tuple[list[TrainingPhoto], list[str]]:
    """Featurise (source, name, label) photos: (the photos, a message per photo skipped). A photo that cannot be
    read, or repeats one already given, is skipped with a message, never fatal."""
    photos: list[TrainingPhoto] = []
    skipped: list[str] = []
    seen: set[str] = set()
    pending: list[tuple[str, str, str, np.ndarray]] = []

    def flush() -> None:
        if pending:
            features = base.view_features(np.stack([images for *_, images in pending]))
            photos.extend(TrainingPhoto(n, lab, sha, f) for (n, lab, sha, _), f in zip(pending, features))
            pending.clear()

    for number, (source, name, label) in enumerate(sources):
        try:
            path = Path(str(source))
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            if sha in seen:
                skipped.append(f"{name}: the same photo as one already given; used once.")
                continue
            picture, _ = open_photo(path, name)
            pending.append((name, label, sha, training_images(picture, base.preprocessing)))
            seen.add(sha)
        except (BadInput, OSError) as error:
            skipped.append(f"{name}: skipped ({error})")
        if len(pending) >= DECODE_CHUNK:
            flush()
        if progress:
            progress((number + 1) / max(1, len(sources)) * 0.9, f"features of photo {number + 1} of {len(sources)}")
    flush()
    return photos, skipped


def teach(
    base: FeatureBase,
    labels: tuple[str, ...],
    photos: list[TrainingPhoto],
    settings: TeachSettings,
    max_photos: int | None = None,
    progress: Progress | None = None,
    name: str = "taught",
) -> TaughtModel:
    """Cross-validate and fit the head on featurised photos (in an order fixed by class and content, so the
    order they came in does not matter)."""
    labels = check_labels(labels)
    if settings.background is not None and settings.background not in labels:
        raise TeachError(f"the background class {settings.background!r} is not one of the classes {list(labels)}.")
    ordered = sorted((p for p in photos if p.label in labels), key=lambda p: (labels.index(p.label), p.sha256))
    counts = {label: sum(p.label == label for p in ordered) for label in labels}
    short = [f"{label} ({count})" for label, count in counts.items() if count < MIN_PHOTOS]
    if short:
        raise TeachError(f"give each class at least {MIN_PHOTOS} readable photos; too few: {', '.join(short)}.")
    over = [f"{label} ({count})" for label, count in counts.items() if max_photos and count > max_photos]
    if over:
        raise TeachError(f"at most {max_photos} photos a class here; too many: {', '.join(over)}.")
    if progress:
        progress(0.92, "cross-validating the head")
    features = np.stack([p.features for p in ordered]).astype(np.float64)
    targets = np.array([labels.index(p.label) for p in ordered])
    validation = cross_validate(features, targets, len(labels), settings.seed)
    head = fit_head(
        features.reshape(-1, features.shape[-1]), np.repeat(targets, features.shape[1]), len(labels), validation.l2
    )
    if progress:
        progress(1.0, "done")
    return TaughtModel(labels, head, validation, settings, base, [p.name for p in ordered], targets.tolist(), name)


def folder_sources(folder: Path) -> tuple[tuple[str, ...], list[tuple[object, str, str]]]:
    """(class names, (path, name, class) per photo) of a folder with one subfolder of photos per class."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TeachError(f"{folder} is not a folder: give one with a subfolder of photos per class.")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    labels = check_labels(p.name for p in classes)
    sources: list[tuple[object, str, str]] = [
        (path, path.name, label.name)
        for label in classes
        for path in sorted(label.iterdir())
        if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES
    ]
    return labels, sources
