"""The render loop: one `tf.function` step that optimises a whole batch of objectives at once.

The two methods are two choices of parameterisation, transformations and optimiser for this one loop:
`naive` (the practical's and keras.io's recipe) and `robust` (Olah et al.'s Feature Visualization recipe).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from toolkit.ascent import transforms as tfm
from toolkit.ascent.feature_models import FeatureModel, probabilities_from_logits
from toolkit.ascent.objectives import INPUT, LOGITS, Objective
from toolkit.ascent.param import DigitImage, FourierImage, PixelImage
from toolkit.core.errors import ConvlensError

JIT_COMPILE = None  # XLA on these CPUs: a 64-filter grid took 90 s instead of 8
STEP_CACHE_SIZE = 8  # traced step functions kept, so that the same render asked again is not traced again
Progress = Callable[[int, int], None]  # (steps done, steps in all)
Parameterisation = PixelImage | FourierImage  # DigitImage is a FourierImage
# One optimisation step (a tf.function): (params, m, v, t, seed) -> (params, m, v, objective values).
Step = Callable[
    [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]
]


@dataclass(frozen=True)
class Method:
    """A recipe: how the image is parameterised, whether it is transformed each step, and how it is stepped."""

    name: str
    parameterisation: str  # "pixels" | "fourier" | "digits" (grey Fourier, MNIST's white ink on black)
    transformed: bool  # random pad/jitter/scale/rotate before each step
    optimiser: str  # "normalized-gradient" | "adam"
    learning_rate: float  # normalized-gradient: RMS change per pixel per step; adam: its step size
    steps: int

    def param(self, size: int, channels: int) -> Parameterisation:
        if self.parameterisation == "pixels":
            return PixelImage(size, channels)
        if self.parameterisation == "digits":
            return DigitImage(size)
        return FourierImage(size, channels)

    def transforms(self, size: int, background: float = 0.5) -> tfm.Compose | None:
        return tfm.standard(size, background) if self.transformed else None


# keras.io: 30 steps of 10 * l2-normalised gradient on a 180x180x3 image in [-1, 1]: 0.016 RMS per step in [0, 1].
NAIVE = Method("naive", "pixels", False, "normalized-gradient", 0.016, 30)
ROBUST = Method("robust", "fourier", True, "adam", 0.08, 256)
METHODS = {method.name: method for method in (NAIVE, ROBUST)}


def method_named(name: str) -> Method:
    if name not in METHODS:
        raise ConvlensError(f"unknown method {name!r}: use one of {', '.join(METHODS)}.")
    return METHODS[name]


@dataclass
class Rendering:
    """The rendered images (B, H, W, C) in [0, 1], each objective's final value, and the time it took."""

    images: np.ndarray
    values: np.ndarray
    seconds: float
    trace_seconds: float = 0.0
    steps: int = 0
    method: str = ""
    names: list[str] = field(default_factory=list)


def _activations(features: FeatureModel, images: tf.Tensor) -> dict:
    """What objectives read: the model's named activations, and the image as the model sees it."""
    seen = tfm.fit(images, features.size)
    return {**features(seen), INPUT: seen}


def _per_image(objectives: Sequence[Objective], activations: dict) -> tf.Tensor:
    """Objective i of image i: each objective sees only its own image's activations.

    One split per activation, not a slice per image: a slice's gradient is a zero-padded tensor of the
    whole batch, so 64 slices cost 64 batch-sized additions per step (a 64-filter grid took 1.4x longer).
    """
    pieces = {k: tf.split(a, len(objectives), axis=0) for k, a in activations.items()}
    return tf.stack([objective({k: p[i] for k, p in pieces.items()})[0] for i, objective in enumerate(objectives)])


def _step_function(features: FeatureModel, objectives: Sequence[Objective], param, transforms, method: Method) -> Step:
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    needed = {name for objective in objectives for name in objective.layers}

    @tf.function(jit_compile=JIT_COMPILE)
    def step(params, m, v, t, seed) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(params)
            images = param.to_image(params)
            if transforms is not None:
                images = transforms(images, seed)
            activations = _activations(features, images)
            values = _per_image(objectives, {k: a for k, a in activations.items() if k in needed})
            total = tf.reduce_sum(values)  # image i's gradient is its own objective's: the others do not depend on it
        grad = tape.gradient(total, params)
        if method.optimiser == "adam":
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
            params = params + method.learning_rate * m_hat / (tf.sqrt(v_hat) + epsilon)
        else:  # each image's gradient scaled to a fixed length, as keras.io's tf.math.l2_normalize
            axes = list(range(1, len(params.shape)))
            norm = tf.sqrt(tf.reduce_sum(grad * grad, axis=axes, keepdims=True)) + 1e-12
            per_pixel = float(np.sqrt(np.prod(params.shape[1:])))
            params = params + method.learning_rate * per_pixel * grad / norm
        return param.project(params), m, v, values

    return step


_steps: OrderedDict = OrderedDict()
_steps_lock = threading.Lock()


def _cached_step_function(
    features: FeatureModel, objectives: Sequence[Objective], param, transforms, method: Method
) -> Step:
    """The step function of these objectives, traced once: objectives that read their target from a tf.Variable
    (the demo's live panel) then render any target without tracing again."""
    key = (features, tuple(objectives), method, param.size)
    with _steps_lock:
        if key in _steps:
            _steps.move_to_end(key)
            return _steps[key]
        step = _steps[key] = _step_function(features, objectives, param, transforms, method)
        while len(_steps) > STEP_CACHE_SIZE:
            _steps.popitem(last=False)
        return step


def render(
    features: FeatureModel,
    objectives: Sequence[Objective],
    method: Method = NAIVE,
    steps: int | None = None,
    seed: int = 0,
    size: int | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> Rendering:
    """Renders one image per objective, `batch_size` at a time; the same seed gives the same images."""
    steps = method.steps if steps is None else int(steps)
    if steps < 1:
        raise ConvlensError(f"steps must be at least 1, not {steps}.")
    if not 0 <= int(seed) < 2**31:
        raise ConvlensError(f"the seed must be between 0 and {2**31 - 1}, not {seed}.")
    size = size or features.size
    param = method.param(size, features.channels)
    transforms = method.transforms(size, param.background)
    objectives = list(objectives)
    images, values = [], []
    total, done = steps * -(-len(objectives) // batch_size), 0
    started, trace_seconds = time.perf_counter(), 0.0
    for start in range(0, len(objectives), batch_size):
        chunk = objectives[start : start + batch_size]
        step = _cached_step_function(features, chunk, param, transforms, method)
        params = tf.constant(param.initial(len(chunk), seed))
        m = v = tf.zeros_like(params)
        for i in range(steps):
            before = time.perf_counter()
            params, m, v, chunk_values = step(
                params, m, v, tf.constant(i + 1, tf.float32), tf.constant([seed, i], tf.int32)
            )
            if i == 0:
                chunk_values.numpy()
                trace_seconds += time.perf_counter() - before
            done += 1
            if progress is not None:
                progress(done, total)
        final = param.to_image(params)
        images.append(final.numpy())
        values.append(_per_image(chunk, _activations(features, final)).numpy())
    return Rendering(
        np.concatenate(images),
        np.concatenate(values),
        time.perf_counter() - started,
        trace_seconds,
        steps,
        method.name,
        [objective.name for objective in objectives],
    )


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats to the uint8 pixels that are saved and shown."""
    return np.clip(np.round(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def _logits_under_check(
    features: FeatureModel, images: np.ndarray, n_transforms: int, seed: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits of the images as saved (uint8), and under each of `n_transforms` random small transformations.

    Shifts pad with the models' background: black for one-channel (MNIST-like) inputs, grey otherwise.
    """
    x = tf.constant(to_uint8(images).astype(np.float32) / 255.0)
    check = tfm.small_random(x.shape[1], background=0.0 if features.channels == 1 else 0.5)
    return _logits(features, x), [
        _logits(features, check(x, tf.constant([seed, k], tf.int32))) for k in range(n_transforms)
    ]


def _logits(features: FeatureModel, images01: tf.Tensor) -> np.ndarray:
    return features(tfm.fit(images01, features.size))[LOGITS].numpy().astype(np.float64)


def _target_probabilities(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    p = probabilities_from_logits(logits)
    if p.shape[-1] == 1:  # a single sigmoid output: the classes are [0: p < 0.5, 1: p]
        p = np.concatenate([1 - p, p], axis=-1)
    return p[np.arange(len(targets)), targets]


def _target_log_odds(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if logits.shape[-1] == 1:  # a sigmoid: log-odds of class 1 is the logit, of class 0 its negative
        return np.where(targets == 1, logits[:, 0], -logits[:, 0])
    rows = np.arange(len(targets))
    others = logits.copy()
    others[rows, targets] = -np.inf
    return logits[rows, targets] - np.logaddexp.reduce(others, axis=-1)


def target_check(
    features: FeatureModel, images: np.ndarray, targets: Sequence[int], n_transforms: int = 16, seed: int = 1234
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The target's probability and log-odds, log(p / (1 - p)), (a) as saved and (b) averaged over random
    small transformations, from one set of forward passes.

    A probability of 1.00 hides whether an image is far past the decision or barely past it; the
    log-odds, which does not saturate, shows how much of the evidence survives the transformations.
    """
    target_indices = np.asarray(targets)
    as_rendered, transformed = _logits_under_check(features, images, n_transforms, seed)
    return {
        name: (
            measure(as_rendered, target_indices),
            np.mean([measure(t, target_indices) for t in transformed], axis=0),
        )
        for name, measure in (("probabilities", _target_probabilities), ("log_odds", _target_log_odds))
    }


def saved_target_measures(
    features: FeatureModel, saved: np.ndarray, targets: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each saved (uint8) image's probability and log-odds of its target."""
    target_indices = np.asarray(targets)
    logits = _logits(features, tf.constant(np.asarray(saved, np.float32) / 255.0))
    return _target_probabilities(logits, target_indices), _target_log_odds(logits, target_indices)


def target_probabilities(
    features: FeatureModel, images: np.ndarray, targets: Sequence[int], n_transforms: int = 16, seed: int = 1234
) -> tuple[np.ndarray, np.ndarray]:
    """Each image's probability of its target class (a) as saved and (b) averaged over random small transformations."""
    return target_check(features, images, targets, n_transforms, seed)["probabilities"]


def target_log_odds(
    features: FeatureModel, images: np.ndarray, targets: Sequence[int], n_transforms: int = 16, seed: int = 1234
) -> tuple[np.ndarray, np.ndarray]:
    """Like `target_probabilities`, in log-odds of the target."""
    return target_check(features, images, targets, n_transforms, seed)["log_odds"]
