"""Every path convlens reads or writes, decided in one place."""

import os
from pathlib import Path

from toolkit.core import names

REPO_ROOT = Path(__file__).resolve().parents[2]


def convlens_home() -> Path:
    """The asset cache: `$CONVLENS_HOME`, default `~/.cache/convlens`."""
    return Path(os.environ.get("CONVLENS_HOME", Path.home() / ".cache" / "convlens")).expanduser()


def downloads_dir() -> Path:
    """Where the package archives are kept, as the registries served them."""
    return convlens_home() / "downloads"


def runs_dir() -> Path:
    """Training runs: `$CONVLENS_RUNS`, default `runs/` in the repository."""
    return Path(os.environ.get("CONVLENS_RUNS", REPO_ROOT / "runs"))


def exported_dir() -> Path:
    """What `make export` writes and the demo serves: `$CONVLENS_EXPORTED`, default `exported/`."""
    return Path(os.environ.get("CONVLENS_EXPORTED", REPO_ROOT / "exported"))


def photos_dir() -> Path:
    """The real-photo evaluation set, extracted: `<asset cache>/photos`."""
    return convlens_home() / names.PHOTOS
