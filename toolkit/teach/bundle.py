"""The download: an export folder like `exported/` holding one model (the joined ONNX file, its model card and
manifest entry), with labels.txt, metadata.json and a ten-line snippet that reproduces the scores, zipped.
`convlens demo --model` and `load_taught` open it back through the serving layer's verified loader."""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime

from toolkit.core.errors import ConvlensError
from toolkit.core.names import MANIFEST_NAME, MODEL_CARD_FILE, ONNX_FILE, ONNX_INPUT_NAME
from toolkit.serving.contract import FileRef, InputSpec, Manifest, ManifestEntry, write_manifest
from toolkit.serving.export_loader import ExportedModel, load_export
from toolkit.teach.taught_model import OUTPUT, Answer, TaughtModel, answer_photo

LABELS_FILE = "labels.txt"
METADATA_FILE = "metadata.json"
SNIPPET_FILE = "predict.py"
MAX_BUNDLE_BYTES = 64 * 2**20  # a zip to open; the joined model is about 13 MB
MAX_BUNDLE_MEMBERS = 16

# Ten lines, run from the unzipped folder: the same decoding, crop, resize and model as the tab.
SNIPPET = """import json, sys, numpy as np, onnxruntime as ort
from PIL import Image, ImageOps
meta = json.load(open("metadata.json")); size = (meta["input"]["shape"][2], meta["input"]["shape"][1])
img = Image.open(sys.argv[1]); img.draft("RGB", (512, 512))  # JPEGs: decoded as the tab does
img = ImageOps.exif_transpose(img).convert("RGB"); side = min(img.size)
left, top = (img.width - side) // 2, (img.height - side) // 2
img = img.crop((left, top, left + side, top + side)).resize(size, Image.Resampling.BILINEAR)
x = np.asarray(img, np.float32)[None]  # NHWC, pixels 0..255: normalisation is inside the model
p = ort.InferenceSession("{model}").run(None, {{"image": x}})[0][0]
print(json.dumps(dict(zip(meta["labels"], p.tolist()))))
"""


def model_card(model: TaughtModel, command: str) -> str:
    """The model card (Hugging Face format): what it is, the held-out figures, preprocessing, limits."""
    cv = model.validation
    confusion = "\n".join(
        f"| {model.labels[i]} | " + " | ".join(str(n) for n in row) + " |" for i, row in enumerate(cv.confusion)
    )
    return f"""---
pipeline_tag: image-classification
library_name: onnx
tags: [convlens, transfer-learning, mobilenet, onnx]
labels: {json.dumps(list(model.labels))}
model-index:
- name: {model.name}
  results:
  - task: {{type: image-classification}}
    dataset: {{name: the photos it was taught on, type: own}}
    metrics:
    - {{type: accuracy, value: {cv.accuracy:.4f}, name: {cv.folds}-fold cross-validated accuracy (held-out photos)}}
---
# {model.name}: {", ".join(model.labels)}

Taught by `convlens` on {len(model.photo_names)} photos: the exported ImageNet MobileNet v1 (224 px, sha256
`{model.base.base_sha256[:16]}`) gives each photo's pooled 1024-d features, and a softmax regression head trained
in numpy on them (with each photo's mirror image and a closer crop) answers. Both are one ONNX graph, `model.onnx`.

- **Input** `{ONNX_INPUT_NAME}`: float32 NHWC [batch, 224, 224, 3], RGB pixels 0..255; normalisation is inside.
- **Output** `{OUTPUT}`: softmax over {", ".join(model.labels)} (in that order).
- **Preprocessing**: centre square, bilinear resize to 224 x 224 (`metadata.json` spells out every step;
  `predict.py` does them).
- **Held-out accuracy**: {cv.accuracy:.1%} by {cv.folds}-fold cross-validation over the photos (folds by photo),
  L2 strength {cv.l2:g} chosen by held-out log loss.
- **Unknown**: below a top probability of {cv.threshold:.3f} the answer is "unknown" (the highest threshold that
  keeps 95% of correctly classified held-out photos answered; {cv.unknown_share:.0%} of held-out photos fall
  below it){f'; the class {model.settings.background!r} also means "unknown"' if model.settings.background else ""}.

Confusion (rows: true class, columns: held-out answer):

| | {" | ".join(model.labels)} |
|---|{"---|" * len(model.labels)}
{confusion}

**Limitations.** Held-out accuracy is measured on the photos given, by cross-validation: photos unlike them (other
light, other backgrounds, other subjects) may score far lower. With a few photos per class, one mistake moves the
figure by several points. The "unknown" threshold was set without photos of other things, so it is a guess at how
unsure is too unsure, not a guarantee.

Made with `{command}` on {datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}.
"""


def write_bundle(model: TaughtModel, folder: Path, command: str = "convlens teach (or the demo's Teach tab)") -> Path:
    """Write the taught model as an export folder (manifest.json, <name>/model.onnx, <name>/README.md,
    labels.txt, metadata.json, predict.py); returns the folder."""
    folder = Path(folder)
    (folder / model.name).mkdir(parents=True, exist_ok=True)
    onnx_path = f"{model.name}/{ONNX_FILE}"
    card_path = f"{model.name}/{MODEL_CARD_FILE}"
    (folder / onnx_path).write_bytes(model.onnx_bytes)
    (folder / card_path).write_text(model_card(model, command))
    (folder / LABELS_FILE).write_text("\n".join(model.labels) + "\n")
    metadata = model.metadata()
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    (folder / SNIPPET_FILE).write_text(SNIPPET.format(model=onnx_path))
    side = metadata["input"]["shape"][1]
    entry = ManifestEntry(
        task="multiclass",
        labels=model.labels,
        input=InputSpec(ONNX_INPUT_NAME, (None, side, side, 3)),
        output_name=OUTPUT,
        preprocessing=model.base.preprocessing,
        files={"onnx": FileRef.of(folder, onnx_path), "model_card": FileRef.of(folder, card_path)},
        metrics={
            "cross_validated_accuracy": model.validation.accuracy,
            "n_photos": len(model.photo_names),
            "cross_validation": model.validation.to_dict(),
        },
        source="convlens teach: the exported ImageNet MobileNet's pooled features and a numpy softmax head",
        about={"command": command},
        extra={"teach": {k: metadata[k] for k in ("unknown", "settings", "base")}},
    )
    versions = {"onnx": _version("onnx"), "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}
    write_manifest(folder, Manifest({model.name: entry}, datetime.datetime.now(datetime.UTC).isoformat(), versions))
    return folder


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def write_bundle_zip(model: TaughtModel, path: Path, command: str = "convlens teach (or the demo's Teach tab)") -> Path:
    """The bundle as one zip at `path` (written beside it, then renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging:
        folder = write_bundle(model, Path(staging) / "bundle", command)
        partial = Path(staging) / "bundle.zip"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                archive.write(file, file.relative_to(folder).as_posix())
        partial.replace(path)
    return path


def unpack_bundle(path: Path, folder: Path) -> Path:
    """A downloaded bundle zip, bounded and checked member by member, unpacked into `folder`."""
    path, folder = Path(path), Path(folder)
    if path.is_dir():
        return path
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_BUNDLE_MEMBERS or sum(m.file_size for m in members) > MAX_BUNDLE_BYTES:
                raise ConvlensError(f"{path} is larger than a taught model's zip: give the zip convlens made.")
            for member in members:
                target = (folder / member.filename).resolve()
                if not target.is_relative_to(folder.resolve()) or member.is_dir():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
    except zipfile.BadZipFile:
        raise ConvlensError(f"{path} is not a zip: give the zip `convlens teach` or the Teach tab made.") from None
    return folder


def load_taught(path: Path, scratch: Path | None = None) -> ExportedModel:
    """A taught model's zip (or its unzipped folder), verified through its manifest and opened."""
    path = Path(path)
    if not path.exists():
        raise ConvlensError(f"{path} does not exist: give the zip (or folder) that `convlens teach --out` wrote.")
    folder = (
        path if path.is_dir() else unpack_bundle(path, Path(scratch or tempfile.mkdtemp(prefix="convlens-taught-")))
    )
    export = load_export(folder, ())
    if len(export.manifest.models) != 1:
        raise ConvlensError(
            f"{folder / MANIFEST_NAME} holds {len(export.manifest.models)} models, not one taught model."
        )
    name = next(iter(export.manifest.models))
    return load_export(folder, (name,)).model(name)


class ServedTaught:
    """A downloaded taught model opened for answers (`convlens demo --model`): the tab's `answer`, from its file."""

    def __init__(self, model: ExportedModel) -> None:
        self.model = model
        unknown = model.entry.extra.get("teach", {}).get("unknown", {})
        self.threshold = float(unknown.get("threshold", 0.0))
        self.background = unknown.get("background_class")
        self.labels = tuple(model.labels)

    def answer(self, picture, threshold: float | None = None) -> Answer:
        limit = self.threshold if threshold is None else threshold
        return answer_photo(self.model.predict, self.labels, self.model.preprocessing, picture, limit, self.background)


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
