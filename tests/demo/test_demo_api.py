"""The demo served for real and driven with gradio_client: every endpoint, good and bad inputs,
the upload bound, and the `convlens demo` command's refusals and safe defaults."""

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import demo_support as support
import httpx
import numpy as np
import psutil
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from demo.sketches import sketch_to_digit
from toolkit.core.errors import ConvlensError
from toolkit.core.paths import REPO_ROOT
from toolkit.data.datasets import load_cats_dogs
from toolkit.serving import photo_pipeline as logic
from toolkit.serving.export_loader import load_served_export


@pytest.fixture(scope="module")
def served(small_export, tmp_path_factory):
    """The app on a free local port, serving the small real export; closed after the module."""
    with support.served_app(small_export, tmp_path_factory.mktemp("demo")) as url:
        yield url


@pytest.fixture(scope="module")
def client(served):
    return Client(served, verbose=False)


@pytest.fixture(scope="module")
def models(small_export):
    return load_served_export(small_export)


def _label(result) -> tuple[str, dict[str, float]]:
    """gr.Label's API value as (top label, {label: confidence})."""
    return result["label"], {entry["label"]: entry["confidence"] for entry in result["confidences"]}


def _sketch(tmp_path: Path, array: np.ndarray, name: str) -> dict:
    path = tmp_path / f"{name}.png"
    Image.fromarray(array).save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def test_a_photo_is_classified_as_the_model_does_it_directly(client, models, tmp_path):
    """Test cats and dogs through the server give the same answers as the ONNX model called directly."""
    _, test = load_cats_dogs()
    for index in (0, 1, 200, 201):
        path = tmp_path / f"test_{index}.png"
        Image.fromarray(test.x[index]).save(path)
        label_value, seen_path, summary, *_ = client.predict(handle_file(str(path)), "fp32", api_name="/classify_photo")
        label, confidences = _label(label_value)
        direct = logic.classify_photo(models, path)
        assert label == direct.label and confidences == pytest.approx(direct.probabilities, abs=1e-5)
        assert np.array_equal(np.asarray(Image.open(seen_path).convert("RGB")), direct.model_input)  # lossless
        assert label in summary


def test_the_example_photo_of_chelsea_is_served_and_classified(client, models):
    label_value, seen_path, *_ = client.predict(
        handle_file(str(support.chelsea_path())), "fp32", api_name="/classify_photo"
    )
    label, confidences = _label(label_value)
    assert label in ("cat", "dog") and sum(confidences.values()) == pytest.approx(1, abs=1e-5)
    height, width, _ = models.catsdogs.input_shape
    assert Image.open(seen_path).size == (width, height)


@pytest.mark.parametrize("digit", ["1", "7"])
def test_a_drawn_digit_is_read(client, tmp_path, digit):
    label_value, seen_path, summary = client.predict(
        _sketch(tmp_path, support.drawn_digit(digit), digit), "fp32", api_name="/classify_sketch"
    )
    label, confidences = _label(label_value)
    assert label == digit and len(confidences) == 3
    seen = np.asarray(Image.open(seen_path).convert("L"))
    assert seen.shape == (28, 28) and np.array_equal(seen, sketch_to_digit(support.drawn_digit(digit)))
    assert summary.startswith(f"The network reads **{digit}**")


def test_int8_reads_the_same_digit_when_offered(client, models, tmp_path):
    if "int8" not in models.digits.variants():
        pytest.skip("the manifest does not recommend int8 for digits")
    label_value, _, _ = client.predict(
        _sketch(tmp_path, support.drawn_digit("7"), "seven"), "int8", api_name="/classify_sketch"
    )
    assert _label(label_value)[0] == "7"


def test_every_bad_upload_gets_its_message_and_the_server_keeps_answering(client, tmp_path):
    corpus = support.bad_inputs(tmp_path)
    good = tmp_path / "red.png"
    support.solid(support.RED).save(good)
    for name, (path, expected) in corpus.items():
        with pytest.raises(Exception) as caught:
            client.predict(handle_file(str(path)), "fp32", api_name="/classify_photo")
        message = str(caught.value)
        assert expected.lower() in message.lower() and "Traceback" not in message, (name, message)
        label, _ = _label(client.predict(handle_file(str(good)), "fp32", api_name="/classify_photo")[0])
        assert label in ("cat", "dog")


def test_awkward_but_valid_photos_are_answered(client, tmp_path):
    for name, (path, _) in support.odd_but_valid_photos(tmp_path).items():
        label, confidences = _label(client.predict(handle_file(str(path)), "fp32", api_name="/classify_photo")[0])
        assert label in ("cat", "dog") and sum(confidences.values()) == pytest.approx(1, abs=1e-5), name


@pytest.mark.parametrize(
    "canvas, message",
    [
        (support.blank_canvas, "canvas is empty"),
        (support.black_canvas, "100% ink"),
        (support.single_dot, "too small to read"),
    ],
)
def test_unreadable_sketches_get_their_message(client, tmp_path, canvas, message):
    with pytest.raises(Exception, match=message):
        client.predict(_sketch(tmp_path, canvas(), "bad"), "fp32", api_name="/classify_sketch")
    label_value, _, _ = client.predict(
        _sketch(tmp_path, support.drawn_digit("1"), "one"), "fp32", api_name="/classify_sketch"
    )
    assert _label(label_value)[0] == "1"


@pytest.mark.parametrize(
    "name, message",
    [
        ("text_renamed.jpg", "could not be read as an image"),
        ("truncated.png", "could not be read as an image"),
        ("bomb_20000x20000.png", "too large"),
    ],
)
def test_a_sketch_that_is_no_image_gets_a_message(client, tmp_path, name, message):
    path, _ = support.bad_inputs(tmp_path)[name]
    sketch = {"background": None, "layers": [], "composite": handle_file(str(path))}
    with pytest.raises(Exception, match=message):
        client.predict(sketch, "fp32", api_name="/classify_sketch")


def test_uploads_over_the_size_bound_are_refused_by_the_server(served, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(21 * 1024 * 1024))
    with open(big, "rb") as handle:
        answer = httpx.post(f"{served.rstrip('/')}/gradio_api/upload", files={"files": ("big.png", handle)}, timeout=60)
    assert answer.status_code == 413, answer.text[:300]


def test_the_browser_protocol_client_gets_what_gradio_client_gets(served, client, tmp_path):
    """bench's HTTP API client (upload, queue, event stream, download) against gradio_client, answer for answer."""
    from toolkit.bench.gradio_http import GradioHttp, GradioHttpError

    browser = GradioHttp(served)
    try:
        photo = tmp_path / "red.png"
        support.solid(support.RED).save(photo)
        label_value, seen_png, summary, *_ = browser.predict(photo, "fp32", api_name="/classify_photo")
        expected_label, expected_seen, expected_summary, *_ = client.predict(
            handle_file(str(photo)), "fp32", api_name="/classify_photo"
        )
        assert label_value == expected_label and summary == expected_summary
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(seen_png))), np.asarray(Image.open(expected_seen)))
        drawing = tmp_path / "seven.png"
        Image.fromarray(support.drawn_digit("7")).save(drawing)
        sketch = browser.predict(
            {"background": None, "layers": [], "composite": drawing}, "fp32", api_name="/classify_sketch"
        )
        assert _label(sketch[0])[0] == "7"
        text, _ = support.bad_inputs(tmp_path)["text_renamed.jpg"]
        with pytest.raises(GradioHttpError, match="text file"):
            browser.predict(text, "fp32", api_name="/classify_photo")
        with pytest.raises(ConvlensError, match="no endpoint /nothing"):
            browser.predict(photo, api_name="/nothing")
    finally:
        browser.close()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("Siamese cat", "robust", 100000, 128, 0), "greater than maximum value 300"),  # gradio checks the slider
        (("a cat that does not exist", "robust", 10, 128, 0), "no ImageNet class"),
    ],
)
def test_render_requests_out_of_bounds_get_a_message(client, arguments, message):
    with pytest.raises(Exception, match=message):
        client.predict(*arguments, api_name="/render_class")


@pytest.mark.slow
def test_a_live_render_arrives_with_its_probabilities(client):
    """The real renderer (imports TensorFlow into this test process): a short naive render of a class."""
    image_path, summary = client.predict("Siamese cat", "naive", 20, 64, 0, api_name="/render_class")
    assert Image.open(image_path).size == (64, 64)
    assert "**Siamese cat, Siamese** (ImageNet class 284)" in summary and "as rendered:" in summary


# ---------------------------------------------------------------- the command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _convlens(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_the_command_refuses_a_missing_export(tmp_path):
    done = _convlens("demo", "--exported", str(tmp_path / "empty"), "--port", str(_free_port()))
    assert done.returncode == 2
    assert "manifest.json is missing" in done.stderr and "make export" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_command_refuses_a_tampered_export_naming_the_file(small_export, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(small_export, export)
    with open(export / "catsdogs" / "model.onnx", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\xff\xff\xff\xff")
    done = _convlens("demo", "--exported", str(export), "--port", str(_free_port()))
    assert done.returncode == 2 and "catsdogs/model.onnx" in done.stderr and "sha256" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_command_serves_on_localhost_without_tensorflow(small_export, tmp_path):
    """`convlens demo` binds 127.0.0.1 by default, answers, and never loads TensorFlow's library."""
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "demo", "--exported", str(small_export), "--port", str(port), "--no-gallery"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CONVLENS_RUNS": str(tmp_path)},
    )
    try:
        client = None
        while client is None:
            assert server.poll() is None, server.stdout.read()
            assert time.perf_counter() - started < 120, "the demo did not start within 2 minutes"
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except (httpx.HTTPError, ValueError, ConnectionError):
                time.sleep(0.2)
        red = tmp_path / "red.png"
        support.solid(support.RED).save(red)
        assert _label(client.predict(handle_file(str(red)), "fp32", api_name="/classify_photo")[0])[0] in ("cat", "dog")
        print(f"cold start to first answer: {time.perf_counter() - started:.1f} s")
        maps = Path(f"/proc/{server.pid}/maps").read_text()
        assert "tensorflow" not in maps.lower()
        addresses = {
            c.laddr.ip
            for c in psutil.Process(server.pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert addresses == {"127.0.0.1"}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
