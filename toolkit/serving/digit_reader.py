"""A drawn digit read by the exported digits model (the drawing already made MNIST-like: 28 x 28, white on black)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.serving.export_loader import LoadedExport
from toolkit.serving.photo_input import BadInput


@dataclass(frozen=True)
class DigitResult:
    label: str
    probability: float
    probabilities: dict[str, float]  # all ten, in label order
    top3: list[tuple[str, float]]
    digit: np.ndarray  # the 28 x 28 uint8 image the model saw


def read_digit(export: LoadedExport, digit: np.ndarray, variant: str = "fp32") -> DigitResult:
    """The digits model's reading of a 28 x 28 MNIST-like image (white ink on black, 0..255)."""
    model = export.digits
    digit = np.asarray(digit)
    if digit.shape[:2] != model.input_shape[:2]:
        raise BadInput(
            f"A digit image must be {model.input_shape[0]} x {model.input_shape[1]}; got {digit.shape}: "
            f"make a drawing MNIST-like first (toolkit.core.preprocessing.mnist_like)."
        )
    output = model.predict(digit.astype(np.float32)[None], variant).reshape(-1)
    probabilities = {label: float(p) for label, p in zip(model.labels, output)}
    ranked = sorted(probabilities.items(), key=lambda item: item[1], reverse=True)
    return DigitResult(ranked[0][0], ranked[0][1], probabilities, ranked[:3], digit.astype(np.uint8))
