"""What both experiments do the same way: a model saved so a crash never leaves half a file, and the
output sink (`log=`, default print) every training function takes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

Log = Callable[[str], None]


def save_model_atomically(model, path: Path) -> None:
    """Save a Keras model beside `path`, then rename it into place: `path` is the old file or the whole new one."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)
