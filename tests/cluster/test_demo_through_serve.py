"""`convlens demo --serve-url`: the Gradio app, its models run by the Serve deployments, answers through its
API exactly as the in-process app does."""

from __future__ import annotations

import demo_support as support
import pytest
from gradio_client import Client, handle_file

from toolkit.serving.export_loader import load_served_export
from toolkit.serving.photo_pipeline import classify_photo, judge_photo

pytestmark = pytest.mark.serve


@pytest.fixture(scope="module")
def serve_url(ray_allowed, small_export):
    import ray
    from conftest import free_port
    from ray import serve

    from toolkit.cluster.serve_app import applications, run_applications

    ray.init(address="local", num_cpus=4, include_dashboard=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
    run_applications(applications(small_export, cpus_per_replica=0.5, apps=("models",)))
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()
    ray.shutdown()


def test_the_demo_through_serve_answers_as_in_process(serve_url, small_export, tmp_path):
    from demo.gradio_app import launch, prepare

    models = load_served_export(small_export)
    app, allowed = prepare(small_export, runs=tmp_path / "runs", scratch=tmp_path / "scratch", serve_url=serve_url)
    try:
        client = Client(launch(app, allowed), verbose=False)
        for colour in (support.RED, support.BLUE):
            path = tmp_path / "photo.png"
            support.solid(colour).save(path)
            label_value, _, summary, *_ = client.predict(handle_file(str(path)), "fp32", api_name="/classify_photo")
            if models.imagenet is None:
                expected = classify_photo(models, path).probabilities
            else:
                expected = judge_photo(models, path).verdict.probabilities
            served = {item["label"]: item["confidence"] for item in label_value["confidences"]}
            assert served == pytest.approx(expected, abs=1e-6)
            assert label_value["label"] == max(expected, key=expected.__getitem__)
    finally:
        app.close()
