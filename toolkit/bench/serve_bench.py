"""`convlens bench --serve`: the photo verdict through Ray Serve against in-process, in one run.

Measured in this order, so every ratio compares figures taken minutes apart on the same machine: the
pipeline in 1 and 2 plain processes (one onnxruntime thread each: the ceiling for 2 replicas), then Serve's
HTTP at 1 and 2 replicas with CLIENTS concurrent clients (alternated, medians over rounds), Serve's
per-request overhead against in-process, @serve.batch on and off on the raw ImageNet model, and
`convlens classify` locally against on Ray Data. Written under the "serve" key of runs/bench/results.json.
Run it in a loopback-only network namespace (`make bench-serve`): Ray's traffic must not leave the machine.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import platform
import shutil
import socket
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.core.json_files import write_json
from toolkit.core.names import BENCH, EXAMPLES_FOLDER, RESULTS_FILE
from toolkit.core.paths import exported_dir
from toolkit.core.wall_time import percentile
from toolkit.experiments.runs import run_folder

CLIENTS = 8
REQUESTS = 96  # photo requests per round (12 per client)
ROUNDS = 3  # rounds of 1 and 2 replicas, alternated
CEILING_IMAGES = 48  # verdicts per process for the plain-process ceiling
BATCH_REQUESTS = 256  # single-image requests to the raw ImageNet model, batching on and off
CLASSIFY_IMAGES = 200
SERVE_KEY = "serve"


def _photos(exported: Path) -> list[bytes]:
    photos = sorted((exported / EXAMPLES_FOLDER).glob("*"))
    if not photos:
        raise ConvlensError(f"{exported / EXAMPLES_FOLDER} has no example photos: run `make export` first.")
    return [path.read_bytes() for path in photos]


def _verdicts_in_one_process(exported: str, count: int, start, rates) -> None:
    """Photo verdicts per second in this process, one onnxruntime thread (a plain-process ceiling)."""
    from toolkit.cluster.photo_api import photo_verdict_of
    from toolkit.cluster.replica_export import export_with_threads

    export = export_with_threads(Path(exported), 1)
    photos = _photos(Path(exported))
    photo_verdict_of(export, photos[0])  # warm
    start.wait()  # all processes start timing together
    began = time.perf_counter()
    for i in range(count):
        photo_verdict_of(export, photos[i % len(photos)])
    rates.put(count / (time.perf_counter() - began))


def _processes_rate(exported: Path, processes: int) -> float:
    """Verdicts per second of `processes` plain processes together (each its own rate, summed)."""
    context = multiprocessing.get_context("spawn")
    start, rates = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_verdicts_in_one_process, args=(str(exported), CEILING_IMAGES, start, rates))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(rates.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    return float(total)


def _in_process_latency(exported: Path, trials: int) -> float:
    from toolkit.cluster.photo_api import photo_verdict_of
    from toolkit.cluster.replica_export import export_with_threads

    export = export_with_threads(exported, 1)
    photos = _photos(exported)
    photo_verdict_of(export, photos[0])
    times = []
    for i in range(trials):
        began = time.perf_counter()
        photo_verdict_of(export, photos[i % len(photos)])
        times.append((time.perf_counter() - began) * 1000)
    return percentile(times, 50)


def _post(url: str, body: bytes, kind: str = "application/octet-stream") -> float:
    """Milliseconds for one POST answered 200."""
    began = time.perf_counter()
    request = urllib.request.Request(url, data=body, headers={"content-type": kind}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()
        if answer.status != 200:
            raise ConvlensError(f"{url} answered {answer.status} during the bench")
    return (time.perf_counter() - began) * 1000


def _load(url: str, bodies: list[bytes], requests: int, clients: int, kind: str = "application/octet-stream") -> dict:
    """Requests per second and latency percentiles with `clients` concurrent clients."""
    _post(url, bodies[0], kind)  # warm
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(lambda i: _post(url, bodies[i % len(bodies)], kind), range(requests)))
    seconds = time.perf_counter() - began
    return {
        "requests_per_s": requests / seconds,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "requests": requests,
        "clients": clients,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _median_round(rounds: list[dict]) -> dict:
    ordered = sorted(rounds, key=lambda r: r["requests_per_s"])
    middle = dict(ordered[len(ordered) // 2])
    middle["rounds_requests_per_s"] = [round(r["requests_per_s"], 2) for r in rounds]
    return middle


def _bench_serve_http(exported: Path, trials: int, log) -> dict:
    from ray import serve

    from toolkit.cluster.photo_api import npy_bytes
    from toolkit.cluster.serve_app import MAX_ONGOING, OnnxModel, PhotoVerdicts

    photos = _photos(exported)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
    url = f"http://127.0.0.1:{port}/photo"
    rounds: dict[int, list[dict]] = {1: [], 2: []}
    for round_number in range(ROUNDS):
        for replicas in (1, 2):
            app = PhotoVerdicts.options(num_replicas=replicas, ray_actor_options={"num_cpus": 1}).bind(str(exported))
            serve.run(app, name="photo", route_prefix="/photo")
            time.sleep(1.0)  # a replica just started is still warming its sessions
            measured = _load(url, photos, REQUESTS, CLIENTS)
            rounds[replicas].append(measured)
            log(
                f"[bench serve] round {round_number + 1}: {replicas} replica(s) "
                f"{measured['requests_per_s']:.1f} req/s, "
                f"p50 {measured['p50_ms']:.0f} ms, p95 {measured['p95_ms']:.0f} ms"
            )
    one, two = _median_round(rounds[1]), _median_round(rounds[2])
    # Serve's overhead: one client, one replica, against the same pipeline in-process (one thread each)
    app = PhotoVerdicts.options(num_replicas=1, ray_actor_options={"num_cpus": 1}).bind(str(exported))
    serve.run(app, name="photo", route_prefix="/photo")
    sequential = _load(url, photos, max(trials, 20), 1)
    in_process = _in_process_latency(exported, max(trials, 20))
    serve.delete("photo")
    # @serve.batch on and off: single 224 x 224 images to the raw ImageNet model, CLIENTS at once
    image = npy_bytes(np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8))
    batching = {}
    model_url = f"http://127.0.0.1:{port}/models/imagenet"
    for label, batch_size in (("off", 0), ("on", 8)):
        app = OnnxModel.options(
            num_replicas=1, ray_actor_options={"num_cpus": 1}, max_ongoing_requests=max(MAX_ONGOING, batch_size)
        ).bind("imagenet", str(exported), batch_size)
        serve.run(app, name="model-imagenet", route_prefix="/models/imagenet")
        batching[label] = _load(model_url, [image], BATCH_REQUESTS, CLIENTS, "application/x-npy")
        log(f"[bench serve] batching {label}: {batching[label]['requests_per_s']:.1f} req/s")
    serve.delete("model-imagenet")
    serve.shutdown()
    return {
        "photo_1_replica": one,
        "photo_2_replicas": two,
        "replica_speedup": two["requests_per_s"] / one["requests_per_s"],
        "p95_over_p50_2_replicas": two["p95_ms"] / two["p50_ms"],
        "p95_over_p50_1_replica": one["p95_ms"] / one["p50_ms"],
        "overhead": {
            "in_process_p50_ms": in_process,
            "serve_http_p50_ms": sequential["p50_ms"],
            "serve_overhead_ms": sequential["p50_ms"] - in_process,
        },
        "batching": {
            "model": "imagenet, 1 image a request, 1 replica of 1 CPU",
            "off_requests_per_s": batching["off"]["requests_per_s"],
            "on_requests_per_s": batching["on"]["requests_per_s"],
            "on_over_off": batching["on"]["requests_per_s"] / batching["off"]["requests_per_s"],
            "off_p50_ms": batching["off"]["p50_ms"],
            "on_p50_ms": batching["on"]["p50_ms"],
        },
    }


def _bench_classify(exported: Path, log) -> dict:
    from toolkit.cluster.batch_classify import classify

    photos = sorted((exported / EXAMPLES_FOLDER).glob("*"))
    folder = Path(tempfile.mkdtemp(prefix="convlens-classify-bench-"))
    try:
        for i in range(CLASSIFY_IMAGES):
            source = photos[i % len(photos)]
            shutil.copy(source, folder / f"{i:04d}{source.suffix}")
        local, on_ray = folder.with_suffix(".local.csv"), folder.with_suffix(".ray.csv")
        quiet = lambda total: _Silent()  # noqa: E731 - the bench prints its own lines
        here = classify([str(folder)], local, exported, progress=quiet)
        there = classify([str(folder)], on_ray, exported, use_ray=True, progress=quiet)
        same = local.read_text() == on_ray.read_text()
        log(
            f"[bench serve] classify {CLASSIFY_IMAGES} images: local {here['images_per_s']:.1f}/s, "
            f"Ray Data {there['images_per_s']:.1f}/s, same CSV: {same}"
        )
        for path in (local, on_ray):
            path.unlink()
        return {
            "images": CLASSIFY_IMAGES,
            "local_images_per_s": here["images_per_s"],
            "ray_images_per_s": there["images_per_s"],
            "ray_over_local": there["images_per_s"] / here["images_per_s"],
            "same_csv": same,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Silent:
    done = bad = 0

    def update(self, row: dict) -> None:
        self.done += 1
        self.bad += bool(row["error"])


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_serve(exported: Path | None = None, trials: int = 30, log=print) -> dict:
    """Every Serve measurement, in one run; merged into runs/bench/results.json under "serve"."""
    import ray

    from toolkit.cluster.replica_export import start_local_ray

    exported = Path(exported or exported_dir()).resolve()
    load_before = _load_average()
    log("[bench serve] the pipeline in 1 and 2 plain processes (the ceiling) ...")
    one_process = _processes_rate(exported, 1)
    two_processes = _processes_rate(exported, 2)
    log(f"[bench serve] plain processes: 1 -> {one_process:.1f}/s, 2 -> {two_processes:.1f}/s")
    cpus = os.cpu_count() or 2
    start_local_ray(cpus)
    try:
        http = _bench_serve_http(exported, trials, log)
        classify = _bench_classify(exported, log)
    finally:
        ray.shutdown()
    results = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "machine": f"{cpus} CPUs, {platform.machine()}, Python {platform.python_version()}",
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "clients": CLIENTS,
        "ceiling": {
            "one_process_per_s": one_process,
            "two_processes_per_s": two_processes,
            "speedup": two_processes / one_process,
        },
        **http,
        "share_of_ceiling": http["replica_speedup"] / (two_processes / one_process),
        "classify": classify,
    }
    folder = run_folder(BENCH)
    path = folder / RESULTS_FILE
    existing = json.loads(path.read_text()) if path.is_file() else {}
    existing[SERVE_KEY] = results
    write_json(path, existing)
    log(f"Results under {SERVE_KEY!r} in {path}")
    return results


def summary(results: dict) -> str:
    one, two, ceiling = results["photo_1_replica"], results["photo_2_replicas"], results["ceiling"]
    return "\n".join(
        [
            f"photo verdict through Serve HTTP, {results['clients']} clients:",
            f"  1 replica  {one['requests_per_s']:.1f} req/s  p50 {one['p50_ms']:.0f} ms  p95 {one['p95_ms']:.0f} ms",
            f"  2 replicas {two['requests_per_s']:.1f} req/s  p50 {two['p50_ms']:.0f} ms  p95 {two['p95_ms']:.0f} ms",
            f"  replica_speedup {results['replica_speedup']:.2f}x (plain processes {ceiling['speedup']:.2f}x; "
            f"{results['share_of_ceiling']:.0%} of it)",
            f"Serve overhead: {results['overhead']['serve_overhead_ms']:.1f} ms a request "
            f"(in-process p50 {results['overhead']['in_process_p50_ms']:.1f} ms)",
            f"batching on/off: {results['batching']['on_over_off']:.2f}x",
            f"classify: local {results['classify']['local_images_per_s']:.1f}/s, "
            f"Ray Data {results['classify']['ray_images_per_s']:.1f}/s",
            f"load average before/after: {results['load_average_before']} / {results['load_average_after']}",
        ]
    )


def serve_bench_from_cli(args) -> int:
    print(summary(bench_serve(trials=args.trials)))
    return 0
