"""The Teach tab in a real browser (Debian's chromium driven by Playwright): name two classes, upload their photos,
train, try a photo, download; the downloaded ONNX file in a fresh onnxruntime session gives the probabilities the
tab's model answered the page with, to 1e-5.

With CI=true a missing chromium fails these tests (`make browser` installs it); elsewhere they skip.
"""

import json
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import demo_support as support
import numpy as np
import pytest

from toolkit.core.preprocessing import photo_model_input
from toolkit.serving.onnx_sessions import onnx_session
from toolkit.serving.photo_input import open_photo
from toolkit.teach.taught_model import TaughtModel

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
ARTIFACTS = Path(__file__).parent.parent / "artifacts"


@pytest.fixture(scope="module")
def served(feature_base, tmp_path_factory, teach_export):
    with support.served_app(teach_export, tmp_path_factory.mktemp("teach_browser")) as url:
        yield url


@pytest.fixture
def answers(monkeypatch) -> list:
    """Every answer the tab's taught model gives while the test runs (the probabilities the page is sent)."""
    given: list = []
    answer = TaughtModel.answer

    def recording(self, picture, threshold=None):
        given.append(answer(self, picture, threshold))
        return given[-1]

    monkeypatch.setattr(TaughtModel, "answer", recording)
    return given


def test_two_classes_upload_train_try_and_download_give_the_tabs_probabilities(
    chromium, served, photo_folder, tmp_path, answers
):
    context = chromium.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if urlparse(r.url).hostname not in (None, "", "127.0.0.1") else None,
    )
    page.goto(served)
    page.get_by_role("tab", name="Teach").click()
    for number, kind in enumerate(("discs", "stripes")):
        page.locator(f"#teach-name-{number} textarea, #teach-name-{number} input").first.fill(kind)
        photos = sorted(str(p) for p in (photo_folder / kind).glob("*.png"))
        page.set_input_files(f"#teach-files-{number} input[type=file]", photos)
        page.wait_for_function(
            f"() => document.querySelectorAll('#teach-files-{number} tbody tr, #teach-files-{number} .file').length"
            f" >= {len(photos)}"
        )
    page.click("#teach-train")
    page.wait_for_function("() => /Held-out accuracy/.test(document.querySelector('#teach-summary').innerText)")
    assert "discs" in page.locator("#teach-confusion").inner_text()

    photo = photo_folder / "stripes" / "stripes2.png"
    page.set_input_files("#teach-photo input[type=file]", str(photo))
    page.wait_for_function("() => /stripes|discs|unknown/.test(document.querySelector('#teach-answer').innerText)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "teach_tab.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#teach-download a").first.click()
    zip_path = tmp_path / "taught.zip"
    download.value.save_as(zip_path)
    shown = page.locator("#teach-answer").inner_text()
    context.close()
    assert len(answers) == 1 and answers[0].top in shown  # the page shows the answer the tab's model gave
    tab = answers[0].probabilities
    with zipfile.ZipFile(zip_path) as archive:
        model = archive.read("taught/model.onnx")
        preprocessing = json.loads(archive.read("metadata.json"))["preprocessing"]["manifest_record"]
    image = photo_model_input(open_photo(photo)[0], preprocessing)[None].astype(np.float32)
    fresh = onnx_session(model).run(None, {"image": image})[0][0]
    assert max(abs(tab[label] - float(p)) for label, p in zip(("discs", "stripes"), fresh)) <= 1e-5
    assert outside == [], f"the page reached outside localhost: {outside[:5]}"
