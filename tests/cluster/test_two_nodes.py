"""A simulated two-node cluster on one machine (ray.cluster_utils.Cluster): the photo replicas land on both
nodes, and each answers as in-process."""

from __future__ import annotations

import concurrent.futures
import json
import urllib.request

import demo_support as support
import pytest

from toolkit.serving.photo_pipeline import judge_photo

pytestmark = pytest.mark.serve


def test_replicas_are_placed_on_both_nodes_and_answer_alike(ray_allowed, fake_export, models, tmp_path):
    import ray
    from conftest import free_port
    from ray import serve
    from ray.cluster_utils import Cluster

    from toolkit.cluster.serve_app import applications, run_applications

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address)
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
        # one CPU a replica and one CPU a node: Ray can only place the two replicas on different nodes
        run_applications(applications(fake_export, photo_replicas=2, cpus_per_replica=1, apps=("photo",)))
        path = tmp_path / "red.png"
        support.solid(support.RED).save(path)
        expected = judge_photo(models, path).verdict

        def ask(_: int) -> tuple[str, bytes]:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/photo", data=path.read_bytes(), method="POST")
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.headers["x-convlens-node"], answer.read()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(ask, range(24)))
        nodes = {node for node, _ in answers}
        assert nodes == {node["NodeID"] for node in ray.nodes() if node["Alive"]} and len(nodes) == 2
        assert all(json.loads(body)["probabilities"] == expected.probabilities for _, body in answers)
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()
