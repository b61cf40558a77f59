"""One model exported and proven faithful: converted, then TF, SavedModel, ONNX fp32 and int8 compared on
real held-out images, and the manifest entry that records it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.export.conversions import (
    OPSET,
    annotate_onnx,
    convert_to_onnx,
    export_saved_model,
    quantize_int8,
    saved_model_outputs,
    tf_outputs,
)
from toolkit.export.manifest import file_entry
from toolkit.export.onnx_runtime import BATCH, onnx_outputs, onnx_session

PARITY_TOLERANCE = 1e-5
INT8_MAX_ACCURACY_LOSS = 0.01
CALIBRATION_IMAGES = 300


@dataclass
class ExportSpec:
    """One model to export, with the real images that prove the export faithful."""

    name: str
    model: object  # a Keras 3 (or tf_keras) model taking float32 NHWC pixels 0..255
    task: str  # "binary" (output p(labels[1])) or "multiclass" (one probability per label)
    labels: list[str]
    preprocessing: dict
    test_x: np.ndarray  # model-ready images (N, H, W, C), held out from training
    test_y: np.ndarray | None  # labels, or None when unknown (bring-your-own models)
    calibration_x: np.ndarray  # training images for int8 calibration
    source: str
    test_set: str
    extra: dict = field(default_factory=dict)


def decisions(task: str, outputs: np.ndarray) -> np.ndarray:
    """Class decisions from model outputs: p >= 0.5 for binary, argmax otherwise."""
    outputs = outputs.reshape(len(outputs), -1)
    if task == "binary":
        return (outputs[:, 0] >= 0.5).astype(np.int64)
    return outputs.argmax(axis=1)


def accuracy(task: str, outputs: np.ndarray, labels: np.ndarray | None) -> float | None:
    """Share of decisions equal to the labels (None when there are no labels)."""
    if labels is None:
        return None
    return float((decisions(task, outputs) == np.asarray(labels)).mean())


def export_one(spec: ExportSpec, folder: Path, log=print) -> dict:
    """Write one model's files into `folder` and return its manifest entry (paths relative to its parent)."""
    folder.mkdir(parents=True)
    input_shape = tuple(int(d) for d in spec.test_x.shape[1:])
    started = time.perf_counter()
    log(f"[{spec.name}] SavedModel ...")
    export_saved_model(spec.model, folder / "saved_model")
    log(f"[{spec.name}] ONNX fp32 (opset {OPSET}) ...")
    optimization = convert_to_onnx(spec.model, input_shape, folder / "model.onnx")
    annotate_onnx(folder / "model.onnx", spec.name, spec.task, spec.labels, spec.preprocessing)
    log(
        f"[{spec.name}] int8 ONNX (static QDQ, {min(len(spec.calibration_x), CALIBRATION_IMAGES)} "
        "calibration images) ..."
    )
    quantize_int8(folder / "model.onnx", folder / "model.int8.onnx", spec.calibration_x[:CALIBRATION_IMAGES])
    annotate_onnx(folder / "model.int8.onnx", spec.name, spec.task, spec.labels, spec.preprocessing)

    log(f"[{spec.name}] parity and accuracy on {len(spec.test_x)} held-out images ({spec.test_set}) ...")
    test_x = spec.test_x.astype(np.float32)
    reference = tf_outputs(spec.model, test_x)
    fp32_session = onnx_session(folder / "model.onnx")
    fp32 = onnx_outputs(fp32_session, test_x)
    int8 = onnx_outputs(onnx_session(folder / "model.int8.onnx"), test_x)
    saved = saved_model_outputs(folder / "saved_model", test_x[:BATCH])
    max_abs = float(np.abs(reference - fp32).max())
    same_decisions = bool((decisions(spec.task, reference) == decisions(spec.task, fp32)).all())
    if max_abs > PARITY_TOLERANCE or not same_decisions:
        raise ConvlensError(
            f"{spec.name}: the ONNX export is not faithful (max abs difference {max_abs:.2e} "
            f"against the limit {PARITY_TOLERANCE:.0e}, identical decisions: {same_decisions}); "
            f"the previous export was kept."
        )
    tf_accuracy = accuracy(spec.task, reference, spec.test_y)
    fp32_accuracy = accuracy(spec.task, fp32, spec.test_y)
    int8_accuracy = accuracy(spec.task, int8, spec.test_y)
    int8_agreement = float((decisions(spec.task, int8) == decisions(spec.task, fp32)).mean())
    fp32_bytes = (folder / "model.onnx").stat().st_size
    int8_bytes = (folder / "model.int8.onnx").stat().st_size
    if tf_accuracy is not None and int8_accuracy is not None:  # labels known (spec.test_y)
        recommended = tf_accuracy - int8_accuracy <= INT8_MAX_ACCURACY_LOSS
        rule = f"int8 loses at most {INT8_MAX_ACCURACY_LOSS:.0%} test accuracy"
    else:
        recommended = int8_agreement >= 1 - INT8_MAX_ACCURACY_LOSS
        rule = f"no labels: int8 agrees with fp32 on at least {1 - INT8_MAX_ACCURACY_LOSS:.0%} of decisions"
    entry = {
        "task": spec.task,
        "labels": list(spec.labels),
        "input": {
            "name": "image",
            "shape": [None, *input_shape],
            "dtype": "float32",
            "range": [0, 255],
            "layout": "NHWC",
        },
        "output": {
            "name": fp32_session.get_outputs()[0].name,
            "activation": "sigmoid" if spec.task == "binary" else "softmax",
        },
        "preprocessing": spec.preprocessing,
        "files": {
            kind: file_entry(folder.parent, f"{spec.name}/{relative}")
            for kind, relative in (
                ("onnx", "model.onnx"),
                ("onnx_int8", "model.int8.onnx"),
                ("saved_model", "saved_model"),
            )
        },
        "metrics": {
            "test_set": spec.test_set,
            "n_test": int(len(test_x)),
            "tf_test_accuracy": tf_accuracy,
            "onnx_fp32_test_accuracy": fp32_accuracy,
            "onnx_int8_test_accuracy": int8_accuracy,
        },
        "parity": {
            "n_images": int(len(test_x)),
            "tf_vs_onnx_fp32_max_abs_diff": max_abs,
            "tolerance": PARITY_TOLERANCE,
            "decisions_identical": same_decisions,
            "tf_vs_saved_model_max_abs_diff": float(
                np.abs(reference[:BATCH] - saved.reshape(reference[:BATCH].shape)).max()
            ),
            "tf_vs_onnx_int8_max_abs_diff": float(np.abs(reference - int8).max()),
        },
        "quantization": {
            "method": "onnxruntime static QDQ, U8 activations, S8 per-channel weights, first convolution kept in float",
            "calibration_images": int(min(len(spec.calibration_x), CALIBRATION_IMAGES)),
            "accuracy_delta": None if tf_accuracy is None or int8_accuracy is None else int8_accuracy - tf_accuracy,
            "decision_agreement_with_fp32": int8_agreement,
            "size_ratio": int8_bytes / fp32_bytes,
            "fp32_bytes": fp32_bytes,
            "int8_bytes": int8_bytes,
            "recommended": bool(recommended),
            "rule": rule,
        },
        "onnx_optimization": optimization,
        "source": spec.source,
        "export_seconds": round(time.perf_counter() - started, 1),
        **spec.extra,
    }
    log(
        f"[{spec.name}] parity {max_abs:.1e}; accuracy TF {_pct(tf_accuracy)}, ONNX fp32 {_pct(fp32_accuracy)}, "
        f"int8 {_pct(int8_accuracy)} ({int8_bytes / fp32_bytes:.2f}x the size; "
        f"{'recommended' if recommended else 'not recommended'})"
    )
    return entry


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
