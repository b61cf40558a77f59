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
from toolkit.paths import exported_dir, runs_dir
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
    import keras
    import tensorflow as tf

    for name, model in manifest["models"].items():
        source = Path(model.get("source", ""))
        if source.suffix != ".keras" or not source.exists():
            log(f"  {name}: the Keras source model {source} is not here; TF paths skipped")
            continue
        keras_model = keras.models.load_model(source, compile=False)
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


def bench_photo_and_sketch_inputs(folder: Path) -> tuple[Path, dict]:
    """A real photo (scikit-image's chelsea) and a drawn "7" as the Sketchpad sends it."""
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
    sketch_file = folder / "seven.png"
    Image.fromarray(canvas).save(sketch_file)
    from gradio_client import handle_file

    sketch = {"background": None, "layers": [], "composite": handle_file(str(sketch_file))}
    return photo, sketch


def _latencies(url: str, call, requests: int, concurrency: int) -> dict:
    """p50/p95 and throughput of `call(client)` at a concurrency; no client is used by two requests at once."""
    import queue

    from gradio_client import Client

    clients: queue.Queue = queue.Queue()
    for _ in range(concurrency):
        clients.put(Client(url, verbose=False))

    def timed(_):
        client = clients.get()
        try:
            start = time.perf_counter()
            call(client)
            return (time.perf_counter() - start) * 1000
        finally:
            clients.put(client)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        times = list(pool.map(timed, range(requests)))
    elapsed = time.perf_counter() - started
    return {"requests": requests, "concurrency": concurrency, "p50_ms": percentile(times, 50),
            "p95_ms": percentile(times, 95), "throughput_per_s": requests / elapsed}


def gradio_floor_ms(photo: Path, requests: int) -> float:
    """p50 of a do-nothing Gradio app with the demo's shape (file in; label, PNG and text out).

    This is what gradio and gradio_client cost on this machine before any classification runs.
    """
    import gradio as gr
    from gradio_client import Client

    blank = np.zeros((128, 128, 3), np.uint8)
    with gr.Blocks(analytics_enabled=False) as app:
        source, label, seen, text = gr.Image(type="filepath"), gr.Label(), gr.Image(format="png"), gr.Markdown()
        gr.Button().click(lambda _: ({"cat": 0.5, "dog": 0.5}, blank, "-"), source, [label, seen, text],
                          api_name="echo")
    url = app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")[1]
    try:
        return _latencies(url, lambda c: c.predict(_photo_payload(photo), api_name="/echo"), requests, 1)["p50_ms"]
    finally:
        app.close()


def bench_demo(exported: Path, trials: int, log=print) -> dict:
    """Cold start, memory, and photo/sketch latency through gradio_client at concurrency 1 and 8."""
    photo, sketch = bench_photo_and_sketch_inputs(run_folder("bench") / "inputs")  # before the clock starts
    process, client, started = start_demo(exported, _free_port())
    try:
        client.predict(_photo_payload(photo), "fp32", api_name="/classify_photo")
        cold_start = time.perf_counter() - started
        results = {"cold_start_s": cold_start, "rss_mb_without_tensorflow": _tree_rss_mb(process.pid)}
        log(f"  cold start {cold_start:.1f} s, {results['rss_mb_without_tensorflow']:.0f} MB")
        requests = max(trials, 20)
        for label, call in (
                ("photo", lambda c: c.predict(_photo_payload(photo), "fp32", api_name="/classify_photo")),
                ("sketch", lambda c: c.predict(sketch, "fp32", api_name="/classify_sketch"))):
            for concurrency in (1, 8):
                figures = _latencies(client.src, call, requests if concurrency == 1 else requests * 2, concurrency)
                results[f"{label}, concurrency {concurrency}"] = figures
                log(f"  {label} c{concurrency}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
                    f"{figures['throughput_per_s']:.1f}/s")
        results["gradio floor, do-nothing app p50_ms"] = gradio_floor_ms(photo, requests)
        log(f"  a do-nothing gradio app with the same inputs and outputs: p50 "
            f"{results['gradio floor, do-nothing app p50_ms']:.0f} ms")
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
        f"{grid['one_at_a_time_seconds']:.1f} s ({grid['speedup']:.1f}x)")
    robust = time_class_render("Siamese cat", "robust", size=128)
    log(f"  robust Siamese cat, {robust['steps']} steps: {robust['seconds']:.1f} s")
    return {"64-filter grid batched s": grid["batched_seconds"],
            "64-filter grid one at a time s (8 timed, scaled)": grid["one_at_a_time_seconds"],
            "one at a time without tracing s": grid["one_at_a_time_seconds_without_tracing"],
            "batched speed-up": grid["speedup"],
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
        lines += ["| demo through gradio_client | p50 ms | p95 ms | requests/s |", "|---|---|---|---|"]
        for key, value in demo.items():
            if isinstance(value, dict):
                lines.append(f"| {key} | {value['p50_ms']:.0f} | {value['p95_ms']:.0f} | "
                             f"{value['throughput_per_s']:.1f} |")
        if "gradio floor, do-nothing app p50_ms" in demo:
            lines.append(f"| a do-nothing gradio app, same inputs and outputs, concurrency 1 (gradio's own cost) | "
                         f"{demo['gradio floor, do-nothing app p50_ms']:.0f} | | |")
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

