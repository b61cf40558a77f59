"""sha256 and sizes of exported files and folders, and the check of an export's files against its manifest.

No TensorFlow here: the asset cache, the export and the demo all hash the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative paths and their hashes, sorted)."""
    path = Path(path)
    if path.is_dir():
        lines = [f"{p.relative_to(path).as_posix()} {sha256_path(p)}" for p in sorted(path.rglob("*")) if p.is_file()]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Bytes of a file, or of all files in a folder."""
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def verify_files(root: Path, manifest: dict, names: list[str] | None = None) -> list[str]:
    """Problems with the exported files (missing, or sha256 not as recorded); empty when all is well."""
    root = Path(root)
    problems = []
    for name, model in manifest["models"].items():
        if names is not None and name not in names:
            continue
        for kind, entry in model["files"].items():
            path = root / entry["path"]
            if not path.exists():
                problems.append(f"{name}: {kind} file {path} is missing")
            elif sha256_path(path) != entry["sha256"]:
                problems.append(
                    f"{name}: {kind} file {path} does not match its sha256 in the manifest (changed or corrupt)"
                )
    return problems
