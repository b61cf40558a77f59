"""The photo verdict before and after the closer look, timed in one run on the same photo and export, in-process
(onnxruntime only, as the demo runs it)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from toolkit.core.wall_time import percentile
from toolkit.serving.export_loader import load_served_export
from toolkit.serving.photo_pipeline import decision_rule, judge_photo


def compare_photo_pipelines(exported: Path, photo: Path, trials: int) -> dict:
    """p50 and p95 (ms) of `judge_photo` under the served rule, with and without the closer look, interleaved;
    nothing for an export without the ImageNet network."""
    export = load_served_export(exported)
    if export.imagenet is None:  # an export from before the ImageNet model: the transfer model alone answers
        return {}
    served = decision_rule(export)
    pipelines = {
        "before: the whole photo only": dataclasses.replace(served, closer_look=False),
        "now: the whole photo and its 4 closer crops": dataclasses.replace(served, closer_look=True),
    }
    times: dict[str, list[float]] = {label: [] for label in pipelines}
    for trial in range(trials + 3):  # the first 3 rounds warm up
        for label, rule in pipelines.items():
            start = time.perf_counter()
            judge_photo(export, photo, rule=rule)
            if trial >= 3:
                times[label].append((time.perf_counter() - start) * 1000)
    return {label: {"p50_ms": percentile(t, 50), "p95_ms": percentile(t, 95)} for label, t in times.items()}
