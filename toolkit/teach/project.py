"""The project file: labels, settings and each photo's cached features, zipped, so a user reopens it, adds
photos and retrains without featurising the old ones again. Read back without pickle and bounded in size."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.teach.features import VIEWS
from toolkit.teach.taught_model import TeachSettings
from toolkit.teach.training import TrainingPhoto, check_labels

PROJECT_FORMAT = 1
PROJECT_JSON = "project.json"
FEATURES_NPY = "features.npy"
MAX_PROJECT_BYTES = 256 * 2**20  # 5 classes x 1000 photos x 3 views x 1024 floats is 61 MB


def write_project(
    path: Path, labels: tuple[str, ...], settings: TeachSettings, photos: list[TrainingPhoto], base_sha256: str
) -> Path:
    """Write the project zip to `path`."""
    record = {
        "format": PROJECT_FORMAT,
        "labels": list(labels),
        "settings": settings.to_dict(),
        "base_sha256": base_sha256,
        "photos": [{"name": p.name, "label": p.label, "sha256": p.sha256} for p in photos],
    }
    features = np.stack([p.features for p in photos]).astype(np.float32) if photos else np.zeros((0, 0, 0), np.float32)
    buffer = io.BytesIO()
    np.save(buffer, features, allow_pickle=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_JSON, json.dumps(record, indent=1))
        archive.writestr(FEATURES_NPY, buffer.getvalue())
    return Path(path)


def read_project(path: Path, base_sha256: str) -> tuple[tuple[str, ...], TeachSettings, list[TrainingPhoto]]:
    """(labels, settings, photos) of a project zip made on the same base model; a clear error otherwise."""
    unusable = f"{Path(path).name} is not a convlens teach project"
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            if set(sizes) != {PROJECT_JSON, FEATURES_NPY} or sum(sizes.values()) > MAX_PROJECT_BYTES:
                raise ConvlensError(f"{unusable}: download the project file again from the Teach tab.")
            record = json.loads(archive.read(PROJECT_JSON))
            features = np.load(io.BytesIO(archive.read(FEATURES_NPY)), allow_pickle=False)
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, ValueError, KeyError):
        raise ConvlensError(f"{unusable} (or is damaged): download the project file again.") from None
    if not isinstance(record, dict) or record.get("format") != PROJECT_FORMAT:
        raise ConvlensError(f"{unusable} of format {PROJECT_FORMAT}.")
    if record.get("base_sha256") != base_sha256:
        raise ConvlensError(
            f"{Path(path).name} was made on another ImageNet export: its features do not fit this one; "
            f"start a new project from the photos."
        )
    try:
        labels = check_labels(record["labels"])
        settings = TeachSettings.from_dict(record["settings"])
        listed = record["photos"]
        if features.dtype != np.float32 or features.shape[:2] != (len(listed), len(VIEWS)):
            raise ValueError("features do not match the photo list")
        photos = [
            TrainingPhoto(str(p["name"])[:120], str(p["label"]), str(p["sha256"]), features[i])
            for i, p in enumerate(listed)
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise ConvlensError(f"{unusable} ({error}).") from None
    return labels, settings, [p for p in photos if p.label in labels]
