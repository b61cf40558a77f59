"""The serving layer's photo verdict on the fake export (no TensorFlow), and its parity with `convlens eval photos`."""

from __future__ import annotations

import dataclasses

import demo_support as support
import numpy as np
import pytest
from PIL import Image

from toolkit.core.occlusion import GRID
from toolkit.evaluation.photo_choice import choose_rule, scores, verdicts
from toolkit.evaluation.photo_features import load_photo_models, photo_features
from toolkit.serving.contract import RULE_MODELS
from toolkit.serving.photo_pipeline import MAP_SIDE, closer_crops, decision_rule, judge_photo
from toolkit.serving.verdict import DecisionRule


def _decision(models, rule: DecisionRule, **shas) -> dict:
    """A photo_decision record of `rule`, chosen for the export's own ONNX files (or the `shas` given)."""
    chosen_for = {name: models.model(name).entry.files["onnx"].sha256 for name in ("catsdogs", "imagenet")}
    return {"rule": rule.as_record(), RULE_MODELS: {**chosen_for, **shas}}


def _cat_in_a_room(side: int = 150) -> Image.Image:
    """A cyan "room" (the fake ImageNet network's washbasin) with a blue "cat" filling a fifth of it, in a corner."""
    room = support.solid(support.CYAN, (400, 300))
    room.paste(support.solid(support.BLUE, (side, side)), (0, 0))
    return room


def test_a_small_cat_in_a_room_is_found_by_the_closer_look(models):
    judged = judge_photo(models, _cat_in_a_room())
    assert judged.verdict.label == "cat" and judged.verdict.found_closer
    assert "washbasin" in judged.summary and "fills only part" in judged.summary
    assert judged.top5[0][0].startswith("washbasin")  # the whole photo still looks like the room
    # the map frames where the pet was found: the top-left crop, 180 px of the 300-px square, from its top edge
    frame = judged.map_image
    assert (frame[0, 10:90] == 0).all() and (frame[2, 10:90] == 255).all() and (frame[133, 10:90] == 0).all()
    assert not (judge_photo(models, support.solid(support.BLUE, (400, 300))).map_image[0, 10:90] == 0).all()


def test_without_the_closer_look_the_room_wins(models):
    original = models.manifest
    models.manifest = dataclasses.replace(original, photo_decision=_decision(models, DecisionRule(closer_look=False)))
    try:
        assert judge_photo(models, _cat_in_a_room()).verdict.label == "neither"
    finally:
        models.manifest = original


def test_the_closer_crops_cover_the_corners_of_the_whole_photo():
    crops = closer_crops(Image.new("RGB", (400, 300)), DecisionRule())
    assert [c.size for c in crops] == [(180, 180)] * 4
    assert closer_crops(Image.new("RGB", (48, 48)), DecisionRule()) == []  # a thumbnail: nothing closer to see
    assert closer_crops(Image.new("RGB", (400, 300)), DecisionRule(closer_look=False)) == []


def test_a_rule_chosen_for_other_model_files_is_not_served(models):
    chosen = DecisionRule(animal_threshold=0.9, closer_look=False)
    original = models.manifest
    try:
        models.manifest = dataclasses.replace(original, photo_decision=_decision(models, chosen))
        assert decision_rule(models) == chosen
        models.manifest = dataclasses.replace(original, photo_decision=_decision(models, chosen, catsdogs="0" * 64))
        assert decision_rule(models) == DecisionRule()
        models.manifest = dataclasses.replace(
            original, photo_decision={"rule": chosen.as_record()}
        )  # chosen for no file
        assert decision_rule(models) == DecisionRule()
    finally:
        models.manifest = original


@pytest.mark.parametrize(
    "colour, expected, looks_like",
    [(support.RED, "dog", None), (support.BLUE, "cat", None), (support.GREEN, "neither", "African elephant")],
)
def test_each_of_the_three_answers(models, colour, expected, looks_like):
    judged = judge_photo(models, support.solid(colour, (300, 200)))
    assert judged.verdict.label == expected
    assert max(judged.verdict.probabilities, key=judged.verdict.probabilities.__getitem__) == expected
    if looks_like:
        assert looks_like in judged.verdict.looks_like and looks_like in judged.summary
    assert judged.top5[0][0] == judged.verdict.looks_like and len(judged.top5) == 5


def test_the_map_has_the_grid_and_the_overlay_the_photo(models):
    picture = support.half_red_half_blue(300, 300)
    judged = judge_photo(models, picture)
    assert judged.occlusion.shape == (GRID, GRID)
    assert judged.map_image.shape == (MAP_SIDE, MAP_SIDE, 3) and judged.map_image.dtype == np.uint8
    # hiding the red half lowers p(dog) (positive scores), hiding the blue half raises it (negative)
    left, right = judged.occlusion[:, 0].mean(), judged.occlusion[:, -1].mean()
    assert np.sign(left) != np.sign(right)


def test_the_demo_and_the_evaluation_give_the_same_verdicts(models, fake_export):
    pictures = [support.solid(c, (300, 200)) for c in (support.RED, support.BLUE, support.GREEN)]
    pictures.append(Image.fromarray(np.zeros((32, 32, 3), np.uint8) + np.array(support.RED, np.uint8)))
    features = photo_features(load_photo_models(fake_export), pictures)
    for rule in (DecisionRule(), DecisionRule(flip_average=True, transfer_input="full_resolution")):
        original = models.manifest
        models.manifest = dataclasses.replace(original, photo_decision=_decision(models, rule))
        try:
            demo = [judge_photo(models, p).verdict for p in pictures]
        finally:
            models.manifest = original
        evaluated = verdicts(features, rule)
        assert [v.label for v in demo] == [v.label for v in evaluated]
        for a, b in zip(demo, evaluated):
            assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)


def test_the_rule_is_chosen_on_the_dev_photos_given(models, fake_export):
    real = [support.solid(c, (300, 200)) for c in (support.RED, support.BLUE, support.GREEN, support.GREEN)]
    truth = ["dog", "cat", "other", "other"]
    thumbs = [
        Image.fromarray(np.zeros((32, 32, 3), np.uint8) + np.array(c, np.uint8)) for c in (support.RED, support.BLUE)
    ]
    modelset = load_photo_models(fake_export)
    rule, tried = choose_rule(photo_features(modelset, real), truth, photo_features(modelset, thumbs), ["dog", "cat"])
    assert len(tried) == 2 * 2 * 2 * 2 * 6 * 6  # mirror, closer look, veto, input, weights (photos, thumbnails)
    figures = scores([v.label for v in verdicts(photo_features(modelset, real), rule)], truth)
    assert figures["cat_dog_accuracy"] == 1.0 and figures["other_neither_rate"] == 1.0
