"""JSON written atomically, dataclasses and numpy values included (runs, gallery index, bench results)."""

from __future__ import annotations

import dataclasses
import json
import os

from toolkit.core.atomic_files import write_atomically


def _jsonable(value) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # an instance, not the class
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()  # numpy scalars
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def write_json(path: str | os.PathLike, value) -> None:
    """Write JSON atomically (dataclasses and numpy values included)."""
    write_atomically(path, (json.dumps(_jsonable(value), indent=2) + "\n").encode())
