"""`convlens verify`: an export checked against its manifest (hashes), and each ONNX file run once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.core.paths import exported_dir
from toolkit.serving.contract import read_manifest
from toolkit.serving.onnx_sessions import onnx_outputs, onnx_session


def verify_export(out: Path | None = None) -> list[str]:
    """Problems with an export: files missing or changed, or an ONNX file that does not run."""
    out = Path(out or exported_dir())
    manifest = read_manifest(out)
    problems = manifest.problems(out)
    bad = {p.split(":")[0] for p in problems}
    for name, entry in manifest.models.items():
        if name in bad:
            continue
        shape = [2, *entry.input.image_shape]
        sample = np.random.default_rng(0).uniform(0, 255, size=shape).astype(np.float32)
        for kind in ("onnx", "onnx_int8"):
            try:
                outputs = onnx_outputs(onnx_session(out / entry.files[kind].path), sample)
            except Exception as error:
                problems.append(f"{name}: {kind} file does not run in onnxruntime ({error})")
                continue
            if not np.isfinite(outputs).all():
                problems.append(f"{name}: {kind} gives non-finite outputs")
    return problems
