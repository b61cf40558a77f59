"""`convlens bench --only teach`: 2 classes x 20 real photos taught, timed, written as teach.seconds_2x20.
Nothing here asserts a speed: bench measures, tests check behaviour."""

import json

from toolkit.bench import report as bench
from toolkit.core.paths import exported_dir


def test_the_teach_section_times_2_by_20_real_photos_and_reports_it(feature_base, tmp_path, monkeypatch, teach_export):
    monkeypatch.setenv("CONVLENS_RUNS", str(tmp_path / "runs"))
    results = bench.run_bench(["teach"], trials=1, exported=teach_export, log=lambda *_: None)
    teach = results["teach"]
    assert teach["seconds_2x20"] >= teach["features_seconds"] > 0 and teach["cross_validation_and_fit_seconds"] > 0
    assert teach["photos"].startswith("20 cat + 20 other") and 0 <= teach["cross_validated_accuracy"] <= 1
    if teach_export == exported_dir():  # real MobileNet features (the hand-made export's are colour means)
        assert teach["cross_validated_accuracy"] >= 0.8
    written = json.loads((tmp_path / "runs" / "bench" / "results.json").read_text())
    assert written["teach"]["seconds_2x20"] == teach["seconds_2x20"]
    table = (tmp_path / "runs" / "bench" / "results.md").read_text()
    assert f"| seconds_2x20 | {teach['seconds_2x20']:.2f} |" in table
