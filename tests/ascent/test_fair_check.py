"""The fair robustness check: both methods at both budgets, per family, on tiny models; its record in index.json;
and `convlens visualize robustness`."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from ascent_models import binary_model, digits_like_model, visualize_args

from toolkit.ascent import fair_check, feature_models, gallery, subjects
from toolkit.ascent.objectives import class_logit
from toolkit.ascent.render import render, target_check
from toolkit.core.errors import ConvlensError
from toolkit.core.names import FAIR_ROBUSTNESS

FAMILIES = {
    "as_rendered",
    "small_transforms",
    "large_shift",
    "resize_nearest",
    "resize_bicubic",
    "jpeg_q30",
    "jpeg_q70",
    "colour_jitter",
}


@pytest.fixture(scope="module")
def three_digits() -> subjects.ClassSubject:
    """Digits 3, 5 and 7 of a tiny MNIST-shaped CNN, with the robust recipe's digit priors."""
    features = feature_models.feature_model(digits_like_model(), logits=True, input_scale=feature_models.PIXELS_0_255)
    targets = (3, 5, 7)
    objectives = tuple(class_logit(d) for d in targets)
    return subjects.ClassSubject("digits", "tiny digits", features, objectives, targets, ("3", "5", "7"), True)


def test_the_fair_check_reports_each_family_for_both_methods_at_both_budgets(three_digits):
    record = fair_check.fair_check(three_digits, budgets=(2, 6), seed=0, draws=2)
    assert set(record["results"]) == {"naive", "robust"}
    assert set(record["families"]) == FAMILIES and "optimised against" in record["families"]["small_transforms"]
    for budgets in record["results"].values():
        assert set(budgets) == {"2", "6"}
        for result in budgets.values():
            assert set(result["families"]) == FAMILIES and result["default_steps"] is False
            for name, figures in result["families"].items():
                p, odds = figures["p"], figures["log_odds"]
                assert list(p) == ["3", "5", "7"]
                assert figures["mean_p"] == pytest.approx(np.mean(list(p.values())), abs=1e-4)
                assert figures["mean_log_odds"] == pytest.approx(np.mean(list(odds.values())), abs=0.01)
                if name == "as_rendered":  # one image, no averaging: p and log-odds are one figure
                    np.testing.assert_allclose(1 / (1 + np.exp(-np.array(list(odds.values())))), list(p.values()), 2e-2)
    naive_six = record["results"]["naive"]["6"]["families"]
    assert naive_six["large_shift"]["log_odds"] != naive_six["as_rendered"]["log_odds"]  # the shifts did something
    # more naive steps, more evidence as rendered: the budgets are really different renders
    assert (
        naive_six["as_rendered"]["mean_log_odds"]
        > record["results"]["naive"]["2"]["families"]["as_rendered"]["mean_log_odds"]
    )


def test_the_fair_checks_own_figures_match_the_gallerys_check_of_the_same_render(three_digits):
    record = fair_check.fair_check(three_digits, budgets=(4,), seed=1, draws=1)
    recipe, objectives = three_digits.recipe("robust")
    rendering = render(three_digits.features, objectives, recipe, 4, 1)
    check = target_check(three_digits.features, rendering.images, three_digits.targets)
    figures = record["results"]["robust"]["4"]["families"]
    np.testing.assert_allclose(list(figures["as_rendered"]["p"].values()), check["probabilities"][0], atol=1e-4)
    np.testing.assert_allclose(list(figures["small_transforms"]["log_odds"].values()), check["log_odds"][1], atol=0.01)


def test_random_families_average_their_draws_and_jpeg_is_drawn_once(three_digits):
    images = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype(np.float32)
    one = fair_check.family_measures(three_digits.features, images, three_digits.targets, draws=1)
    four = fair_check.family_measures(three_digits.features, images, three_digits.targets, draws=4)
    again = fair_check.family_measures(three_digits.features, images, three_digits.targets, draws=4)
    for name in ("jpeg_q30", "jpeg_q70", "as_rendered", "small_transforms"):
        np.testing.assert_array_equal(one[name][1], four[name][1])
    assert not np.allclose(one["large_shift"][1], four["large_shift"][1])
    for name in FAMILIES:
        np.testing.assert_array_equal(four[name][0], again[name][0])  # a fixed seed: the same figures


def _entry(name: str) -> gallery.Entry:
    return gallery.Entry(f"{name}.png", name, "c", "digits", "naive", "digits", 1, 0.1)


def test_the_record_merges_into_index_json_keeping_entries_and_progress(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    gallery.write_index(folder, [_entry("a")], total=3)
    gallery.merge_fair_robustness(folder, {"digits": {"title": "d"}})
    gallery.merge_fair_robustness(folder, {"catsdogs": {"title": "c"}})
    index = json.loads((folder / "index.json").read_text())
    assert (index["rendered"], index["total"], index["complete"]) == (1, 3, False)
    assert [e["file"] for e in index["entries"]] == ["a.png"]
    assert index[FAIR_ROBUSTNESS] == {"digits": {"title": "d"}, "catsdogs": {"title": "c"}}
    gallery.write_index(folder, [_entry("a"), _entry("b")], total=3)  # the next image of a progressive render
    gallery.merge_into(folder, [_entry("c")])  # `convlens visualize digits` afterwards
    index = json.loads((folder / "index.json").read_text())
    assert index["rendered"] == 3 and index[FAIR_ROBUSTNESS]["digits"] == {"title": "d"}
    from demo.showcase import load_gallery

    for name in "abc":
        (folder / f"{name}.png").write_bytes(b"png")
    assert [item.title for item in load_gallery(tmp_path).items] == ["a", "b", "c"]


def test_a_record_without_a_gallery_leaves_the_gallery_to_be_rendered(tmp_path):
    from demo.gallery_render import gallery_is_complete

    gallery.merge_fair_robustness(tmp_path / "gallery", {"class": {"title": "x"}})
    index = json.loads((tmp_path / "gallery" / "index.json").read_text())
    assert index["entries"] == [] and index[FAIR_ROBUSTNESS] == {"class": {"title": "x"}}
    assert not gallery_is_complete(tmp_path)  # the demo still renders the images


def _args(**overrides) -> argparse.Namespace:
    return visualize_args(**{"what": "robustness", "size": 64, "budgets": [1, 2], "draws": 2, **overrides})


def test_visualize_robustness_checks_the_imagenet_class_and_each_trained_model(tmp_path, monkeypatch, real_home):
    from toolkit.ascent.visualize_command import visualize_from_cli

    runs = tmp_path / "runs"
    (runs / "digits").mkdir(parents=True)
    (runs / "catsdogs").mkdir()
    digits_like_model().save(runs / "digits" / "full.keras")
    binary_model().save(runs / "catsdogs" / "transfer.keras")
    monkeypatch.setenv("CONVLENS_RUNS", str(runs))
    out = tmp_path / "gallery"
    out.mkdir()
    gallery.write_index(out, [_entry("a")])
    (out / "a.png").write_bytes(b"png")
    assert visualize_from_cli(_args(out=str(out))) == 0
    index = json.loads((out / "index.json").read_text())
    assert [e["file"] for e in index["entries"]] == ["a.png"] and index["complete"] is True
    records = index[FAIR_ROBUSTNESS]
    assert set(records) == {"class", "digits", "catsdogs"}
    assert records["class"]["labels"] == ["Siamese cat"] and records["catsdogs"]["labels"] == ["dog", "cat"]
    assert records["digits"]["labels"] == [str(d) for d in range(10)]
    for record in records.values():
        assert set(record["results"]) == {"naive", "robust"} and record["budgets"] == [1, 2]
        assert all(set(r) == {"1", "2"} for r in record["results"].values())
    with pytest.raises(ConvlensError, match="--budgets"):
        visualize_from_cli(_args(out=str(out), steps=5))
    with pytest.raises(ConvlensError, match="at least 1"):
        visualize_from_cli(_args(out=str(out), budgets=[0, 2]))


def test_visualize_all_adds_the_check_to_the_gallery_it_replaces_unless_skipped(tmp_path, monkeypatch, three_digits):
    from toolkit.ascent import visualize_command

    def one_panel(folder, progress) -> gallery.Entry:
        (folder / "a.png").write_bytes(b"png")
        return _entry("a")

    monkeypatch.setattr(visualize_command, "_panels", lambda what, args, options: [("a", one_panel)])
    monkeypatch.setattr(visualize_command, "_fair_subjects", lambda what, args, options: [lambda: three_digits])
    for skip in (False, True):
        out = tmp_path / f"gallery-{skip}"
        visualize_command.visualize_from_cli(_args(what="all", out=str(out), skip_robustness=skip, size=None))
        index = json.loads((out / "index.json").read_text())
        assert [e["file"] for e in index["entries"]] == ["a.png"] and index["complete"] is True
        assert (FAIR_ROBUSTNESS in index) is not skip
        if not skip:
            assert set(index[FAIR_ROBUSTNESS]["digits"]["results"]) == {"naive", "robust"}
