"""One model exported and proven faithful: converted, then TF, SavedModel, ONNX fp32 and int8 compared on
real held-out images, and the manifest entry that records it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.core.names import ONNX_INPUT_NAME, ONNX_OUTPUT_NAMES
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
    # what the model card and the ONNX doc_string say: "description", "license", "datasets",
    # "data", "limitations" (a list), "command" (how to make it again); all optional
    about: dict = field(default_factory=dict)
    # figures of the model's own beyond test accuracy, from the outputs on test_x of
    # {"tf", "onnx_fp32", "onnx_int8"}; merged into the manifest entry's metrics
    evaluate: Callable[[dict[str, np.ndarray]], dict] | None = None
    parity_tolerance: float = PARITY_TOLERANCE  # max abs difference allowed between Keras and ONNX fp32 outputs


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


def onnx_descriptions(spec: ExportSpec, variant: str, input_shape: tuple[int, ...]) -> tuple[str, str]:
    """(graph doc_string: one line, model doc_string: what it is, its contract, labels, how it was made)."""
    height, width, channels = input_shape
    output = ONNX_OUTPUT_NAMES[spec.task]
    short = [label.split(",")[0] for label in spec.labels]  # ImageNet names list synonyms: the first says it
    labels = short if len(short) <= 12 else [*short[:3], "...", short[-1]]
    what = spec.about.get("description") or f"the {spec.name} model exported by convlens"
    made = (
        f"int8 static QDQ (onnxruntime quantize_static: U8 activations, S8 per-channel weights, first "
        f"convolution kept in float, calibrated on {min(len(spec.calibration_x), CALIBRATION_IMAGES)} images) "
        f"of the fp32 file, which is"
        if variant == "int8"
        else "fp32,"
    )
    summary = f"convlens {spec.name} ({variant}): {what}"
    description = (
        f"{what}.\n"
        f"Input `{ONNX_INPUT_NAME}`: float32 NHWC [batch, {height}, {width}, {channels}], pixel values 0..255 "
        f"({'RGB' if channels == 3 else 'grayscale'}); normalisation happens inside the model.\n"
        f"Output `{output}`: "
        + (
            f"p({spec.labels[1]}) (sigmoid), labels {spec.labels[0]} / {spec.labels[1]}.\n"
            if spec.task == "binary"
            else f"softmax over {len(spec.labels)} labels ({', '.join(labels)}).\n"
        )
        + f"Preprocessing before the model: metadata key convlens.preprocessing.\n"
        f"Made: {made} converted by tf2onnx (opset {OPSET}) from {spec.source}"
        + (f" with `{spec.about['command']}`" if spec.about.get("command") else "")
        + "."
    )
    return summary, description


def export_one(spec: ExportSpec, folder: Path, log=print, model_version: int = 1) -> dict:
    """Write one model's files into `folder` and return its manifest entry (paths relative to its parent).

    `model_version` goes into the ONNX files: the how-manyeth export of this model into its folder.
    """
    folder.mkdir(parents=True)
    input_shape = tuple(int(d) for d in spec.test_x.shape[1:])
    started = time.perf_counter()
    log(f"[{spec.name}] SavedModel ...")
    export_saved_model(spec.model, folder / "saved_model")
    log(f"[{spec.name}] ONNX fp32 (opset {OPSET}) ...")
    optimization = convert_to_onnx(spec.model, input_shape, folder / "model.onnx", ONNX_OUTPUT_NAMES[spec.task])
    for variant, file in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
        if variant == "int8":
            log(
                f"[{spec.name}] int8 ONNX (static QDQ, {min(len(spec.calibration_x), CALIBRATION_IMAGES)} "
                f"calibration images) ..."
            )
            quantize_int8(folder / "model.onnx", folder / file, spec.calibration_x[:CALIBRATION_IMAGES])
        summary, description = onnx_descriptions(spec, variant, input_shape)
        annotate_onnx(
            folder / file,
            spec.name,
            spec.task,
            spec.labels,
            spec.preprocessing,
            variant=variant,
            summary=summary,
            description=description,
            model_version=model_version,
        )

    log(f"[{spec.name}] parity and accuracy on {len(spec.test_x)} held-out images ({spec.test_set}) ...")
    test_x = spec.test_x.astype(np.float32)
    reference = tf_outputs(spec.model, test_x)
    fp32_session = onnx_session(folder / "model.onnx")
    fp32 = onnx_outputs(fp32_session, test_x)
    int8 = onnx_outputs(onnx_session(folder / "model.int8.onnx"), test_x)
    saved = saved_model_outputs(folder / "saved_model", test_x[:BATCH])
    max_abs = float(np.abs(reference - fp32).max())
    same_decisions = bool((decisions(spec.task, reference) == decisions(spec.task, fp32)).all())
    if max_abs > spec.parity_tolerance or not same_decisions:
        raise ConvlensError(
            f"{spec.name}: the ONNX export is not faithful (max abs difference {max_abs:.2e} "
            f"against the limit {spec.parity_tolerance:.0e}, identical decisions: {same_decisions}); "
            f"the previous export was kept."
        )
    tf_accuracy = accuracy(spec.task, reference, spec.test_y)
    fp32_accuracy = accuracy(spec.task, fp32, spec.test_y)
    int8_accuracy = accuracy(spec.task, int8, spec.test_y)
    int8_agreement = float((decisions(spec.task, int8) == decisions(spec.task, fp32)).mean())
    fp32_bytes = (folder / "model.onnx").stat().st_size
    int8_bytes = (folder / "model.int8.onnx").stat().st_size
    own_metrics = spec.evaluate({"tf": reference, "onnx_fp32": fp32, "onnx_int8": int8}) if spec.evaluate else {}
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
            **own_metrics,
        },
        "parity": {
            "n_images": int(len(test_x)),
            "tf_vs_onnx_fp32_max_abs_diff": max_abs,
            "tolerance": spec.parity_tolerance,
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
        "model_version": int(model_version),
        "about": dict(spec.about),
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
