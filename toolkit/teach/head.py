"""The taught head: softmax regression on pooled features in numpy, its L2 strength and its "unknown" threshold
chosen by cross-validation over the user's own photos (folds by photo, so a photo's flips and crops never sit
on both sides of a fold)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ITERATIONS = 300  # Nesterov steps a fit takes; deterministic, so the same photos and seed give the same head
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # on standardised features, mean cross-entropy + l2/2 |W|^2
FOLDS = 5
UNKNOWN_RECALL = 0.95  # the threshold keeps this share of correctly classified held-out photos answered


@dataclass(frozen=True)
class Head:
    """Softmax regression on raw pooled features: probabilities = softmax(features @ weights + bias)."""

    weights: np.ndarray  # (1024, classes), float32
    bias: np.ndarray  # (classes,), float32

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return softmax(np.asarray(features, np.float64) @ self.weights.astype(np.float64) + self.bias)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_head(features: np.ndarray, labels: np.ndarray, classes: int, l2: float, iterations: int = ITERATIONS) -> Head:
    """Softmax regression by Nesterov's accelerated gradient on standardised features, folded back to raw ones."""
    x = np.asarray(features, np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # the last column carries the bias (not penalised)
    target = np.eye(classes)[labels]
    gram = z @ z.T if len(z) < z.shape[1] else z.T @ z  # the smaller: same largest eigenvalue, far faster than an SVD
    lipschitz = 0.5 * float(np.linalg.eigvalsh(gram)[-1]) / len(z) + l2
    step = 1.0 / lipschitz
    penalty = np.ones((z.shape[1], 1))
    penalty[-1] = 0.0
    w = np.zeros((z.shape[1], classes))
    previous = w
    for k in range(iterations):
        look = w + (k / (k + 3)) * (w - previous)
        gradient = z.T @ (softmax(z @ look) - target) / len(z) + l2 * penalty * look
        previous, w = w, look - step * gradient
    weights = w[:-1] / std[:, None]
    bias = w[-1] - mean @ weights
    return Head(weights.astype(np.float32), bias.astype(np.float32))


def photo_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per photo, stratified: each class's photos shuffled by `seed` and dealt round the folds."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(labels), int)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        fold[rng.permutation(members)] = np.arange(len(members)) % folds
    return fold


@dataclass(frozen=True)
class CrossValidation:
    """What cross-validation chose and measured: held-out (out-of-fold) answers on each photo's own view."""

    l2: float
    folds: int
    accuracy: float
    log_loss: float
    threshold: float  # max-softmax below this answers "unknown"
    unknown_share: float  # held-out photos the threshold turns into "unknown"
    confusion: list[list[int]]  # [true][predicted]
    held_out: np.ndarray = field(repr=False)  # (photos, classes) out-of-fold probabilities at the chosen l2
    by_l2: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "l2": self.l2,
            "folds": self.folds,
            "accuracy": self.accuracy,
            "log_loss": self.log_loss,
            "unknown_threshold": self.threshold,
            "unknown_share": self.unknown_share,
            "confusion": self.confusion,
            "by_l2": self.by_l2,
        }


def cross_validate(
    features: np.ndarray, labels: np.ndarray, classes: int, seed: int, grid: tuple[float, ...] = L2_GRID
) -> CrossValidation:
    """Choose L2 by held-out log loss and the unknown threshold on the chosen held-out answers.

    `features` is (photos, views, 1024) with the served view first; `labels` one per photo.
    """
    photos, views, width = features.shape
    folds = int(min(FOLDS, np.bincount(labels, minlength=classes).min()))
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 photos of every class")
    fold = photo_folds(labels, folds, seed)
    results = {}
    for l2 in grid:
        held_out = np.zeros((photos, classes))
        for number in range(folds):
            train, test = fold != number, fold == number
            head = fit_head(features[train].reshape(-1, width), np.repeat(labels[train], views), classes, l2)
            held_out[test] = head.probabilities(features[test, 0])
        results[l2] = held_out
    losses = {l2: float(-np.mean(np.log(np.clip(p[np.arange(photos), labels], 1e-12, 1)))) for l2, p in results.items()}
    best = min(grid, key=lambda l2: (round(losses[l2], 9), -l2))  # ties: the stronger penalty
    held_out = results[best]
    predicted = held_out.argmax(axis=1)
    confidence = held_out.max(axis=1)
    right = confidence[predicted == labels]
    threshold = float(np.quantile(right, 1 - UNKNOWN_RECALL, method="lower")) if len(right) else 0.0
    confusion = np.zeros((classes, classes), int)
    np.add.at(confusion, (labels, predicted), 1)
    return CrossValidation(
        l2=best,
        folds=folds,
        accuracy=float(np.mean(predicted == labels)),
        log_loss=losses[best],
        threshold=threshold,
        unknown_share=float(np.mean(confidence < threshold)),
        confusion=confusion.tolist(),
        held_out=held_out,
        by_l2={
            f"{l2:g}": {"log_loss": losses[l2], "accuracy": float(np.mean(results[l2].argmax(1) == labels))}
            for l2 in grid
        },
    )
