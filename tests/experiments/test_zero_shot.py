"""The ImageNet zero-shot reference: every cat class counted, the threshold set on validation, the old rule beside."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from toolkit.data.datasets import Split
from toolkit.experiments import zero_shot


def _probabilities(dog: float, domestic: float, wild: float) -> np.ndarray:
    """1000 probabilities with the given mass on a dog breed, a domestic cat and a wild cat, the rest spread."""
    row = np.full(1000, (1.0 - dog - domestic - wild) / 997)
    row[200], row[282], row[290] = dog, domestic, wild
    return row


def test_the_log_ratio_counts_wild_cats_and_the_old_rule_does_not():
    lion = _probabilities(dog=0.05, domestic=0.01, wild=0.8)[None]
    assert zero_shot.dog_log_ratio(lion) < 0  # every cat class: more cat than dog
    assert zero_shot.dog_log_ratio(lion, range(281, 286)) > 0  # domestic only: the lion reads as a dog
    nothing = np.zeros((1, 1000))
    assert np.isfinite(zero_shot.dog_log_ratio(nothing)).all()


def test_the_threshold_is_the_best_on_the_labels_given_and_nearest_zero_among_equals():
    scores = np.array([-3.0, -1.0, 2.0, 4.0, 6.0])
    labels = np.array([0, 0, 0, 1, 1])
    assert zero_shot.best_threshold(scores, labels) == 3.0  # between 2 (a cat) and 4 (a dog)
    separated = np.array([-2.0, -1.0, 1.0, 2.0])
    assert zero_shot.best_threshold(separated, np.array([0, 0, 1, 1])) == 0.0  # anything in (-1, 1) is perfect
    assert zero_shot.best_threshold(np.array([5.0, 6.0]), np.array([0, 0])) == 7.0  # all cats: above both


def test_the_reference_sets_its_threshold_on_validation_and_only_then_reads_test(monkeypatch):
    # validation: every image leans to dogs, cats less so; test: two lions (wild cats), a cat and a dog the
    # validation threshold decides right, and a cat leaning further to dogs than any validation cat, which a
    # threshold fitted on the test images would call right and the validation threshold calls a dog
    validation = [_probabilities(0.5, 0.05, 0.0), _probabilities(0.6, 0.03, 0.0), _probabilities(0.8, 0.01, 0.0)]
    lion, cat, dog = _probabilities(0.05, 0.01, 0.8), _probabilities(0.5, 0.05, 0.0), _probabilities(0.9, 0.005, 0.0)
    doggy_cat = _probabilities(0.85, 0.01, 0.0)
    test = np.array([lion, cat, dog, lion, doggy_cat])
    test_labels = np.array([0, 0, 1, 0, 0])
    answers = {3: np.array(validation), 5: test}
    monkeypatch.setattr(zero_shot, "imagenet_probabilities", lambda images, batch_size=64: answers[len(images)])
    images = np.zeros((1, 8, 8, 3), np.uint8)
    validation_split = Split(np.repeat(images, 3, axis=0), np.array([0, 0, 1]))
    result = zero_shot.zero_shot_reference(validation_split, Split(np.repeat(images, 5, axis=0), test_labels))
    new, old = result["rules"][zero_shot.NEW_RULE], result["rules"][zero_shot.OLD_RULE]
    on_validation = zero_shot.best_threshold(zero_shot.dog_log_ratio(np.array(validation)), validation_split.y)
    on_test = zero_shot.best_threshold(zero_shot.dog_log_ratio(test), test_labels)
    assert new["log_ratio_threshold"] == on_validation != on_test
    assert new["threshold_chosen_on"] == "validation" and new["validation"]["accuracy"] == 1.0
    assert new["test"]["accuracy"] == result["test_accuracy"] == 0.8  # all but the doggy cat
    assert result["confusion_matrix"] == [[3, 1], [0, 1]] and result["test_images"] == 5
    # the old rule sees only domestic cats at equal mass: the lions and every cat read as dogs
    assert old["log_ratio_threshold"] == 0.0 and old["test"]["accuracy"] == 0.2
    # every cat class at equal mass: the lions become cats, the dog-leaning cats stay dogs
    assert result["rules"][zero_shot.ALL_CATS_EQUAL_MASS]["test"]["accuracy"] == 0.6


def test_the_real_imagenet_model_calls_chelsea_a_cat_under_both_rules(real_home):
    from skimage import data as skdata

    from toolkit.core.preprocessing import center_square

    cat = np.asarray(center_square(Image.fromarray(skdata.chelsea())).resize((128, 128), Image.Resampling.BILINEAR))
    result = zero_shot.zero_shot_reference(Split(cat[None], np.array([0])), Split(cat[None], np.array([0])))
    for rule in (zero_shot.NEW_RULE, zero_shot.OLD_RULE):
        assert result["rules"][rule]["test"]["confusion_matrix"] == [[1, 0], [0, 0]]
    assert result["rules"][zero_shot.NEW_RULE]["cat_classes"] == [281, 293]
    assert result["mean_mass_on_cats_and_dogs"] > 0.5


def test_the_command_writes_both_rules_at_both_sizes(real_home, tmp_path):
    from argparse import Namespace

    from few_cats_and_dogs import few_cats_and_dogs

    lines: list[str] = []
    with few_cats_and_dogs(train_per_class=30, test_per_class=3):  # a tenth of 30 + 30 validates: 3 + 3
        assert zero_shot.zero_shot_from_cli(Namespace(out=str(tmp_path)), log=lines.append) == 0
    written = json.loads((tmp_path / "results.json").read_text())
    assert set(written["by_input_size"]) == {"128", "224"}
    for result in written["by_input_size"].values():
        assert result["validation_images"] == result["test_images"] == 6
        assert set(result["rules"]) == {zero_shot.NEW_RULE, zero_shot.ALL_CATS_EQUAL_MASS, zero_shot.OLD_RULE}
    assert "all_cats_validated" in (tmp_path / "results.md").read_text() and "written to" in lines[-1]
