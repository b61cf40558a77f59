"""`exported/manifest.json`: the single source of truth the demo reads (no TensorFlow here).

Layout (format 1):
{
  "format": 1, "created": ISO time, "versions": {"tensorflow": ..., "onnxruntime": ...},
  "models": {
    "<name>": {
      "task": "binary" | "multiclass",
      "labels": [...],                      # binary: [negative, positive]; output is p(positive)
      "input": {"name": "image", "shape": [null, H, W, C], "dtype": "float32", "range": [0, 255],
                "layout": "NHWC"},
      "output": {"name": ..., "activation": "sigmoid" | "softmax"},
      "preprocessing": {"kind": "photo", "crop": "center_square", "resize_steps": [[h, w, method], ...]}
                     | {"kind": "mnist_like", "size": [28, 28]} | {"kind": "resize", "resize_steps": [...]},
      "files": {"onnx": {"path": "<name>/model.onnx", "sha256": ..., "bytes": ...},
                "onnx_int8": {...}, "saved_model": {"path": "<name>/saved_model", "sha256": ..., "bytes": ...},
                "model_card": {"path": "<name>/README.md", ...}},
      "metrics": {...}, "parity": {...}, "quantization": {"recommended": bool, ...}, "source": ...,
      "model_version": int,                 # this model's how-manyeth export into this folder; also the ONNX
                                            # files' model_version (1, 2, ...)
      "about": {"description", "license", "datasets", "data", "limitations", "command"}  # the model card's words
    }
  }
}
A folder's sha256 is that of the sorted list of (relative path, file sha256) lines.
"""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import sha256_path, size_of, verify_files
from toolkit.core.names import MANIFEST_NAME

__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "REQUIRED_MODEL_KEYS",
    "file_entry",
    "load_verified_manifest",
    "read_manifest",
    "sha256_path",
    "size_of",
    "verify_files",
    "write_manifest",
]

FORMAT = 1
REQUIRED_MODEL_KEYS = ("task", "labels", "input", "output", "preprocessing", "files")


def file_entry(root: Path, relative: str) -> dict:
    """The manifest entry of one exported file or folder."""
    return {"path": relative, "sha256": sha256_path(root / relative), "bytes": size_of(root / relative)}


def read_manifest(root: Path) -> dict:
    """The manifest of an export folder, with its structure checked; a clear error otherwise."""
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        raise ConvlensError(f'no export found: {path} is missing. Run "make export" (convlens export) first.')
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConvlensError(f'{path} is not valid JSON ({error}): run "make export" again.') from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("models"), dict)
    ):
        raise ConvlensError(f'{path} is not a convlens manifest of format {FORMAT}: run "make export" again.')
    for name, model in manifest["models"].items():
        missing = [key for key in REQUIRED_MODEL_KEYS if key not in model]
        if missing:
            raise ConvlensError(f'{path}: model {name!r} lacks {missing}: run "make export" again.')
    return manifest


def load_verified_manifest(root: Path, names: list[str] | None = None) -> dict:
    """The manifest, after checking every file it names; raises with each problem named."""
    manifest = read_manifest(root)
    problems = verify_files(root, manifest, names)
    if problems:
        raise ConvlensError(
            "the export is incomplete or was changed:\n  - "
            + "\n  - ".join(problems)
            + '\nRun "make export" to rebuild it.'
        )
    return manifest


def write_manifest(root: Path, manifest: dict) -> None:
    """Write the manifest (the caller makes the whole export folder appear atomically)."""
    (Path(root) / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
