"""`convlens serve` on a private local Ray: replicas that answer as in-process, refuse as the demo, survive a
killed replica, and the demo and `classify --ray` through Ray giving the same answers."""

from __future__ import annotations

import concurrent.futures
import csv
import json
import time
import urllib.error
import urllib.request

import demo_support as support
import numpy as np
import pytest

from toolkit.cluster.batch_classify import classify
from toolkit.cluster.photo_api import MAX_BODY_BYTES
from toolkit.cluster.serve_client import ServeClient, remote_export
from toolkit.serving.digit_reader import read_digit
from toolkit.serving.photo_input import BadInput, open_photo
from toolkit.serving.photo_pipeline import judge_photo

pytestmark = pytest.mark.serve


@pytest.fixture(scope="module")
def served(ray_allowed, fake_export):
    """Every convlens application on a private 4-CPU Ray; the photo verdict with 2 replicas."""
    import ray
    from conftest import free_port
    from ray import serve

    from toolkit.cluster.serve_app import applications, run_applications

    ray.init(address="local", num_cpus=4, include_dashboard=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
    run_applications(applications(fake_export, photo_replicas=2, cpus_per_replica=0.5))
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()
    ray.shutdown()


def _post(url: str, body: bytes, query: str = "") -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"{url}/photo{query}", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, dict(error.headers), json.loads(text)
        except ValueError:  # Serve's own error page, e.g. when a replica died under the request
            return error.code, dict(error.headers), {"text": text.decode("utf-8", "replace")}


def test_both_replicas_answer_and_answers_equal_in_process(served, models, tmp_path):
    photos = []
    for i, colour in enumerate([support.RED, support.BLUE, (30, 200, 30)]):
        path = tmp_path / f"photo{i}.png"
        support.solid(colour, (120 + i, 100)).save(path)
        photos.append(path)
    expected = {path: judge_photo(models, path) for path in photos}
    replicas = set()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda path: (path, _post(served, path.read_bytes())), photos * 10))
    for path, (status, headers, answer) in answers:
        assert status == 200
        assert answer["verdict"] == expected[path].verdict.label
        assert answer["probabilities"] == expected[path].verdict.probabilities
        assert [tuple(pair) for pair in answer["top5"]] == expected[path].top5
        replicas.add(headers["x-convlens-replica"])
    assert len(replicas) == 2
    remote = ServeClient(served).photo_verdict(photos[0])
    assert remote.verdict == expected[photos[0]].verdict
    assert np.array_equal(remote.map_image, expected[photos[0]].map_image)


def test_bad_and_oversized_images_get_the_demos_refusals_over_http(served, tmp_path):
    cases = {"notes.jpg": b"hello, not an image\n", "empty.png": b""}
    bomb = support.decompression_bomb(tmp_path / "bomb.png")
    cases["bomb.png"] = bomb.read_bytes()
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(BadInput) as demo_says:
            open_photo(path, name)
        if content:  # urllib sends no body for b"": the client's POST needs one byte at least
            status, _, answer = _post(served, content, f"?name={name}")
            assert (status, answer) == (400, {"error": str(demo_says.value)})
    status, _, answer = _post(served, b"\xff" * (MAX_BODY_BYTES + 1), "?name=huge.jpg")
    assert status == 413 and "limit is 20 MB" in answer["error"]


def test_the_demo_through_serve_answers_as_in_process(served, models, fake_export, tmp_path, mnist_test):
    remote = remote_export(served, fake_export)
    for colour in (support.RED, support.BLUE):
        path = tmp_path / "photo.png"
        support.solid(colour).save(path)
        here, there = judge_photo(models, path), judge_photo(remote, path)
        assert there.verdict == here.verdict and there.top5 == here.top5
        assert np.array_equal(there.map_image, here.map_image)
    digit = mnist_test.x[3].reshape(28, 28)
    assert read_digit(remote, digit).probabilities == pytest.approx(read_digit(models, digit).probabilities)


def test_a_killed_replica_loses_no_accepted_request(served, models, tmp_path):
    import ray

    path = tmp_path / "red.png"
    support.solid(support.RED).save(path)
    expected = judge_photo(models, path).verdict.probabilities
    body = path.read_bytes()

    def ask(_: int) -> tuple[int, dict]:
        status, _, answer = _post(served, body)
        return status, answer

    replica = next(
        name
        for name in ray.util.list_named_actors(all_namespaces=True)
        if "PhotoVerdicts" in name["name"] and name["name"].startswith("SERVE_REPLICA")
    )
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(ask, i) for i in range(80)]
        time.sleep(0.5)
        ray.kill(ray.get_actor(replica["name"], namespace=replica["namespace"]), no_restart=True)
        results = [future.result(timeout=120) for future in answers]
    for status, answer in results:
        if status == 200:
            assert answer["probabilities"] == expected  # never a wrong answer
        else:  # refused with a clear error, never a hang
            assert status in (500, 503) and answer
    assert sum(status == 200 for status, _ in results) >= 70
    deadline = time.monotonic() + 90  # Serve replaces the killed replica
    while time.monotonic() < deadline:
        seen = {_post(served, body)[1]["x-convlens-replica"] for _ in range(12)}
        if len(seen) == 2:
            break
        time.sleep(1)
    assert len(seen) == 2


def test_classify_on_ray_data_writes_the_same_csv_as_locally(served, fake_export, tmp_path):
    from test_photo_api import photo_folder

    folder = photo_folder(tmp_path, 12)
    local, on_ray = tmp_path / "local.csv", tmp_path / "ray.csv"
    classify([str(folder)], local, fake_export)
    counts = classify([str(folder)], on_ray, fake_export, use_ray=True, actors=2)
    assert on_ray.read_text() == local.read_text()
    assert counts["files"] == 14 and counts["refused"] == 2
    assert {row["verdict"] for row in csv.DictReader(local.open())} == {"cat", "dog", ""}


def test_the_serve_config_in_the_repo_is_valid_and_names_every_application(served):
    import yaml
    from ray.serve.schema import ServeDeploySchema

    from toolkit.cluster.serve_app import applications
    from toolkit.core.names import EXPORTED_MODELS
    from toolkit.core.paths import REPO_ROOT

    config = ServeDeploySchema.model_validate(yaml.safe_load((REPO_ROOT / "deploy/serve_config.yaml").read_text()))
    assert config.http_options.host == "127.0.0.1"
    assert {app.route_prefix for app in config.applications} == {
        each.route for each in applications(models=EXPORTED_MODELS)
    }
    for app in config.applications:  # each import path builds its application from its args
        module, builder = app.import_path.split(":")
        assert __import__(module, fromlist=[builder]).__dict__[builder](app.args) is not None
