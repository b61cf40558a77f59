"""The Teach tab through its API, as strangers use it: train, try, download; a second client sees nothing of the
first one's; a session's files are gone after the idle timeout."""

import json
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import demo_support as support
import numpy as np
import pytest
from gradio import utils as gradio_utils
from gradio_client import Client, handle_file

from demo import teach_sessions
from toolkit.core.preprocessing import photo_model_input
from toolkit.serving.onnx_sessions import onnx_session
from toolkit.serving.photo_input import open_photo

IDLE = 8  # seconds: long enough for a test to train and try, short enough to wait for


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, feature_base, teach_export):
    patch = pytest.MonkeyPatch()
    patch.setattr(teach_sessions, "IDLE_SECONDS", IDLE)  # the idle deletion, in test time
    patch.setattr(teach_sessions, "SWEEP_SECONDS", 1)
    with support.served_app(teach_export, tmp_path_factory.mktemp("scratch")) as url:
        yield url
    patch.undo()


def train(client, photo_folder):
    pairs = []
    for number in range(5):
        kind = ("discs", "stripes")[number] if number < 2 else ""
        files = [handle_file(str(p)) for p in sorted((photo_folder / kind).glob("*.png"))] if kind else []
        pairs += [kind, files]
    return client.predict(False, None, *pairs, api_name="/teach_train")


def own_photos(photo_folder, folder: Path, tag: str) -> Path:
    """The drawn photos under names of this test's own, so their uploaded copies on the server are found by name."""
    for kind in ("discs", "stripes"):
        (folder / kind).mkdir(parents=True)
        for path in (photo_folder / kind).glob("*.png"):
            shutil.copy(path, folder / kind / f"{tag}-{path.name}")
    shutil.copy(photo_folder / "discs" / "discs1.png", folder / f"{tag}-try.png")
    return folder


def served_copies(tag: str) -> list[Path]:
    return sorted(Path(gradio_utils.get_upload_folder()).glob(f"*/{tag}-*"))


def file_url(app_url: str, file) -> str:
    return file["url"] if isinstance(file, dict) else file.url


def fetch(url: str) -> int:
    """The HTTP status of a GET (a second client that knows the URL)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def trained_with_urls(app_url, photo_folder, tag, tmp_path):
    """A first client trains and tries on photos named with `tag`: (client, the URLs of everything it was served,
    its uploaded photos' URLs)."""
    first = Client(app_url, verbose=False, download_files=False)
    folder = own_photos(photo_folder, tmp_path / tag, tag)
    outputs = train(first, folder)
    _, _, why = first.predict(handle_file(str(folder / f"{tag}-try.png")), 0.5, api_name="/teach_try")
    served = [file_url(app_url, f) for f in (outputs[4], outputs[5], why)]
    uploads = [f"{app_url.rstrip('/')}/gradio_api/file={path}" for path in served_copies(tag)]
    assert len(uploads) == 13  # 12 training photos and the one tried
    assert all(fetch(url) == 200 for url in served + uploads[:2])  # the URLs are real while the page is open
    return first, served + uploads


def gone(urls, tag: str) -> bool:
    return not served_copies(tag) and all(fetch(url) != 200 for url in urls)


def wait_until(condition, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def test_train_try_and_download_give_the_same_probabilities(app_url, photo_folder, tmp_path):
    client = Client(app_url, verbose=False)
    summary, confusion, wrong, threshold, download, project = train(client, photo_folder)
    assert "Held-out accuracy" in summary and "discs" in confusion
    photo = photo_folder / "stripes" / "stripes2.png"
    probabilities, answer, _ = client.predict(handle_file(str(photo)), 0.5, api_name="/teach_try")
    tab = {c["label"]: c["confidence"] for c in probabilities["confidences"]}
    with zipfile.ZipFile(download) as archive:
        model = archive.read("taught/model.onnx")
        steps = json.loads(archive.read("metadata.json"))["preprocessing"]["manifest_record"]
    image = photo_model_input(open_photo(photo)[0], steps)  # as the download's metadata.json says
    fresh = onnx_session(model).run(None, {"image": image[None].astype(np.float32)})[0][0]
    assert max(abs(tab[label] - p) for label, p in zip(("discs", "stripes"), fresh)) <= 1e-5
    assert "stripes" in answer


def test_a_second_client_cannot_use_the_first_ones_model(app_url, photo_folder):
    first = Client(app_url, verbose=False)
    train(first, photo_folder)
    second = Client(app_url, verbose=False)
    photo = handle_file(str(photo_folder / "discs" / "discs2.png"))
    with pytest.raises(Exception, match="train a model first"):
        second.predict(photo, 0.5, api_name="/teach_try")


def test_a_second_client_cannot_fetch_or_use_the_first_ones_files_once_its_page_is_closed(
    app_url, photo_folder, tmp_path
):
    first, urls = trained_with_urls(app_url, photo_folder, "closed", tmp_path)
    first.close()  # the page's heartbeat stops: gradio's unload event ends the session
    assert wait_until(lambda: gone(urls, "closed"), 30)
    second = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="train a model first"):
        second.predict(handle_file(str(photo_folder / "discs" / "discs2.png")), 0.5, api_name="/teach_try")


def test_a_sessions_files_go_after_the_idle_timeout(app_url, photo_folder, tmp_path):
    first, urls = trained_with_urls(app_url, photo_folder, "idle", tmp_path)  # its page stays open
    started = time.time()
    assert wait_until(lambda: gone(urls, "idle"), IDLE + 10)
    assert time.time() - started >= IDLE - 2  # not before the timeout
    with pytest.raises(Exception, match="train a model first"):
        first.predict(handle_file(str(photo_folder / "discs" / "discs2.png")), 0.5, api_name="/teach_try")
    first.close()
