"""Export trained Keras models to SavedModel, ONNX fp32 and int8 ONNX, with measured parity.

An export is not done until it is proven faithful (toolkit.export.model_export): each model's TF outputs
are compared with onnxruntime's on real held-out images, the test accuracy of every variant is
measured, and all of it goes into `exported/manifest.json` with the files' sha256. The new export
is staged in a temporary folder and swapped in only when every model has passed, so a failure
halfway leaves the previous export serving. The example photos and ImageNet's class names the
demo offers are staged with it (toolkit.export.examples).

The conversions themselves are in toolkit.export.conversions; the export folder (model names, the
lock, the swap and its recovery) in toolkit.core.folders.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

from toolkit.core import folders as export_folder
from toolkit.core.errors import ConvlensError
from toolkit.core.names import MANIFEST_NAME, MODEL_CARD_FILE
from toolkit.core.paths import exported_dir
from toolkit.export.examples import stage_demo_files
from toolkit.export.model_card import model_card
from toolkit.export.model_export import ExportSpec, export_one
from toolkit.serving.contract import FileRef, Manifest, read_manifest, write_manifest


def library_versions() -> dict[str, str]:
    """Versions of the libraries an export depends on."""
    from importlib.metadata import version

    return {name: version(name) for name in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")}


def export_models(specs: list[ExportSpec], out: Path | None = None, log=print) -> Manifest:
    """Export the given models into `out` (default exported/), keeping other models already there.

    Everything is staged in a temporary folder inside `out`; the old model folders are swapped
    out only after every model passed its parity check (see toolkit.core.folders), and only one
    export runs in a folder at a time.
    """
    for spec in specs:
        export_folder.check_model_name(spec.name)
    out = Path(out or exported_dir())
    out.mkdir(parents=True, exist_ok=True)
    with export_folder.export_lock(out):
        try:
            previous = read_manifest(out) if (out / MANIFEST_NAME).exists() else None
        except ConvlensError as error:  # a damaged manifest is what a new export repairs
            log(f"The previous manifest is unreadable and will be replaced ({error})")
            previous = None
        export_folder.recover_interrupted_swap(out, previous.to_dict() if previous else None, log)
        staging = export_folder.new_staging(out)
        try:
            entries = {}
            for spec in specs:
                # model_version counts this model's exports into this folder (1, 2, ...)
                earlier = previous.models.get(spec.name) if previous else None
                version = (earlier.model_version if earlier else 0) + 1
                entries[spec.name] = export_one(spec, staging / spec.name, log, model_version=version)
            created, versions = datetime.datetime.now(datetime.UTC).isoformat(), library_versions()
            for name, entry in entries.items():  # the card is staged with the model files and hashed like them
                (staging / name / MODEL_CARD_FILE).write_text(model_card(name, entry.to_dict(), versions, created))
                entry.files["model_card"] = FileRef.of(staging, f"{name}/{MODEL_CARD_FILE}")
            models = dict(previous.models) if previous else {}
            models.update(entries)
            manifest = Manifest(models, created, versions)
            write_manifest(staging, manifest)
            demo_files = stage_demo_files(staging, log)
            export_folder.swap_in(staging, out, list(entries) + demo_files)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return manifest
