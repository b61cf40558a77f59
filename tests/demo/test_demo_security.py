"""A stranger's requests, sent as raw HTTP against `convlens demo` in its own process: no file, no oracle,
no memory blow-up, and the server keeps serving a mixed load meanwhile."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import demo_support as support
import httpx
import pytest
from PIL import Image

from demo.limits import BLOB_MAX_SKETCHES
from demo.uploads import REFUSED_FILE
from toolkit.bench.demo_latency import free_port, start_demo, tree_rss_mb
from toolkit.bench.gradio_http import GradioHttp, GradioHttpError


@pytest.fixture(scope="module")
def demo_server(small_export):
    """(process, url) of `convlens demo` serving the small real export."""
    process, client, _ = start_demo(small_export, free_port())
    yield process, client.src.rstrip("/")
    process.terminate()
    process.wait(15)


@pytest.fixture
def browser(demo_server):
    http = GradioHttp(demo_server[1])
    yield http
    http.close()


def _refusal(browser: GradioHttp, *inputs, api_name: str) -> str:
    with pytest.raises(GradioHttpError) as refused:
        browser.predict(*inputs, api_name=api_name)
    return str(refused.value)


def _private_photo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "private.png"
    support.solid(support.RED).save(path)
    return path


@pytest.mark.parametrize("meta", [False, True], ids=["bare reference", "with gradio's FileData tag"])
def test_a_photo_reference_to_any_server_path_gets_one_message_and_no_file(browser, tmp_path, meta):
    references = [
        str(_private_photo(tmp_path / "secret")),
        "/etc/hostname",
        "/no/such/file.png",
        "/etc",
        "",
        "../../../../etc/passwd",
    ]
    answers = set()
    for path in references:
        value = {"path": path, **({"meta": {"_type": "gradio.FileData"}} if meta else {})}
        answers.add(_refusal(browser, value, "fp32", api_name="/classify_photo"))
    assert len(answers) == 1, answers  # the same answer whatever lies there: no oracle
    answer = answers.pop()
    assert "text file" not in answer and "found" not in answer
    if not meta:  # a tagged reference is refused by gradio itself, before the demo sees it
        assert answer.endswith(REFUSED_FILE)


@pytest.mark.parametrize("meta", [False, True], ids=["bare reference", "with gradio's FileData tag"])
def test_a_sketch_reference_to_a_server_path_gets_one_answer_and_no_file(browser, tmp_path, meta):
    tag = {"meta": {"_type": "gradio.FileData"}} if meta else {}
    answers = set()
    for path in (str(_private_photo(tmp_path / "secret")), "/etc/hostname", "/no/such/file.png"):
        for value in (
            {"background": {"path": path, **tag}, "layers": [], "composite": None},
            {"background": None, "layers": [], "composite": {"path": path, **tag}},
            {"background": None, "layers": [{"path": path, **tag}], "composite": None},
        ):
            answers.add(_refusal(browser, value, "fp32", api_name="/classify_sketch"))
    assert len(answers) == 1, answers
    assert "text file" not in answers.pop()


def _example_digits(url: str) -> list[dict]:
    """The example drawings as the page sends them: sketch values naming Gradio's cached copies."""
    config = httpx.get(f"{url}/config").raise_for_status().json()
    dataset = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "digit-examples")
    return [sample[0] for sample in dataset["props"]["samples"]]


def test_the_example_digits_cached_copies_are_read_and_the_same_picture_elsewhere_is_refused(
    demo_server, browser, tmp_path
):
    def reference(path: Path | str) -> dict:
        return {"background": None, "layers": [], "composite": {"path": str(path)}}

    missing = _refusal(browser, reference("/no/such/file.png"), "fp32", api_name="/classify_sketch")
    examples = _example_digits(demo_server[1])
    assert len(examples) >= 3
    for example in examples:
        cached = Path(example["composite"]["path"])
        label, seen_png, _ = browser.predict(example, "fp32", api_name="/classify_sketch")
        assert label["label"] == cached.stem and seen_png.startswith(b"\x89PNG")  # named after their digit
        elsewhere = tmp_path / cached.name  # the same bytes, but not a file Gradio received or cached
        elsewhere.write_bytes(cached.read_bytes())
        assert _refusal(browser, reference(elsewhere), "fp32", api_name="/classify_sketch") == missing


def test_an_uploaded_photo_is_still_classified(browser, tmp_path):
    label, seen_png, summary, *_ = browser.predict(_private_photo(tmp_path), "fp32", api_name="/classify_photo")
    assert label["label"] in ("cat", "dog") and seen_png.startswith(b"\x89PNG")


def test_a_variant_the_manifest_does_not_offer_is_refused(browser, tmp_path, small_export):
    photo = _private_photo(tmp_path)
    assert "not offered" in _refusal(browser, photo, "int4", api_name="/classify_photo")
    manifest = json.loads((small_export / "manifest.json").read_text())
    if not manifest["models"]["catsdogs"]["quantization"]["recommended"]:
        assert "not offered" in _refusal(browser, photo, "int8", api_name="/classify_photo")


def _binary_eps(path: Path) -> Path:
    """A DOS-binary EPS header (what Pillow hands to Ghostscript) around a tiny PostScript section."""
    postscript = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n"
    header = b"\xc5\xd0\xd3\xc6" + (32).to_bytes(4, "little") + len(postscript).to_bytes(4, "little") + bytes(20)
    path.write_bytes(header + postscript)
    return path


def test_an_eps_upload_is_refused(browser, tmp_path):
    answer = _refusal(browser, _binary_eps(tmp_path / "photo.eps"), "fp32", api_name="/classify_photo")
    assert "not an image convlens can read" in answer


def test_an_eps_file_never_reaches_pillows_eps_decoder(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    from toolkit.serving.photo_input import BadInput, open_photo

    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(self))
    with pytest.raises(BadInput, match="not an image convlens can read"):
        open_photo(_binary_eps(tmp_path / "photo.eps"))
    assert opened == []


def _sketch_component(url: str) -> int:
    config = httpx.get(f"{url}/config").json()
    return next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "sketch")


def _post_blob(url: str, component: int, index, blob: bytes, kind: str = "layer") -> httpx.Response:
    form = {
        "component_id": str(component),
        "session_hash": uuid.uuid4().hex,
        "fn_name": "accept_blobs",
        "type": kind,
        "index": str(index),
        "id": uuid.uuid4().hex,
    }
    return httpx.post(
        f"{url}/gradio_api/component_server", data=form, files={"blob": ("blob", blob, "image/png")}, timeout=60
    )


def _canvas_png() -> bytes:
    import io

    encoded = io.BytesIO()
    Image.fromarray(support.drawn_digit("7")).save(encoded, format="PNG")
    return encoded.getvalue()


def test_the_blob_endpoint_refuses_huge_indices_and_bounds_what_it_keeps(demo_server):
    process, url = demo_server
    component = _sketch_component(url)
    before = tree_rss_mb(process.pid)
    for _ in range(12):
        answer = _post_blob(url, component, 10_000_000, _canvas_png())
        assert answer.status_code == 400 and "at most" in answer.text
    for _ in range(BLOB_MAX_SKETCHES * 3):  # valid posts under fresh ids: the store evicts the oldest
        assert _post_blob(url, component, 0, _canvas_png()).status_code == 200
    assert _post_blob(url, component, 0, b"not an image").status_code == 400
    assert tree_rss_mb(process.pid) - before < 200


def test_a_request_body_over_the_bound_is_refused_before_it_is_read(demo_server):
    _, url = demo_server
    answer = httpx.post(
        f"{url}/gradio_api/component_server",
        content=b"x" * (22 * 1024 * 1024),
        headers={"content-type": "multipart/form-data; boundary=x"},
        timeout=60,
    )
    assert answer.status_code == 413


def _one_bit_bomb(path: Path, side: int = 6400) -> Path:
    Image.new("1", (side, side)).save(path)  # 41 megapixels in a few kB
    return path


def test_a_41_megapixel_multi_layer_sketch_is_refused_from_its_header(demo_server, browser, tmp_path):
    process, _ = demo_server
    bomb = _one_bit_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 100_000
    before = tree_rss_mb(process.pid)
    started = time.perf_counter()
    for layers in ([bomb], [bomb, bomb]):
        answer = _refusal(
            browser, {"background": bomb, "layers": layers, "composite": bomb}, "fp32", api_name="/classify_sketch"
        )
        assert "too large" in answer or "at most" in answer
    assert time.perf_counter() - started < 10
    assert tree_rss_mb(process.pid) - before < 200


def test_the_page_and_file_route_serve_no_checkpoint_or_model_and_no_server_path(demo_server, small_export):
    _, url = demo_server
    page = httpx.get(url).text + httpx.get(f"{url}/config").text
    assert str(small_export) not in page
    for path in [small_export / "catsdogs" / "model.onnx", small_export / "manifest.json", Path("/etc/hostname")]:
        assert httpx.get(f"{url}/gradio_api/file={path}").status_code in (403, 404)


def test_a_mixed_load_of_16_clients_completes_while_strangers_attack(demo_server, tmp_path):
    from gradio_client import Client
    from test_reliability import _assert_load_handled, _inputs, _mixed_load

    process, url = demo_server
    component = _sketch_component(url)
    bomb = _one_bit_bomb(tmp_path / "bomb.png")
    before = tree_rss_mb(process.pid)
    stop = threading.Event()
    refused: list[bool] = []

    def attack():
        browser = GradioHttp(url)
        try:
            while not stop.is_set():
                for attempt in (
                    lambda: browser.predict({"path": "/etc/hostname"}, "fp32", api_name="/classify_photo"),
                    lambda: browser.predict(
                        {"background": bomb, "layers": [bomb], "composite": bomb}, "fp32", api_name="/classify_sketch"
                    ),
                ):
                    try:
                        attempt()
                        refused.append(False)
                    except GradioHttpError:
                        refused.append(True)
                refused.append(_post_blob(url, component, 10_000_000, b"x").status_code == 400)
        finally:
            browser.close()

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        outcomes = _mixed_load(url, _inputs(tmp_path / "inputs"), clients=16, requests=64)
    finally:
        stop.set()
        attacker.join(60)
    _assert_load_handled(outcomes, Client(url, verbose=False))
    assert refused and all(refused)
    assert tree_rss_mb(process.pid) - before < 200


def _convlens_demo(*args: str, env: dict | None = None, timeout: float = 90) -> tuple[int, str, float]:
    import os
    import subprocess
    import sys

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "demo", "--port", str(free_port()), "--no-gallery", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stderr, time.perf_counter() - started


@pytest.mark.parametrize("args", [["--share"], ["--host", "0.0.0.0"], ["--host", "192.168.1.1"]])
def test_serving_beyond_this_machine_without_a_password_is_refused_at_once(args, small_export):
    code, stderr, seconds = _convlens_demo(*args, "--exported", str(small_export), env={"CONVLENS_DEMO_AUTH": ""})
    assert code == 2 and "--auth USER:PASSWORD" in stderr and "Traceback" not in stderr
    assert seconds < 30


def test_share_offline_fails_within_seconds_with_a_clear_message(small_export):
    code, stderr, seconds = _convlens_demo(
        "--share", "--auth", "teacher:long-enough-pw", "--exported", str(small_export)
    )
    assert code == 2 and "share service" in stderr and "Traceback" not in stderr, stderr[-500:]
    assert seconds < 40  # loading the models, then a 5 s probe


def test_a_short_password_is_refused(small_export):
    code, stderr, _ = _convlens_demo("--host", "0.0.0.0", "--auth", "u:short", "--exported", str(small_export))
    assert code == 2 and "at least 8 characters" in stderr


def test_the_demo_removes_its_scratch_folder_when_stopped(small_export, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    scratch_parent = tmp_path / "tmp"
    scratch_parent.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "demo", "--port", str(port), "--exported", str(small_export), "--no-gallery"],
        env={**os.environ, "TMPDIR": str(scratch_parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not list(scratch_parent.glob("convlens-demo-*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(scratch_parent.glob("convlens-demo-*")), "the demo made no scratch folder"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert not list(scratch_parent.glob("convlens-demo-*"))
