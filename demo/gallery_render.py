"""The gradient-ascent gallery rendered in the background while the demo serves.

The demo never imports TensorFlow to start or classify, so the render runs in a subprocess
(`python -m toolkit visualize all --progressive`), at low priority with TensorFlow's thread pools
kept small: it writes image by image and rewrites the gallery index after each, which the
"What the networks learned" tab re-reads. The demo stops it when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from toolkit.core.names import GALLERY_FOLDER, GALLERY_INDEX

STOP_GRACE_SECONDS = 5.0
RENDER_NICENESS = 10  # classification comes first on a 2-core machine


def gallery_is_complete(exported: Path) -> bool:
    """True when exported/gallery/index.json lists every image (an older bare-list index counts as complete)."""
    try:
        index = json.loads((Path(exported) / GALLERY_FOLDER / GALLERY_INDEX).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(index, list) or (isinstance(index, dict) and bool(index.get("complete")))


def render_command(exported: Path) -> list[str]:
    """`convlens visualize all --progressive` into the export's gallery folder."""
    folder = Path(exported) / GALLERY_FOLDER
    # the demo shows the images, not the fair robustness record: `make visualize` writes that
    return [
        sys.executable,
        "-m",
        "toolkit",
        "visualize",
        "all",
        "--progressive",
        "--skip-robustness",
        "--out",
        str(folder),
    ]


def _lower_priority() -> None:
    os.nice(RENDER_NICENESS)


class BackgroundRender:
    """The gallery render subprocess: started only when the gallery is missing or unfinished, stopped on exit."""

    def __init__(self, exported: Path, command: list[str] | None = None, log: Path | None = None) -> None:
        self.exported = Path(exported)
        self.command = command or render_command(self.exported)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def start_if_needed(self) -> bool:
        """Start the render unless the gallery is complete or it already runs; True when one was started."""
        if self.process is not None or gallery_is_complete(self.exported):
            return False
        cores = str(max(1, (os.cpu_count() or 2) // 2))
        env = {
            **os.environ,
            "TF_NUM_INTRAOP_THREADS": cores,
            "TF_NUM_INTEROP_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        if self.log:
            self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log or os.devnull, "ab") as output:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                self.command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                preexec_fn=_lower_priority,
            )
        return True

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def failed(self) -> bool:
        """True when the render ended with an error (not when it was stopped by `stop`)."""
        return self.process is not None and self.process.poll() not in (None, 0) and not self._stopped

    def stop(self) -> None:
        """Terminate the render (then kill it after a grace period); safe to call twice."""
        if not self.running():
            return
        assert self.process is not None
        self._stopped = True
        self.process.terminate()
        try:
            self.process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
