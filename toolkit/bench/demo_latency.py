"""The demo measured end to end: cold start, memory, and latency through gradio_client and the HTTP API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.bench.photo_pipelines import compare_photo_pipelines
from toolkit.core.errors import ConvlensError
from toolkit.core.names import BENCH
from toolkit.core.wall_time import percentile
from toolkit.experiments.runs import run_folder

if TYPE_CHECKING:
    from gradio_client import Client

    from toolkit.bench.gradio_http import GradioHttp


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def start_demo(
    exported: Path, port: int, timeout: float = 90.0, gallery: bool = False
) -> tuple[subprocess.Popen[str], Client, float]:
    """Start `convlens demo` in a subprocess; returns (process, client, the perf_counter() time it was started at).

    Without `gallery`, no gallery render runs beside it (`--no-gallery`), so what is measured is the server alone.
    """
    from gradio_client import Client

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty demo never blocks on it
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "demo", "--port", str(port), "--exported", str(exported)]
        + ([] if gallery else ["--no-gallery"]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise ConvlensError(f"the demo exited during start-up: {log.read()[-2000:]}")
        try:
            client = Client(url, verbose=False)
            break
        except Exception:
            if time.perf_counter() - started > timeout:
                process.kill()
                raise ConvlensError(f"the demo did not answer on {url} within {timeout:.0f} s") from None
            time.sleep(0.1)
    return process, client, started


def _photo_payload(path: Path) -> dict:
    from gradio_client import handle_file

    return handle_file(str(path))


def bench_photo_and_sketch_inputs(folder: Path) -> tuple[Path, Path]:
    """A real photo (scikit-image's chelsea) and a drawn "7" as the Sketchpad's composite."""
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(photo)
    canvas = np.full((400, 400, 4), 255, np.uint8)
    canvas[100:130, 100:300, :3] = 0
    for row in range(130, 330):
        column = 300 - (row - 130) // 2
        canvas[row, column - 15 : column + 15, :3] = 0
    sketch = folder / "seven.png"
    Image.fromarray(canvas).save(sketch)
    return photo, sketch


def _sketch_payload(path: Path) -> dict:
    from gradio_client import handle_file

    return {"background": None, "layers": [], "composite": handle_file(str(path))}


CLIENTS = ("gradio_client", "HTTP API")  # the Python client, and the browser's protocol (toolkit.bench.gradio_http)


def _connect(url: str, kind: str) -> Client | GradioHttp:
    from gradio_client import Client

    from toolkit.bench.gradio_http import GradioHttp

    return Client(url, verbose=False) if kind == "gradio_client" else GradioHttp(url)


def _latencies(url: str, call, requests: int, concurrency: int, kind: str) -> dict:
    """p50/p95 and throughput of `call(client)` at a concurrency; no client is used by two requests at once."""
    import queue

    clients: queue.Queue = queue.Queue()
    for _ in range(concurrency):
        clients.put(_connect(url, kind))

    def timed(_: int) -> float:
        client = clients.get()
        try:
            start = time.perf_counter()
            call(client)
            return (time.perf_counter() - start) * 1000
        finally:
            clients.put(client)

    try:
        call(clients.queue[0])  # a warm-up call, outside the clock
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            times = list(pool.map(timed, range(requests)))
        elapsed = time.perf_counter() - started
    finally:
        for client in list(clients.queue):
            client.close()
    return {
        "requests": requests,
        "concurrency": concurrency,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "throughput_per_s": requests / elapsed,
    }


def _calls(photo: Path, sketch_file: Path) -> dict:
    """Per input and client kind, one classification call as that client makes it."""
    sketch_value: dict[str, object] = {"background": None, "layers": [], "composite": sketch_file}
    return {
        "photo": {
            "gradio_client": lambda c: c.predict(_photo_payload(photo), "fp32", api_name="/classify_photo"),
            "HTTP API": lambda c: c.predict(photo, "fp32", api_name="/classify_photo"),
        },
        "sketch": {
            "gradio_client": lambda c: c.predict(_sketch_payload(sketch_file), "fp32", api_name="/classify_sketch"),
            "HTTP API": lambda c: c.predict(sketch_value, "fp32", api_name="/classify_sketch"),
        },
    }


def gradio_floor(photo: Path, requests: int) -> dict:
    """p50 per client kind of a do-nothing Gradio app with the demo's shape (file in; label, PNG and text out).

    This is what gradio and each client cost on this machine before any classification runs.
    """
    import gradio as gr

    blank = np.zeros((128, 128, 3), np.uint8)
    with gr.Blocks(analytics_enabled=False) as app:
        source, label, seen, text = gr.Image(type="filepath"), gr.Label(), gr.Image(format="png"), gr.Markdown()
        gr.Button().click(
            lambda _: ({"cat": 0.5, "dog": 0.5}, blank, "-"), source, [label, seen, text], api_name="echo"
        )
    url = app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")[1]
    calls = {
        "gradio_client": lambda c: c.predict(_photo_payload(photo), api_name="/echo"),
        "HTTP API": lambda c: c.predict(photo, api_name="/echo"),
    }
    try:
        return {kind: _latencies(url, calls[kind], requests, 1, kind)["p50_ms"] for kind in CLIENTS}
    finally:
        app.close()


def bench_demo(exported: Path, trials: int, log=print) -> dict:
    """Cold start, memory, and photo/sketch latency at concurrency 1 and 8, through gradio_client and through
    the HTTP API as the browser speaks it."""
    photo, sketch = bench_photo_and_sketch_inputs(run_folder(BENCH) / "inputs")  # before the clock starts
    process, client, started = start_demo(exported, free_port())
    try:
        client.predict(_photo_payload(photo), "fp32", api_name="/classify_photo")
        cold_start = time.perf_counter() - started
        results: dict[str, Any] = {
            "cold_start_s": cold_start,
            "rss_mb_without_tensorflow": tree_rss_mb(process.pid),
            "latency": {},
        }
        log(f"  cold start {cold_start:.1f} s, {results['rss_mb_without_tensorflow']:.0f} MB")
        requests = max(trials, 20)
        for label, calls in _calls(photo, sketch).items():
            for concurrency in (1, 8):
                row = results["latency"].setdefault(f"{label}, concurrency {concurrency}", {})
                for kind in CLIENTS:
                    row[kind] = _latencies(
                        client.src, calls[kind], requests * (1 if concurrency == 1 else 2), concurrency, kind
                    )
                    log(
                        f"  {label} c{concurrency} {kind}: p50 {row[kind]['p50_ms']:.0f} ms, "
                        f"p95 {row[kind]['p95_ms']:.0f} ms, {row[kind]['throughput_per_s']:.1f}/s"
                    )
        results["photo_pipelines"] = compare_photo_pipelines(exported, photo, requests)
        for label, row in results["photo_pipelines"].items():
            log(f"  in-process judge_photo, {label}: p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms")
        results["do-nothing gradio app p50_ms"] = gradio_floor(photo, requests)
        log(
            "  a do-nothing gradio app with the same inputs and outputs: p50 "
            + ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in results["do-nothing gradio app p50_ms"].items())
        )
        try:
            client.predict("Siamese cat", "naive", 10, 64, 0, api_name="/render_class")
            results["rss_mb_after_render_loaded_tensorflow"] = tree_rss_mb(process.pid)
            log(f"  after a live render (TF loaded): {results['rss_mb_after_render_loaded_tensorflow']:.0f} MB")
        except Exception as error:  # the live panel is optional for the rest of the figures
            results["render_error"] = str(error)[:300]
        return results
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
