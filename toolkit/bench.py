"""`convlens bench`: latency, throughput, cold start, memory and rendering speed, measured.

These machines are noisy (single trials vary 2-4x), so every figure is a median over repeated
trials, and every comparison is a ratio of two things measured in the same run. Results go to
`runs/bench/results.json` and `runs/bench/results.md` (the table README shows).
"""

from __future__ import annotations

import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from toolkit.errors import ConvlensError
from toolkit.manifest import load_verified_manifest
from toolkit.model_files import load_keras_model
from toolkit.paths import exported_dir
from toolkit.runs import run_folder, write_json

SECTIONS = ("inference", "demo", "ascent", "training")


def median_ms(function, trials: int, warmup: int = 3) -> float:
    """Median wall time of `function()` in milliseconds over `trials` calls, after warm-up calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of a list of numbers."""
    return float(np.percentile(np.asarray(values), q))


# ---------------------------------------------------------------- inference

def _sample(shape: list, batch: int) -> np.ndarray:
    return np.random.default_rng(batch).uniform(0, 255, (batch, *shape[1:])).astype(np.float32)


def bench_inference(exported: Path, trials: int, log=print) -> dict:
    """onnxruntime fp32 and int8, TF tf.function and TF eager, at batch 1 and 32, per model.

    onnxruntime is measured before TensorFlow is imported (TF in the same process slows it).
    """
    from toolkit.onnx_runtime import onnx_session

    manifest = load_verified_manifest(exported)
    results: dict = {}
    for name, model in manifest["models"].items():
        for kind, label in (("onnx", "onnxruntime fp32"), ("onnx_int8", "onnxruntime int8")):
            session = onnx_session(exported / model["files"][kind]["path"])
            for batch in (1, 32):
                x = _sample(model["input"]["shape"], batch)
                ms = median_ms(lambda: session.run(None, {"image": x}), trials)
                results.setdefault(name, {}).setdefault(f"batch {batch}", {})[label] = ms
                log(f"  {name} b{batch} {label}: {ms:.2f} ms")
    import tensorflow as tf

    for name, model in manifest["models"].items():
        source = Path(model.get("source", ""))
        if source.suffix != ".keras" or not source.exists():
            log(f"  {name}: the Keras source model {source} is not here; TF paths skipped")
            continue
        keras_model = load_keras_model(source)
        graph = tf.function(lambda x: keras_model(x, training=False))
        for batch in (1, 32):
            x = tf.constant(_sample(model["input"]["shape"], batch))
            row = results[name][f"batch {batch}"]
            row["TF tf.function"] = median_ms(lambda: graph(x).numpy(), trials)
            row["TF eager"] = median_ms(lambda: keras_model(x, training=False).numpy(), max(5, trials // 3))
            for tf_path in ("TF tf.function", "TF eager"):
                row[f"onnxruntime fp32 speed-up over {tf_path}"] = row[tf_path] / row["onnxruntime fp32"]
                row[f"onnxruntime int8 speed-up over {tf_path}"] = row[tf_path] / row["onnxruntime int8"]
            log(f"  {name} b{batch} TF tf.function {row['TF tf.function']:.2f} ms, eager {row['TF eager']:.2f} ms")
    return results


# ---------------------------------------------------------------- the demo, end to end

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tree_rss_mb(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def start_demo(exported: Path, port: int, timeout: float = 90.0):
    """Start `convlens demo` in a subprocess; returns (process, client, seconds to first answer)."""
    from gradio_client import Client

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty demo never blocks on it
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "demo", "--port", str(port),
                                "--exported", str(exported)], env=env,
                               stdout=subprocess.DEVNULL, stderr=log, text=True)
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


def _photo_payload(path: Path):
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
        canvas[row, column - 15:column + 15, :3] = 0
    sketch = folder / "seven.png"
    Image.fromarray(canvas).save(sketch)
    return photo, sketch


def _sketch_payload(path: Path) -> dict:
    from gradio_client import handle_file

    return {"background": None, "layers": [], "composite": handle_file(str(path))}


CLIENTS = ("gradio_client", "HTTP API")  # the Python client, and the browser's protocol (toolkit.gradio_http)


def _connect(url: str, kind: str):
    from gradio_client import Client

    from toolkit.gradio_http import GradioHttp

    return Client(url, verbose=False) if kind == "gradio_client" else GradioHttp(url)


def _latencies(url: str, call, requests: int, concurrency: int, kind: str) -> dict:
    """p50/p95 and throughput of `call(client)` at a concurrency; no client is used by two requests at once."""
    import queue

    clients: queue.Queue = queue.Queue()
    for _ in range(concurrency):
        clients.put(_connect(url, kind))

    def timed(_):
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
    return {"requests": requests, "concurrency": concurrency, "p50_ms": percentile(times, 50),
            "p95_ms": percentile(times, 95), "throughput_per_s": requests / elapsed}


def _calls(photo: Path, sketch_file: Path) -> dict:
    """Per input and client kind, one classification call as that client makes it."""
    sketch_value = {"background": None, "layers": [], "composite": sketch_file}
    return {
        "photo": {"gradio_client": lambda c: c.predict(_photo_payload(photo), "fp32", api_name="/classify_photo"),
                  "HTTP API": lambda c: c.predict(photo, "fp32", api_name="/classify_photo")},
        "sketch": {"gradio_client": lambda c: c.predict(_sketch_payload(sketch_file), "fp32",
                                                        api_name="/classify_sketch"),
                   "HTTP API": lambda c: c.predict(sketch_value, "fp32", api_name="/classify_sketch")},
    }


def gradio_floor(photo: Path, requests: int) -> dict:
    """p50 per client kind of a do-nothing Gradio app with the demo's shape (file in; label, PNG and text out).

    This is what gradio and each client cost on this machine before any classification runs.
    """
    import gradio as gr

    blank = np.zeros((128, 128, 3), np.uint8)
    with gr.Blocks(analytics_enabled=False) as app:
        source, label, seen, text = gr.Image(type="filepath"), gr.Label(), gr.Image(format="png"), gr.Markdown()
        gr.Button().click(lambda _: ({"cat": 0.5, "dog": 0.5}, blank, "-"), source, [label, seen, text],
                          api_name="echo")
    url = app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")[1]
    calls = {"gradio_client": lambda c: c.predict(_photo_payload(photo), api_name="/echo"),
             "HTTP API": lambda c: c.predict(photo, api_name="/echo")}
    try:
        return {kind: _latencies(url, calls[kind], requests, 1, kind)["p50_ms"] for kind in CLIENTS}
    finally:
        app.close()


def bench_demo(exported: Path, trials: int, log=print) -> dict:
    """Cold start, memory, and photo/sketch latency at concurrency 1 and 8, through gradio_client and through
    the HTTP API as the browser speaks it."""
    photo, sketch = bench_photo_and_sketch_inputs(run_folder("bench") / "inputs")  # before the clock starts
    process, client, started = start_demo(exported, _free_port())
    try:
        client.predict(_photo_payload(photo), "fp32", api_name="/classify_photo")
        cold_start = time.perf_counter() - started
        results = {"cold_start_s": cold_start, "rss_mb_without_tensorflow": _tree_rss_mb(process.pid),
                   "latency": {}}
        log(f"  cold start {cold_start:.1f} s, {results['rss_mb_without_tensorflow']:.0f} MB")
        requests = max(trials, 20)
        for label, calls in _calls(photo, sketch).items():
            for concurrency in (1, 8):
                row = results["latency"].setdefault(f"{label}, concurrency {concurrency}", {})
                for kind in CLIENTS:
                    row[kind] = _latencies(client.src, calls[kind], requests * (1 if concurrency == 1 else 2),
                                           concurrency, kind)
                    log(f"  {label} c{concurrency} {kind}: p50 {row[kind]['p50_ms']:.0f} ms, "
                        f"p95 {row[kind]['p95_ms']:.0f} ms, {row[kind]['throughput_per_s']:.1f}/s")
        results["do-nothing gradio app p50_ms"] = gradio_floor(photo, requests)
        log("  a do-nothing gradio app with the same inputs and outputs: p50 " + ", ".join(
            f"{kind} {ms:.0f} ms" for kind, ms in results["do-nothing gradio app p50_ms"].items()))
        try:
            client.predict("Siamese cat", "naive", 10, 64, 0, api_name="/render_class")
            results["rss_mb_after_render_loaded_tensorflow"] = _tree_rss_mb(process.pid)
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


# ---------------------------------------------------------------- gradient ascent and training

def bench_ascent(trials: int, log=print) -> dict:
    """The 64-filter grid batched vs one filter at a time (same steps), and the robust class render.

    One at a time is timed on 8 filters, each tracing its own step as a loop over filters would,
    and scaled to 64.
    """
    from toolkit.ascent.timing import time_class_render, time_filter_grid

    grid = time_filter_grid("conv_pw_5_relu", filters=64, steps=30, size=128, one_at_a_time=8)
    log(f"  64 filters, naive 30 steps: batched {grid['batched_seconds']:.1f} s, one at a time "
        f"{grid['one_at_a_time_seconds']:.1f} s ({grid['speedup']:.1f}x), reusing one trace "
        f"{grid['one_at_a_time_seconds_without_tracing']:.1f} s ({grid['speedup_without_tracing']:.1f}x); a forward "
        f"and backward pass costs {grid['gradient_ms_per_image_batched']:.2f} ms per image at batch 64, "
        f"{grid['gradient_ms_per_image_alone']:.2f} ms alone ({grid['ceiling_without_tracing']:.1f}x)")
    robust = time_class_render("Siamese cat", "robust", size=128)
    log(f"  robust Siamese cat, {robust['steps']} steps: {robust['seconds']:.1f} s")
    return {"64-filter grid batched s": grid["batched_seconds"],
            "64-filter grid one at a time s (8 timed, each tracing its step as a loop over filters does; scaled)":
                grid["one_at_a_time_seconds"],
            "batched speed-up": grid["speedup"],
            "one at a time reusing one trace s": grid["one_at_a_time_seconds_without_tracing"],
            "batched speed-up over one at a time reusing one trace": grid["speedup_without_tracing"],
            "forward + backward ms per image, batch 64": grid["gradient_ms_per_image_batched"],
            "forward + backward ms per image, batch 1": grid["gradient_ms_per_image_alone"],
            "arithmetic ceiling of batching (batch 1 / batch 64 per image)": grid["ceiling_without_tracing"],
            f"robust class render s ({robust['steps']} steps, 128 px)": robust["seconds"]}


def bench_training(trials: int, log=print) -> dict:
    """Images per second for cats vs dogs, frozen base and whole-network fine-tuning (median of 3)."""
    from toolkit.catsdogs import measure_training_throughput

    results = {}
    for phase in ("frozen", "fine_tune"):
        rates = [measure_training_throughput(phase=phase, steps=5) for _ in range(3)]
        results[f"{phase} images/s"] = statistics.median(rates)
        log(f"  {phase}: {results[f'{phase} images/s']:.1f} images/s")
    return results


# ---------------------------------------------------------------- report

def markdown_table(results: dict) -> str:
    """The results as the markdown tables README shows."""
    lines = [f"Measured {results['created'][:16]} on {results['machine']} by `convlens bench` (medians of "
             f"{results['trials']} trials).", ""]
    inference = results.get("inference", {})
    if inference:
        lines += ["| model | batch | onnxruntime fp32 ms | onnxruntime int8 ms | TF tf.function ms | TF eager ms | "
                  "fp32 speed-up vs tf.function | int8 speed-up vs tf.function |", "|---|---|---|---|---|---|---|---|"]
        for name, rows in inference.items():
            for batch, row in rows.items():
                cell = lambda key, fmt="{:.2f}": fmt.format(row[key]) if key in row else "n/a"
                lines.append(f"| {name} | {batch.split()[-1]} | {cell('onnxruntime fp32')} | "
                             f"{cell('onnxruntime int8')} | {cell('TF tf.function')} | {cell('TF eager')} | "
                             f"{cell('onnxruntime fp32 speed-up over TF tf.function', '{:.1f}x')} | "
                             f"{cell('onnxruntime int8 speed-up over TF tf.function', '{:.1f}x')} |")
        lines.append("")
    demo = results.get("demo", {})
    if demo:
        lines += ["| demo, fp32 | gradio_client p50 ms | p95 ms | requests/s | HTTP API (as the browser) p50 ms | "
                  "p95 ms | requests/s |", "|---|---|---|---|---|---|---|"]
        for key, row in demo.get("latency", {}).items():
            lines.append(f"| {key} | " + " | ".join(f"{row[kind]['p50_ms']:.0f} | {row[kind]['p95_ms']:.0f} | "
                                                    f"{row[kind]['throughput_per_s']:.1f}" for kind in CLIENTS) + " |")
        floor = demo.get("do-nothing gradio app p50_ms")
        if floor:
            lines.append(f"| a do-nothing gradio app, same inputs and outputs, concurrency 1 (gradio's and the "
                         f"client's own cost) | {floor['gradio_client']:.0f} | | | {floor['HTTP API']:.0f} | | |")
        lines += ["", "gradio_client waits for each message of the event stream by polling with a 50 ms sleep, "
                      "which the do-nothing row shows; the HTTP API columns make the same calls as the page does "
                      "(upload, join the queue, read the event stream, download the result's image)."]
        lines += ["", f"Demo cold start (process start to first answer): {demo['cold_start_s']:.1f} s; resident "
                      f"memory {demo['rss_mb_without_tensorflow']:.0f} MB without TensorFlow"
                  + (f", {demo['rss_mb_after_render_loaded_tensorflow']:.0f} MB after a live render loaded it."
                     if "rss_mb_after_render_loaded_tensorflow" in demo else "."), ""]
    for section, title in (("ascent", "Gradient ascent"), ("training", "Training throughput (cats vs dogs)")):
        if results.get(section):
            lines += [f"| {title} | value |", "|---|---|"]
            lines += [f"| {key} | {value:.2f} |" if isinstance(value, float) else f"| {key} | {value} |"
                      for key, value in results[section].items()]
            lines.append("")
    return "\n".join(lines)


def run_bench(sections: list[str] | None = None, trials: int = 30, exported: Path | None = None, log=print) -> dict:
    """Run the chosen sections and write runs/bench/results.json and results.md."""
    exported = Path(exported or exported_dir())
    chosen = list(sections or SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise ConvlensError(f"unknown bench section(s) {sorted(unknown)}; known: {list(SECTIONS)}")
    results = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(), "trials": trials,
               "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"}
    # The demo runs in its own process; measure it before this process imports TensorFlow.
    order = [s for s in ("demo", "inference", "ascent", "training") if s in chosen]
    runners = {"inference": lambda: bench_inference(exported, trials, log), "demo": lambda: bench_demo(exported, trials, log),
               "ascent": lambda: bench_ascent(trials, log), "training": lambda: bench_training(trials, log)}
    for section in order:
        log(f"[bench] {section} ...")
        results[section] = runners[section]()
    folder = run_folder("bench")
    write_json(folder / "results.json", results)
    (folder / "results.md").write_text(markdown_table(results) + "\n")
    log(f"Results in {folder / 'results.json'} and {folder / 'results.md'}")
    return results


def bench_from_cli(args) -> int:
    print(markdown_table(run_bench(args.only, args.trials)))
    return 0

