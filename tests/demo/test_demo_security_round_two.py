"""The second round of a stranger's attacks (issue 23), each sent once: crafted images that declare or
unpack to far more than they hold, queue floods, slow connections, cross-origin and login abuse.

The decoder's attacks are checked in-process first (fast, and memory measured), then through the
running demo; `test_demo_stress_round_two.py` (marker `stress`) sends them all with 16 normal clients.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import attack_files
import httpx
import psutil
import pytest
from PIL import TiffImagePlugin

from demo.http_guard import LoginThrottle, _clean_headers
from demo.limits import HEADER_SECONDS, LOGIN_FREE_ATTEMPTS
from toolkit.bench.demo_latency import free_port, start_demo
from toolkit.bench.gradio_http import GradioHttp, GradioHttpError
from toolkit.serving.photo_input import MAX_DECODED_PIXELS, BadInput, open_photo

DECODER_ATTACKS = {  # file -> a word the refusal must contain, or None when it is decoded within bounds
    "rle8_delta.bmp": (attack_files.bmp_rle8_delta, "run-length"),
    "chained_40000_pages.tif": (attack_files.chained_tiff, None),
    "float32_16mp.tif": (attack_files.float_tiff, "too large"),
    "wide_40000x1000.jpg": (attack_files.wide_jpeg, None),
    "truncated_6000x6600.jpg": (attack_files.truncated_jpeg, "truncated"),
    "gif_17mp.gif": (attack_files.big_gif, "too large"),
    "webp_25mp.webp": (attack_files.big_webp, "too large"),
}


@pytest.fixture(scope="module")
def attack_folder(tmp_path_factory) -> dict[str, tuple[Path, str | None]]:
    folder = tmp_path_factory.mktemp("attacks")
    return {name: (make(folder / name), word) for name, (make, word) in DECODER_ATTACKS.items()}


def test_each_crafted_image_is_refused_or_decoded_within_its_budget(attack_folder, monkeypatch):
    def no_page_counting(self):
        raise AssertionError("n_frames was read: Pillow counts TIFF pages in quadratic time")

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(no_page_counting))
    for name, (path, word) in attack_folder.items():
        started = time.perf_counter()
        if word is None:
            picture, _ = open_photo(path)
            assert picture.width * picture.height <= MAX_DECODED_PIXELS, name
        else:
            with pytest.raises(BadInput, match=word):
                open_photo(path)
        assert time.perf_counter() - started < 2, name


def test_memory_returns_after_the_decoder_attack_corpus(attack_folder):
    process = psutil.Process()
    for path, _word in attack_folder.values():  # warm up: imports and Pillow's plugins
        try:
            open_photo(path)
        except BadInput:
            pass
    before = process.memory_info().rss
    for _ in range(3):
        for path, _ in attack_folder.values():
            try:
                open_photo(path)
            except BadInput:
                pass
    assert (process.memory_info().rss - before) / 2**20 < 100


def test_wrong_passwords_close_the_door_for_a_doubling_delay():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    waits = []
    for _ in range(LOGIN_FREE_ATTEMPTS + 3):
        throttle.failed("10.0.0.1")
        waits.append(throttle.wait_seconds("10.0.0.1"))
    assert waits[: LOGIN_FREE_ATTEMPTS - 1] == [0.0] * (LOGIN_FREE_ATTEMPTS - 1)
    assert waits[LOGIN_FREE_ATTEMPTS - 1 :] == [1.0, 2.0, 4.0, 8.0]
    assert throttle.wait_seconds("10.0.0.2") == 0.0  # another address is not slowed
    throttle.succeeded("10.0.0.1")
    assert throttle.wait_seconds("10.0.0.1") == 0.0


def test_a_206_answer_keeps_only_file_headers_and_cookies_become_same_site_lax():
    headers = [(b"content-range", b"bytes 0-1/10"), (b"cookie", b"access-token=secret"), (b"x-echo", b"1")]
    assert _clean_headers(headers, foreign=False, status=206) == [(b"content-range", b"bytes 0-1/10")]
    cookie = _clean_headers([(b"set-cookie", b"t=1; HttpOnly; SameSite=none; Secure")], foreign=False, status=200)
    assert cookie == [(b"set-cookie", b"t=1; HttpOnly; Secure; SameSite=Lax")]
    assert _clean_headers([(b"access-control-allow-origin", b"https://evil.example")], foreign=True, status=200) == []


# ---------------------------------------------------------------- through the running demo


@pytest.fixture(scope="module")
def demo_server(small_export):
    process, client, _ = start_demo(small_export, free_port())
    yield process, client.src.rstrip("/")
    process.terminate()
    process.wait(15)


def test_the_running_demo_refuses_each_crafted_image_with_a_message(demo_server, attack_folder):
    browser = GradioHttp(demo_server[1])
    try:
        for name, (path, word) in attack_folder.items():
            if word is None:
                label, *_ = browser.predict(path, "fp32", api_name="/classify_photo")
                assert label["label"], name
            else:
                with pytest.raises(GradioHttpError, match=word):
                    browser.predict(path, "fp32", api_name="/classify_photo")
    finally:
        browser.close()


def test_a_foreign_origin_gets_no_cors_and_monitoring_is_off(demo_server):
    _, url = demo_server
    foreign = {"Origin": "https://evil.example", "Host": "demo.example.com"}
    preflight = httpx.options(f"{url}/config", headers={**foreign, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    page = httpx.get(f"{url}/config", headers=foreign)
    assert page.status_code == 200 and "access-control-allow-origin" not in page.headers
    for path in ("/monitoring", "/monitoring/summary", "/gradio_api/monitoring/summary"):
        assert httpx.get(f"{url}{path}").status_code == 404, path


def test_an_upload_with_an_empty_filename_is_answered_400_with_a_message(demo_server):
    answer = httpx.post(f"{demo_server[1]}/gradio_api/upload", files={"files": ("", b"abc", "image/png")})
    assert answer.status_code == 400 and "name" in answer.text


def test_a_range_request_echoes_no_request_header(demo_server, small_export):
    _, url = demo_server
    example = next((small_export / "examples").glob("*.png"))
    answer = httpx.get(
        f"{url}/gradio_api/file={example}", headers={"Range": "bytes=0-9", "Cookie": "secret-cookie=123"}
    )
    assert answer.status_code == 206
    assert "secret-cookie" not in str(answer.headers)


def test_a_half_sent_request_is_closed_after_the_header_timeout(demo_server):
    port = int(demo_server[1].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=HEADER_SECONDS + 10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert connection.recv(100) == b""  # closed by the server, without an answer
        assert time.monotonic() - started < HEADER_SECONDS + 3


def _classify_fn_index(url: str) -> int:
    config = httpx.get(f"{url}/config").json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "classify_photo")


def test_one_session_flooding_the_queue_is_refused_beyond_its_cap(demo_server, attack_folder):
    _, url = demo_server
    fn_index, session = _classify_fn_index(url), uuid.uuid4().hex
    body = {"data": [None, "fp32"], "fn_index": fn_index, "session_hash": session, "event_data": None}
    with httpx.Client(timeout=30) as client:
        answers = [client.post(f"{url}/gradio_api/queue/join", json=body) for _ in range(12)]
    refused = [a for a in answers if a.status_code == 503]
    assert refused and all("You already have" in a.text for a in refused)
    other = {**body, "session_hash": uuid.uuid4().hex}
    assert httpx.post(f"{url}/gradio_api/queue/join", json=other).status_code == 200  # another client is served


# ---------------------------------------------------------------- with a password


@pytest.fixture(scope="module")
def auth_server(small_export):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "demo", "--port", str(port), "--exported", str(small_export), "--no-gallery"],
        env={**os.environ, "CONVLENS_DEMO_AUTH": "teacher:long-enough-pw", "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(15)


def test_with_auth_every_route_but_the_login_page_needs_the_login(auth_server):
    url = auth_server
    assert httpx.get(url).status_code == 200  # the login page
    for method, path in [
        ("GET", f"/gradio_api/heartbeat/{uuid.uuid4().hex}"),
        ("POST", "/gradio_api/cancel"),
        ("POST", "/gradio_api/reset"),
        ("GET", "/gradio_api/runs"),
        ("GET", "/gradio_api/info"),
        ("POST", "/gradio_api/queue/join"),
    ]:
        assert httpx.request(method, f"{url}{path}", json={}).status_code == 401, path
    login = httpx.post(f"{url}/login", data={"username": "teacher", "password": "long-enough-pw"})
    assert login.status_code == 200
    cookies = login.headers.get_list("set-cookie")
    assert cookies and all("samesite=lax" in cookie.lower() for cookie in cookies)
    assert httpx.get(f"{url}/gradio_api/info", cookies=login.cookies).status_code == 200


def test_with_auth_wrong_passwords_are_slowed_down(auth_server):
    statuses = [
        httpx.post(f"{auth_server}/login", data={"username": "teacher", "password": f"wrong-{n}"}).status_code
        for n in range(LOGIN_FREE_ATTEMPTS + 3)
    ]
    assert statuses[:LOGIN_FREE_ATTEMPTS] == [400] * LOGIN_FREE_ATTEMPTS
    assert 429 in statuses[LOGIN_FREE_ATTEMPTS:]
    right = httpx.post(f"{auth_server}/login", data={"username": "teacher", "password": "long-enough-pw"})
    assert right.status_code == 429  # not even the right one, until the delay has passed
