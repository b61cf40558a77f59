"""A bounded ImageNet class render for the demo's live panel (a Gradio callback)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import tensorflow as tf

from toolkit.ascent import feature_models
from toolkit.ascent.objectives import LOGITS, Objective
from toolkit.ascent.render import method_named, render, target_probabilities, to_uint8
from toolkit.core.errors import ConvlensError

MAX_STEPS = 512
SIZES = (64, 256)  # smallest and largest image side
# Feature models kept built, one per image size: a size rendered again skips building its model.
FEATURE_MODELS_KEPT = 4


_rendering = threading.Lock()  # the target below is shared: one live render at a time


@lru_cache(maxsize=FEATURE_MODELS_KEPT)
def _class_features(size: int) -> feature_models.FeatureModel:
    return feature_models.imagenet_features("mobilenet", size, logits=True)


@lru_cache(maxsize=1)
def _any_class() -> tuple[tf.Variable, Objective]:
    """The logit of the class held in a variable: one traced step per size and method serves every class."""
    target = tf.Variable(0, dtype=tf.int32, trainable=False)
    return target, Objective(lambda acts: tf.gather(acts[LOGITS], target, axis=1), (LOGITS,), "logit:live")


def render_imagenet_class(
    class_name_or_index: str | int = "Siamese cat",
    method: str = "robust",
    steps: int | None = None,
    size: int = 128,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Renders an ImageNet class of our MobileNet: (uint8 HxWx3 image, info dict); `progress(done, total)` per step.

    The class is an index (284, "284") or a name or synonym ("Siamese cat"); an unknown one raises a
    ConvlensError that suggests close names.
    """
    from toolkit.data.datasets import imagenet_class_index, imagenet_class_names

    chosen = method_named(method)
    steps = chosen.steps if steps is None else int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise ConvlensError(f"steps must be between 1 and {MAX_STEPS}, not {steps}.")
    if not SIZES[0] <= int(size) <= SIZES[1]:
        raise ConvlensError(f"size must be between {SIZES[0]} and {SIZES[1]} pixels, not {size}.")
    index = imagenet_class_index(class_name_or_index)
    features = _class_features(int(size))
    target, objective = _any_class()
    with _rendering:
        target.assign(index)
        rendering = render(features, [objective], chosen, steps, int(seed), progress=progress)
    as_rendered, under = target_probabilities(features, rendering.images, [index])
    info = {
        "class_index": index,
        "class_name": imagenet_class_names()[index],
        "method": chosen.name,
        "steps": steps,
        "size": int(size),
        "seed": int(seed),
        "seconds": round(rendering.seconds, 2),
        "probability_as_rendered": float(as_rendered[0]),
        "probability_under_transforms": float(under[0]),
    }
    return to_uint8(rendering.images[0]), info
