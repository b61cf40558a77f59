"""Where a training run is written: `runs/<experiment>/` (config, history, metrics and curves)."""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.core.names import RUN_FOLDER
from toolkit.core.paths import runs_dir


def run_folder(experiment: str, out: str | os.PathLike | None = None) -> Path:
    """The folder of a run (`runs/<folder of the experiment>` unless `out` names another), created."""
    folder = Path(out) if out else runs_dir() / RUN_FOLDER.get(experiment, experiment)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
