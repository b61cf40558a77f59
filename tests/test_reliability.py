"""Reliability: mixed load on the running demo, refusing a damaged export, surviving a killed export.

`make test` runs the short versions; `make test-stress` (marker `stress`) the long ones.
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.bench.demo_latency import free_port, start_demo
from toolkit.core.file_hashes import sha256_path
from toolkit.core.paths import REPO_ROOT
from toolkit.core.wall_time import percentile
from toolkit.export.verify import verify_export


def _inputs(folder: Path) -> dict:
    """Valid photos and sketches, and bad files, as a user would send them."""
    from gradio_client import handle_file

    from toolkit.data.datasets import load_cats_dogs

    folder.mkdir(parents=True, exist_ok=True)
    _, test = load_cats_dogs()
    photos = []
    for index in (0, 7, 203, 390):
        path = folder / f"photo_{index}.jpg"
        Image.fromarray(test.x[index]).resize((300, 200)).save(path, quality=92)
        photos.append(path)
    canvas = np.full((300, 300, 3), 255, np.uint8)
    canvas[40:260, 140:165] = 0  # a "1"
    one = folder / "one.png"
    Image.fromarray(canvas).save(one)
    text = folder / "notes.jpg"
    text.write_text("this is not an image\n" * 20)
    truncated = folder / "truncated.png"
    truncated.write_bytes(photos[0].read_bytes()[:300])
    empty = folder / "empty.png"
    Image.fromarray(np.full((300, 300, 3), 255, np.uint8)).save(empty)
    return {
        "photo": [lambda p=p: ((handle_file(str(p)), "fp32"), "/classify_photo") for p in photos],
        "sketch": [
            lambda: (
                ({"background": None, "layers": [], "composite": handle_file(str(one))}, "fp32"),
                "/classify_sketch",
            )
        ],
        "bad": [
            lambda: ((handle_file(str(text)), "fp32"), "/classify_photo"),
            lambda: ((handle_file(str(truncated)), "fp32"), "/classify_photo"),
            lambda: (
                ({"background": None, "layers": [], "composite": handle_file(str(empty))}, "fp32"),
                "/classify_sketch",
            ),
        ],
    }


@pytest.fixture(scope="module")
def running_demo(small_export):
    """`convlens demo` in its own process on a free port, serving the small real export."""
    process, client, _ = start_demo(small_export, free_port())
    yield client
    process.terminate()
    process.wait(15)


def _mixed_load(client_url: str, inputs: dict, clients: int, requests: int) -> dict:
    from gradio_client import Client

    plan = [(kind, i) for kind in ("photo", "sketch", "bad") for i in range(len(inputs[kind]))]
    outcomes = {"valid_ok": 0, "valid_failed": [], "bad_clear": 0, "bad_unclear": [], "photo_ms": []}

    def one(number: int):
        kind, index = plan[number % len(plan)]
        arguments, endpoint = inputs[kind][index]()
        client = Client(client_url, verbose=False)  # results downloaded, as a user gets them
        start = time.perf_counter()
        try:
            client.predict(*arguments, api_name=endpoint)
            return kind, None, (time.perf_counter() - start) * 1000
        except Exception as error:  # gradio_client raises AppError with the message gr.Error carried
            return kind, str(error), None

    with ThreadPoolExecutor(clients) as pool:
        for kind, error, ms in pool.map(one, range(requests)):
            if kind == "bad":
                if error and len(error) > 15 and "Traceback" not in error:
                    outcomes["bad_clear"] += 1
                else:
                    outcomes["bad_unclear"].append(error)
            elif error is None:
                outcomes["valid_ok"] += 1
                if kind == "photo":
                    outcomes["photo_ms"].append(ms)
            else:
                outcomes["valid_failed"].append(error)
    return outcomes


def _assert_load_handled(outcomes: dict, client) -> None:
    assert outcomes["valid_failed"] == []
    assert outcomes["bad_unclear"] == []
    assert outcomes["valid_ok"] > 0 and outcomes["bad_clear"] > 0
    # and the server still answers afterwards
    assert client.view_api(print_info=False, return_format="dict")


def test_mixed_load_short(running_demo, tmp_path):
    outcomes = _mixed_load(running_demo.src, _inputs(tmp_path), clients=8, requests=48)
    _assert_load_handled(outcomes, running_demo)


@pytest.mark.stress
def test_mixed_load_16_clients_400_requests(running_demo, tmp_path):
    outcomes = _mixed_load(running_demo.src, _inputs(tmp_path), clients=16, requests=400)
    _assert_load_handled(outcomes, running_demo)


@pytest.mark.stress
def test_a_render_in_flight_keeps_photo_p95_within_3x_idle(running_demo, tmp_path):
    import threading

    from gradio_client import Client

    photo = _inputs(tmp_path)["photo"][0]
    client = Client(running_demo.src, verbose=False)

    def photo_ms() -> float:
        arguments, endpoint = photo()
        start = time.perf_counter()
        client.predict(*arguments, api_name=endpoint)
        return (time.perf_counter() - start) * 1000

    idle = [photo_ms() for _ in range(30)]
    render = Client(running_demo.src, verbose=False, download_files=False)
    render.predict("Siamese cat", "naive", 10, 64, 0, api_name="/render_class")  # load TF before timing
    job = threading.Thread(
        target=lambda: render.predict("Siamese cat", "robust", 300, 160, 0, api_name="/render_class")
    )
    job.start()
    time.sleep(1.0)
    busy = []
    while job.is_alive() and len(busy) < 60:  # only requests made while the render runs
        busy.append(photo_ms())
    job.join()
    assert len(busy) >= 10, f"the render ended after {len(busy)} requests; too few to measure"
    assert percentile(busy, 95) <= 3 * percentile(idle, 95)


def _demo_refusal(exported: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit",
            "demo",
            "--port",
            str(free_port()),
            "--exported",
            str(exported),
            "--no-gallery",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("damage", ["tampered", "deleted"])
def test_demo_refuses_a_damaged_export_naming_the_file(small_export, tmp_path, damage):
    copy = tmp_path / "exported"
    shutil.copytree(small_export, copy)
    target = copy / "digits" / "model.onnx"
    if damage == "tampered":
        target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    else:
        target.unlink()
    refused = _demo_refusal(copy)
    assert refused.returncode != 0
    assert "digits/model.onnx" in refused.stderr and "make export" in refused.stderr
    assert "Traceback" not in refused.stderr


KILLED_EXPORT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from small_models import digits_spec, small_cnn_on_mnist
    from toolkit.export.publish import export_models
    spec = digits_spec(small_cnn_on_mnist(epochs=1), n_test=2000)
    print("exporting", flush=True)
    export_models([spec], {out!r}, log=lambda line: print(line, flush=True))
""")


def test_an_export_killed_halfway_leaves_the_previous_export_serving(small_export, tmp_path):
    copy = tmp_path / "exported"
    shutil.copytree(small_export, copy)
    before = {p.relative_to(copy): sha256_path(p) for p in copy.rglob("*") if p.is_file()}
    script = KILLED_EXPORT.format(tests=str(REPO_ROOT / "tests"), out=str(copy))
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    for line in process.stdout:  # kill it while it writes the new files into its staging folder
        if "ONNX fp32" in line:
            break
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    assert list(copy.glob(".staging-*")), "the export was not killed while staging"
    after = {
        p.relative_to(copy): sha256_path(p)
        for p in copy.rglob("*")
        if p.is_file() and not p.relative_to(copy).parts[0].startswith(".staging-")
    }
    assert after == before
    assert verify_export(copy) == []
    process, client, _ = start_demo(copy, free_port())
    try:
        assert client.view_api(print_info=False, return_format="dict")
    finally:
        process.terminate()
        process.wait(15)
