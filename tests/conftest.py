"""Shared fixtures. The real asset cache is filled by `make setup` before the tests run."""

import shutil
from pathlib import Path

import pytest

from toolkit import assets
from toolkit.paths import convlens_home

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def real_home() -> Path:
    """The filled asset cache; fails with the fix when it is not there."""
    home = convlens_home()
    missing = [name for a in assets.ASSETS for name in a.outputs if not (home / name).exists()]
    if missing:
        pytest.fail(f"asset cache {home} lacks {missing}: run `make setup` (convlens assets) first")
    return home


@pytest.fixture
def scratch_home(tmp_path, monkeypatch, real_home) -> Path:
    """An empty CONVLENS_HOME of the test's own, with the small ImageNet-classes archive copied in."""
    home = tmp_path / "home"
    (home / "downloads").mkdir(parents=True)
    archive = assets.TFJS_MOBILENET.filename
    shutil.copy(real_home / "downloads" / archive, home / "downloads" / archive)
    monkeypatch.setenv("CONVLENS_HOME", str(home))
    assets._verified.clear()
    yield home
    assets._verified.clear()
