"""One model exported and proven faithful: converted, then TF, SavedModel, ONNX fp32 and int8 compared on
real held-out images, and the manifest entry that records it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.core.errors import ConvlensError
from toolkit.core.names import ONNX_FILE, ONNX_INPUT_NAME, ONNX_INT8_FILE, ONNX_OUTPUT_NAMES, SAVED_MODEL_FOLDER
from toolkit.export.conversions import (
    OPSET,
    annotate_onnx,
    convert_to_onnx,
    export_saved_model,
    quantize_int8,
    saved_model_outputs,
    tf_outputs,
)
from toolkit.serving.contract import FileRef, InputSpec, ManifestEntry
from toolkit.serving.onnx_sessions import BATCH, onnx_outputs, onnx_session

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
    test_x: np.ndarray  # model-ready images (N, H, W, C), held out from training: reported figures only
    test_y: np.ndarray | None  # labels, or None when unknown (bring-your-own models)
    calibration_x: np.ndarray  # training images for int8 calibration, none of them in validation_x
    source: str
    test_set: str
    # held-out images every int8 decision is made on (first layer in float or not, recommended or not),
    # their labels (None: agreement with fp32 decides) and what they are
    validation_x: np.ndarray = field(kw_only=True)
    validation_y: np.ndarray | None = field(kw_only=True)
    validation_set: str = field(kw_only=True)
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


def agreement(task: str, outputs: np.ndarray, reference: np.ndarray) -> float:
    """Share of decisions from `outputs` equal to those from `reference`."""
    return float((decisions(task, outputs) == decisions(task, reference)).mean())


def int8_method(first_layer_in_float: bool) -> str:
    """The int8 recipe in words, as the manifest and the ONNX doc_string say it."""
    first = "first convolution kept in float" if first_layer_in_float else "every layer quantized"
    return f"onnxruntime static QDQ, U8 activations, S8 per-channel weights, {first}"


def choose_int8(spec: ExportSpec, folder: Path, log=print) -> dict:
    """Write `model.int8.onnx` with the first layer in float or quantized, whichever scores higher on the
    validation images (a tie quantizes it: smaller), and gate `recommended` on them; the test images play no part.

    The score is accuracy when the validation labels are known, agreement with Keras' decisions otherwise.
    """
    validation_x = spec.validation_x.astype(np.float32)
    reference = tf_outputs(spec.model, validation_x)
    measure = "accuracy" if spec.validation_y is not None else "decision agreement with fp32"

    def score(outputs: np.ndarray) -> float:
        labelled = accuracy(spec.task, outputs, spec.validation_y)
        return agreement(spec.task, outputs, reference) if labelled is None else labelled

    calibration = spec.calibration_x[:CALIBRATION_IMAGES]
    scores: dict[bool, float] = {}
    nodes: list[str] = []
    for in_float in (True, False):
        path = folder / f"model.int8.first_layer_{'float' if in_float else 'int8'}.onnx"
        log(
            f"[{spec.name}] int8 ONNX (static QDQ, {len(calibration)} calibration images, first layer "
            f"{'in float' if in_float else 'quantized'}) ..."
        )
        excluded = quantize_int8(folder / ONNX_FILE, path, calibration, first_layer_in_float=in_float)
        nodes = nodes or excluded
        scores[in_float] = score(onnx_outputs(onnx_session(path), validation_x))
    keep = bool(nodes) and scores[True] > scores[False]
    (folder / f"model.int8.first_layer_{'float' if keep else 'int8'}.onnx").replace(folder / ONNX_INT8_FILE)
    (folder / f"model.int8.first_layer_{'int8' if keep else 'float'}.onnx").unlink()

    int8 = onnx_outputs(onnx_session(folder / ONNX_INT8_FILE), validation_x)
    tf_accuracy = accuracy(spec.task, reference, spec.validation_y)
    int8_accuracy = accuracy(spec.task, int8, spec.validation_y)
    int8_agreement = agreement(spec.task, int8, reference)
    if tf_accuracy is not None and int8_accuracy is not None:
        recommended = tf_accuracy - int8_accuracy <= INT8_MAX_ACCURACY_LOSS
        rule = f"int8 loses at most {INT8_MAX_ACCURACY_LOSS:.0%} validation accuracy"
    else:
        recommended = int8_agreement >= 1 - INT8_MAX_ACCURACY_LOSS
        rule = f"no labels: int8 agrees with fp32 on at least {1 - INT8_MAX_ACCURACY_LOSS:.0%} of validation decisions"
    log(
        f"[{spec.name}] int8 on {len(validation_x)} validation images, {measure}: first layer in float "
        f"{scores[True]:.4f}, quantized {scores[False]:.4f} -> {'in float' if keep else 'quantized'}; "
        f"{'recommended' if recommended else 'not recommended'}"
    )
    return {
        "method": int8_method(keep),
        "decided_on": f"validation split ({spec.validation_set}; none of them calibration images)",
        "first_layer": {
            "nodes": nodes,
            "kept_in_float": keep,
            "measure": measure,
            "validation_in_float": scores[True],
            "validation_quantized": scores[False],
            "rule": "kept in float only when that scores higher on the validation images",
        },
        "validation": {
            "n_images": int(len(validation_x)),
            "tf_accuracy": tf_accuracy,
            "onnx_int8_accuracy": int8_accuracy,
            "accuracy_delta": None if tf_accuracy is None or int8_accuracy is None else int8_accuracy - tf_accuracy,
            "decision_agreement_with_fp32": int8_agreement,
        },
        "recommended": bool(recommended),
        "rule": rule,
    }


def onnx_descriptions(
    spec: ExportSpec, variant: str, input_shape: tuple[int, ...], first_layer_in_float: bool = True
) -> tuple[str, str]:
    """(graph doc_string: one line, model doc_string: what it is, its contract, labels, how it was made)."""
    height, width, channels = input_shape
    output = ONNX_OUTPUT_NAMES[spec.task]
    short = [label.split(",")[0] for label in spec.labels]  # ImageNet names list synonyms: the first says it
    labels = short if len(short) <= 12 else [*short[:3], "...", short[-1]]
    what = spec.about.get("description") or f"the {spec.name} model exported by convlens"
    first = "first convolution kept in float" if first_layer_in_float else "every layer quantized"
    made = (
        f"int8 static QDQ (onnxruntime quantize_static: U8 activations, S8 per-channel weights, {first} "
        f"as measured on {len(spec.validation_x)} validation images, calibrated on "
        f"{min(len(spec.calibration_x), CALIBRATION_IMAGES)} training images) of the fp32 file, which is"
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


def export_one(spec: ExportSpec, folder: Path, log=print, model_version: int = 1) -> ManifestEntry:
    """Write one model's files into `folder` and return its manifest entry (paths relative to its parent).

    `model_version` goes into the ONNX files: the how-manyeth export of this model into its folder.
    """
    folder.mkdir(parents=True)
    input_shape = tuple(int(d) for d in spec.test_x.shape[1:])
    started = time.perf_counter()
    log(f"[{spec.name}] SavedModel ...")
    export_saved_model(spec.model, folder / SAVED_MODEL_FOLDER)
    log(f"[{spec.name}] ONNX fp32 (opset {OPSET}) ...")
    optimization = convert_to_onnx(spec.model, input_shape, folder / ONNX_FILE, ONNX_OUTPUT_NAMES[spec.task])
    int8_choice = choose_int8(spec, folder, log)
    for variant, file in (("fp32", ONNX_FILE), ("int8", ONNX_INT8_FILE)):
        summary, description = onnx_descriptions(
            spec, variant, input_shape, int8_choice["first_layer"]["kept_in_float"]
        )
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
    fp32_session = onnx_session(folder / ONNX_FILE)
    fp32 = onnx_outputs(fp32_session, test_x)
    int8 = onnx_outputs(onnx_session(folder / ONNX_INT8_FILE), test_x)
    saved = saved_model_outputs(folder / SAVED_MODEL_FOLDER, test_x[:BATCH])
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
    int8_agreement = agreement(spec.task, int8, fp32)
    fp32_bytes = (folder / ONNX_FILE).stat().st_size
    int8_bytes = (folder / ONNX_INT8_FILE).stat().st_size
    own_metrics = spec.evaluate({"tf": reference, "onnx_fp32": fp32, "onnx_int8": int8}) if spec.evaluate else {}
    recommended = int8_choice["recommended"]
    entry = ManifestEntry(
        task=spec.task,
        labels=tuple(spec.labels),
        input=InputSpec(ONNX_INPUT_NAME, (None, *input_shape)),
        output_name=fp32_session.get_outputs()[0].name,
        preprocessing=spec.preprocessing,
        files={
            kind: FileRef.of(folder.parent, f"{spec.name}/{relative}")
            for kind, relative in (
                ("onnx", ONNX_FILE),
                ("onnx_int8", ONNX_INT8_FILE),
                ("saved_model", SAVED_MODEL_FOLDER),
            )
        },
        metrics={
            "test_set": spec.test_set,
            "n_test": int(len(test_x)),
            "tf_test_accuracy": tf_accuracy,
            "onnx_fp32_test_accuracy": fp32_accuracy,
            "onnx_int8_test_accuracy": int8_accuracy,
            **own_metrics,
        },
        parity={
            "n_images": int(len(test_x)),
            "tf_vs_onnx_fp32_max_abs_diff": max_abs,
            "tolerance": spec.parity_tolerance,
            "decisions_identical": same_decisions,
            "tf_vs_saved_model_max_abs_diff": float(
                np.abs(reference[:BATCH] - saved.reshape(reference[:BATCH].shape)).max()
            ),
            "tf_vs_onnx_int8_max_abs_diff": float(np.abs(reference - int8).max()),
        },
        quantization={
            **int8_choice,
            "calibration_images": int(min(len(spec.calibration_x), CALIBRATION_IMAGES)),
            # the test figures below are reported, never decided on
            "reported_on": f"test split ({spec.test_set}), figures only",
            "accuracy_delta": None if tf_accuracy is None or int8_accuracy is None else int8_accuracy - tf_accuracy,
            "decision_agreement_with_fp32": int8_agreement,
            "size_ratio": int8_bytes / fp32_bytes,
            "fp32_bytes": fp32_bytes,
            "int8_bytes": int8_bytes,
        },
        source=spec.source,
        model_version=int(model_version),
        about=dict(spec.about),
        extra={
            "onnx_optimization": optimization,
            "export_seconds": round(time.perf_counter() - started, 1),
            **spec.extra,
        },
    )
    log(
        f"[{spec.name}] parity {max_abs:.1e}; accuracy TF {_pct(tf_accuracy)}, ONNX fp32 {_pct(fp32_accuracy)}, "
        f"int8 {_pct(int8_accuracy)} ({int8_bytes / fp32_bytes:.2f}x the size; "
        f"{'recommended' if recommended else 'not recommended'} on validation)"
    )
    return entry


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
