"""How long teaching takes: 2 classes x 20 real photos, from the photo files to a fitted head (decoding, features
through onnxruntime, cross-validation and fit), as the Teach tab and `convlens teach` do it."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from toolkit.data.photos import photo_set
from toolkit.teach.bundle import write_bundle_zip
from toolkit.teach.features import load_feature_base
from toolkit.teach.taught_model import TeachSettings
from toolkit.teach.training import featurise, teach

PHOTOS_PER_CLASS = 20
CLASSES = ("cat", "other")  # the real-photo dev set has 22 cats and 11 dogs: 20 a class needs cats and others
MAX_TRIALS = 5  # each trial featurises all 40 photos again (a few seconds each)


def teaching_photos() -> list[tuple[object, str, str]]:
    """(path, name, class) of the first 20 dev photos of each class, in table order."""
    dev = photo_set("dev")
    chosen = [[p for p in dev if p.label == label][:PHOTOS_PER_CLASS] for label in CLASSES]
    return [(p.path, p.id, p.label) for photos in chosen for p in photos]


def bench_teach(exported: Path, trials: int, log=print) -> dict:
    """Median seconds to teach 2 x 20 real photos (features included), its parts, and the one-off costs."""
    started = time.perf_counter()
    base = load_feature_base(root=exported)
    load_seconds = time.perf_counter() - started
    sources = teaching_photos()
    settings = TeachSettings()
    features_s, fit_s, total_s, cpu_s = [], [], [], []
    for _ in range(max(1, min(trials, MAX_TRIALS))):
        cpu = time.process_time()
        started = time.perf_counter()
        photos, _ = featurise(base, sources, settings)
        featurised = time.perf_counter()
        model = teach(base, CLASSES, photos, settings)
        done = time.perf_counter()
        features_s.append(featurised - started)
        fit_s.append(done - featurised)
        total_s.append(done - started)
        cpu_s.append(time.process_time() - cpu)
    with tempfile.TemporaryDirectory(prefix="convlens-teach-bench-") as scratch:
        started = time.perf_counter()
        write_bundle_zip(model, Path(scratch) / "taught.zip")
        bundle_seconds = time.perf_counter() - started
    result = {
        "seconds_2x20": statistics.median(total_s),
        "features_seconds": statistics.median(features_s),
        "cross_validation_and_fit_seconds": statistics.median(fit_s),
        "trials": len(total_s),
        "cpu_seconds_2x20 (all threads; wall above it means the machine was busy)": statistics.median(cpu_s),
        "base_load_seconds (once per process)": load_seconds,
        "download_zip_seconds (joined ONNX, model card, zip)": bundle_seconds,
        "photos": f"{PHOTOS_PER_CLASS} {CLASSES[0]} + {PHOTOS_PER_CLASS} {CLASSES[1]}, real-photo dev set",
        "cross_validated_accuracy": model.validation.accuracy,
    }
    log(
        f"  teach 2 x {PHOTOS_PER_CLASS} real photos: {result['seconds_2x20']:.2f} s (features "
        f"{result['features_seconds']:.2f} s, cross-validation and fit {result['cross_validation_and_fit_seconds']:.2f}"
        f" s; median of {len(total_s)}); base load {load_seconds:.2f} s, download zip {bundle_seconds:.2f} s"
    )
    return result
