"""Gradient-ascent speed: the 64-filter grid batched against one filter at a time, and a class render."""

from __future__ import annotations


def bench_ascent(trials: int, log=print) -> dict:
    """The 64-filter grid batched vs one filter at a time (same steps), and the robust class render.

    One at a time is timed on 8 filters, each tracing its own step as a loop over filters would,
    and scaled to 64.
    """
    from toolkit.ascent.render_timing import time_class_render, time_filter_grid

    grid = time_filter_grid("conv_pw_5_relu", filters=64, steps=30, size=128, one_at_a_time=8)
    log(
        f"  64 filters, naive 30 steps: batched {grid['batched_seconds']:.1f} s, one at a time "
        f"{grid['one_at_a_time_seconds']:.1f} s ({grid['speedup']:.1f}x), reusing one trace "
        f"{grid['one_at_a_time_seconds_without_tracing']:.1f} s ({grid['speedup_without_tracing']:.1f}x); a forward "
        f"and backward pass costs {grid['gradient_ms_per_image_batched']:.2f} ms per image at batch 64, "
        f"{grid['gradient_ms_per_image_alone']:.2f} ms alone ({grid['ceiling_without_tracing']:.1f}x)"
    )
    robust = time_class_render("Siamese cat", "robust", size=128)
    log(f"  robust Siamese cat, {robust['steps']} steps: {robust['seconds']:.1f} s")
    return {
        "64-filter grid batched s": grid["batched_seconds"],
        "64-filter grid one at a time s (8 timed, each tracing its step as a loop over filters does; scaled)": grid[
            "one_at_a_time_seconds"
        ],
        "batched speed-up": grid["speedup"],
        "one at a time reusing one trace s": grid["one_at_a_time_seconds_without_tracing"],
        "batched speed-up over one at a time reusing one trace": grid["speedup_without_tracing"],
        "forward + backward ms per image, batch 64": grid["gradient_ms_per_image_batched"],
        "forward + backward ms per image, batch 1": grid["gradient_ms_per_image_alone"],
        "arithmetic ceiling of batching (batch 1 / batch 64 per image)": grid["ceiling_without_tracing"],
        f"robust class render s ({robust['steps']} steps, 128 px)": robust["seconds"],
    }
