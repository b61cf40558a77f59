"""Model speed: onnxruntime fp32 and int8 against TensorFlow, and training throughput.

These machines are noisy (single trials vary 2-4x), so every figure is a median over repeated trials.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.core.model_files import load_keras_model
from toolkit.core.wall_time import median_ms
from toolkit.serving.contract import load_verified_manifest

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def _sample(image_shape: tuple[int, ...], batch: int) -> np.ndarray:
    return np.random.default_rng(batch).uniform(0, 255, (batch, *image_shape)).astype(np.float32)


def _inference_graph(keras_model: keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """The model's forward pass in inference mode, as a tf.function."""
    import tensorflow as tf

    return tf.function(lambda x: keras_model(x, training=False))


def bench_inference(exported: Path, trials: int, log=print) -> dict:
    """onnxruntime fp32 and int8, TF tf.function and TF eager, at batch 1 and 32, per model, with GFLOP/s.

    onnxruntime is measured before TensorFlow is imported (TF in the same process slows it). GFLOP/s
    count the fp32 ONNX graph's Conv/MatMul/Gemm FLOPs (`toolkit.bench.flops`) for every path, and are
    set against the machine's float32 GEMM peak measured once here.
    """
    from toolkit.bench.flops import graph_flops, measured_peak_gflops
    from toolkit.serving.onnx_sessions import onnx_session

    manifest = load_verified_manifest(exported)
    results: dict = {}
    peak = measured_peak_gflops()
    log(f"  machine float32 GEMM peak (onnxruntime MatMul 1024^3, median): {peak:.0f} GFLOP/s")
    flops = {name: graph_flops(exported / entry.files["onnx"].path) for name, entry in manifest.models.items()}
    for name, entry in manifest.models.items():
        for batch in (1, 32):
            row = results.setdefault(name, {}).setdefault(f"batch {batch}", {})
            row["GFLOP per image"] = flops[name] / 1e9
            row["peak GFLOP/s"] = peak
        for kind, label in (("onnx", "onnxruntime fp32"), ("onnx_int8", "onnxruntime int8")):
            session = onnx_session(exported / entry.files[kind].path)
            for batch in (1, 32):
                x = _sample(entry.input.image_shape, batch)
                ms = median_ms(lambda session=session, x=x: session.run(None, {"image": x}), trials)
                results.setdefault(name, {}).setdefault(f"batch {batch}", {})[label] = ms
                log(f"  {name} b{batch} {label}: {ms:.2f} ms")
                _rate(results[name][f"batch {batch}"], label, batch)
    import tensorflow as tf

    for name, entry in manifest.models.items():
        source = Path(entry.source)
        if source.suffix != ".keras" or not source.exists():
            log(f"  {name}: the Keras source model {source} is not here; TF paths skipped")
            continue
        keras_model = load_keras_model(source)
        graph = _inference_graph(keras_model)
        for batch in (1, 32):
            x = tf.constant(_sample(entry.input.image_shape, batch))
            row = results[name][f"batch {batch}"]
            row["TF tf.function"] = median_ms(lambda graph=graph, x=x: graph(x).numpy(), trials)
            row["TF eager"] = median_ms(
                lambda keras_model=keras_model, x=x: keras_model(x, training=False).numpy(), max(5, trials // 3)
            )
            for tf_path in ("TF tf.function", "TF eager"):
                _rate(row, tf_path, batch)
                row[f"onnxruntime fp32 speed-up over {tf_path}"] = row[tf_path] / row["onnxruntime fp32"]
                row[f"onnxruntime int8 speed-up over {tf_path}"] = row[tf_path] / row["onnxruntime int8"]
            log(f"  {name} b{batch} TF tf.function {row['TF tf.function']:.2f} ms, eager {row['TF eager']:.2f} ms")
    return results


def _rate(row: dict, label: str, batch: int) -> None:
    """`label` GFLOP/s and its share of the measured peak, from the row's milliseconds."""
    rate = row["GFLOP per image"] * batch / (row[label] / 1000)
    row[f"{label} GFLOP/s"] = rate
    row[f"{label} share of peak"] = rate / row["peak GFLOP/s"]


def bench_training(trials: int, log=print) -> dict:
    """Images per second for cats vs dogs, frozen base and whole-network fine-tuning (median of 3)."""
    from toolkit.experiments.catsdogs import measure_training_throughput

    results = {}
    for phase in ("frozen", "fine_tune"):
        rates = [measure_training_throughput(phase=phase, steps=5) for _ in range(3)]
        results[f"{phase} images/s"] = statistics.median(rates)
        log(f"  {phase}: {results[f'{phase} images/s']:.1f} images/s")
    return results
