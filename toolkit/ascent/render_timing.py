"""Timings for `convlens bench`: the batched filter grid against one filter at a time, and a class render."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from toolkit.ascent import feature_models
from toolkit.ascent.objectives import channel, class_logit
from toolkit.ascent.render import method_named, render
from toolkit.core.wall_time import median_ms


def time_filter_grid(
    layer: str = "conv_pw_5_relu",
    filters: int = 64,
    steps: int = 30,
    size: int = 128,
    one_at_a_time: int = 8,
    method: str = "naive",
    seed: int = 0,
) -> dict:
    """Seconds to render `filters` filters as one batch, and per filter when rendered alone (same steps).

    One-at-a-time is measured on the first `one_at_a_time` filters (each alone traces its own step
    function, as a loop over filters would) and scaled to `filters`; 0 skips it.
    """
    features = feature_models.imagenet_features("mobilenet", size, (layer,))
    chosen = method_named(method)
    batched = render(features, [channel(layer, i) for i in range(filters)], chosen, steps, seed)
    result = {
        "layer": layer,
        "filters": filters,
        "steps": steps,
        "size": size,
        "method": chosen.name,
        "batched_seconds": round(batched.seconds, 3),
        "batched_trace_seconds": round(batched.trace_seconds, 3),
    }
    if one_at_a_time:
        alone = [render(features, [channel(layer, i)], chosen, steps, seed) for i in range(one_at_a_time)]
        per_filter = sum(r.seconds for r in alone) / len(alone)
        per_filter_no_trace = sum(r.seconds - r.trace_seconds for r in alone) / len(alone)
        result.update(
            {
                "one_at_a_time_measured": one_at_a_time,
                "one_at_a_time_seconds_per_filter": round(per_filter, 3),
                "one_at_a_time_seconds": round(per_filter * filters, 3),
                "one_at_a_time_seconds_without_tracing": round(per_filter_no_trace * filters, 3),
                "speedup": round(per_filter * filters / batched.seconds, 2),
                "speedup_without_tracing": round(per_filter_no_trace * filters / batched.seconds, 2),
            }
        )
        at_batch, at_one = (gradient_ms_per_image(features, layer, batch) for batch in (filters, 1))
        result.update(
            {
                "gradient_ms_per_image_batched": round(at_batch, 3),
                "gradient_ms_per_image_alone": round(at_one, 3),
                "ceiling_without_tracing": round(at_one / at_batch, 2),
            }
        )
    return result


def gradient_ms_per_image(features, layer: str, batch: int, repeats: int | None = None) -> float:
    """Milliseconds per image of one forward and backward pass to `layer` at a batch size, the render loop's
    floor (a median): what batching saves beyond this is Python and tracing overhead, not arithmetic."""
    x = tf.constant(
        np.random.default_rng(0)
        .uniform(0, 1, (batch, features.size, features.size, features.channels))
        .astype(np.float32)
    )

    @tf.function
    def gradient(images: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(features(images)[layer][..., 0])
        return tape.gradient(total, images)

    return median_ms(lambda: gradient(x).numpy(), repeats or max(3, 256 // batch), warmup=1) / batch


def time_class_render(
    class_name: str = "Siamese cat", method: str = "robust", steps: int | None = None, size: int = 128, seed: int = 0
) -> dict:
    """Seconds to render one ImageNet class image (model build excluded)."""
    from toolkit.data.datasets import imagenet_class_index

    features = feature_models.imagenet_features("mobilenet", size, logits=True)
    chosen = method_named(method)
    rendering = render(features, [class_logit(imagenet_class_index(class_name))], chosen, steps, seed)
    return {
        "class": class_name,
        "method": chosen.name,
        "steps": rendering.steps,
        "size": size,
        "seconds": round(rendering.seconds, 3),
        "trace_seconds": round(rendering.trace_seconds, 3),
    }
