"""Shared fixtures. The real asset cache is filled by `make setup` before the tests run."""

import os
import shutil
from pathlib import Path

import demo_support as support
import pytest

from toolkit.core.chromium import CHROMIUM, CHROMIUM_ARGS
from toolkit.core.paths import convlens_home
from toolkit.data import assets
from toolkit.data.datasets import load_mnist
from toolkit.serving.export_loader import load_served_export

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


@pytest.fixture(scope="session")
def small_export(tmp_path_factory, real_home) -> Path:
    """A real export folder (manifest + catsdogs and digits, ONNX fp32 + int8 + SavedModel).

    Models are small but real: the digits CNN is trained on all of MNIST for one epoch, the
    cats-vs-dogs head on a frozen ImageNet MobileNet at 64x64. Built once per test session.
    """
    from small_models import build_small_export

    return build_small_export(tmp_path_factory.mktemp("exported"))


@pytest.fixture(scope="session")
def mnist_test(real_home):
    return load_mnist()[1]


@pytest.fixture(scope="session")
def fake_export(tmp_path_factory, mnist_test) -> Path:
    """The hand-made export of demo_support: red means dog, blue cat, green an elephant; mean-digit digits."""
    return support.build_fake_export(tmp_path_factory.mktemp("export"), mnist_test)


@pytest.fixture(scope="module")
def models(fake_export):
    return load_served_export(fake_export)


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium under Playwright; a missing browser fails in CI and skips elsewhere."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
