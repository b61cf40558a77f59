"""Gradient-ascent visualisations, split as Lucid/Lucent do.

- `param`: how the image is parameterised (pixels; decorrelated Fourier basis; grayscale for 28x28 models)
- `objectives`: what is optimised (a channel's mean activation, a class logit; combine with + - *)
- `transforms`: random pad/jitter/scale/rotate that make the result robust
- `render`: one batched `tf.function` loop tying them, and the two methods `naive` and `robust`
- `subjects`: the class visualisations the gallery checks (model, targets, each method's recipe)
- `unseen_transforms`, `fair_check`: both methods at equal budgets under transformations neither optimised against
- `gallery`, `visualize_command`: what `convlens visualize` writes
- `live`: a bounded render for the demo; `render_timing`: for `bench`

The loop itself is `toolkit.ascent.render.render`. Importing this package imports TensorFlow: the demo imports it
lazily, on first use.
"""

from collections.abc import Callable
from typing import Any

from toolkit.ascent.objectives import Objective, channel, class_logit
from toolkit.ascent.render import METHODS, NAIVE, ROBUST, Method, Rendering, target_probabilities

# `live` (the demo's bounded render) and `render_timing` (for bench) load on first use, not with the package.
_LAZY = {
    "render_imagenet_class": "toolkit.ascent.live",
    "time_class_render": "toolkit.ascent.render_timing",
    "time_filter_grid": "toolkit.ascent.render_timing",
}


def __getattr__(name: str) -> Callable[..., Any]:  # each lazy name is a function of its own signature
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METHODS",
    "NAIVE",
    "ROBUST",
    "Method",
    "Objective",
    "Rendering",
    "channel",
    "class_logit",
    "render_imagenet_class",
    "target_probabilities",
    "time_class_render",
    "time_filter_grid",
]
