"""The photo verdict's rule and the occlusion map, on numbers and images built here."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.core.names import IMAGENET_DOG_CLASSES, IMAGENET_DOMESTIC_CAT_CLASSES
from toolkit.core.occlusion import map_from_scores, masked_copies, occlusion_batch, overlay
from toolkit.serving.verdict import (
    CloserLook,
    DecisionRule,
    decide,
    imagenet_evidence,
    transfer_preprocessing,
    verdict_summary,
)

LABELS = [f"class {i}" for i in range(1000)]
RULE = DecisionRule(
    animal_threshold=0.05, thumbnail_threshold=0.002, transfer_weight=1.0, thumbnail_transfer_weight=1.0
)
LABELS[386] = "African elephant"
LABELS[896] = "washbasin"


def _probabilities(cat: float, dog: float, other_class: int = 896) -> np.ndarray:
    p = np.zeros(1000)
    p[IMAGENET_DOMESTIC_CAT_CLASSES[0]] = cat
    p[IMAGENET_DOG_CLASSES[0]] = dog
    p[other_class] = 1 - cat - dog
    return p


@pytest.mark.parametrize(
    "cat, dog, transfer, side, expected",
    [
        (0.9, 0.01, 0.5, 500, "cat"),
        (0.01, 0.95, 0.5, 500, "dog"),
        (0.001, 0.002, 0.99, 500, "neither"),  # the transfer model's confidence cannot make a washbasin a dog
        (0.001, 0.002, 0.99, 32, "dog"),  # a thumbnail: weak ImageNet evidence, the lower threshold
        (0.0001, 0.0001, 0.99, 32, "neither"),
        (0.3, 0.3, 0.9, 500, "dog"),  # ImageNet undecided: the transfer model breaks the tie
    ],
)
def test_the_three_answers(cat, dog, transfer, side, expected):
    verdict = decide(imagenet_evidence(_probabilities(cat, dog), LABELS), transfer, side, RULE)
    assert verdict.label == expected
    assert set(verdict.probabilities) == {"cat", "dog", "neither"}
    assert max(verdict.probabilities, key=verdict.probabilities.__getitem__) == expected
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0)


def test_neither_needs_no_cat_or_dog_evidence_at_any_scale():
    room = imagenet_evidence(_probabilities(0.01, 0.0), LABELS)  # the whole photo: mostly a washbasin
    closer = [CloserLook(0.0, 0.0), CloserLook(0.6, 0.02), CloserLook(0.01, 0.0)]
    found = decide(room, 0.7, 500, RULE, closer)
    assert found.label == "cat" and found.found_closer and found.strongest == pytest.approx(0.62)
    assert decide(room, 0.7, 500, RULE).label == "neither"  # the whole photo alone has no evidence
    assert decide(room, 0.7, 500, DecisionRule(**{**RULE.as_record(), "closer_look": False}), closer).label == "neither"
    thumbnail = decide(room, 0.7, 32, RULE, closer)  # a thumbnail's crops do not count; its own, lower threshold
    assert thumbnail.label == "cat" and not thumbnail.found_closer and thumbnail.strongest == pytest.approx(0.01)


def test_the_summary_says_probably_when_unsure_and_never_contradicts_the_answer():
    unsure = decide(imagenet_evidence(_probabilities(0.35, 0.3), LABELS), 0.7, 500, RULE)
    assert unsure.label == "dog" and not unsure.sure and unsure.networks_disagree
    said = verdict_summary(unsure)
    assert said.startswith("**Probably a dog**") and "disagree" in said and "cat" not in said
    sure = decide(imagenet_evidence(_probabilities(0.01, 0.9), LABELS), 0.9, 500, RULE)
    assert verdict_summary(sure).startswith("**Dog**") and "disagree" not in verdict_summary(sure)
    neither = decide(imagenet_evidence(_probabilities(0.0, 0.001), LABELS), 0.9, 500, RULE)
    assert verdict_summary(neither).startswith("**Neither a cat nor a dog**")


def test_neither_says_what_the_photo_looks_like_and_the_top5_is_ranked():
    evidence = imagenet_evidence(_probabilities(0.001, 0.002), LABELS)
    assert evidence.top5[0] == ("washbasin", pytest.approx(0.997))
    assert [p for _, p in evidence.top5] == sorted((p for _, p in evidence.top5), reverse=True)
    assert decide(evidence, 0.9, 400, RULE).looks_like == "washbasin"


def test_a_photo_that_is_more_another_animal_than_a_pet_is_neither():
    lynx_like = imagenet_evidence(_probabilities(0.3, 0.0, other_class=287), LABELS)  # 287: lynx, an animal
    assert lynx_like.other_animal == pytest.approx(0.7)
    closer = [CloserLook(0.9, 0.0)]  # a closer crop even looks like a tabby
    assert decide(lynx_like, 0.1, 500, RULE, closer).label == "neither"
    no_veto = DecisionRule(**{**RULE.as_record(), "other_animal_veto": False})
    assert decide(lynx_like, 0.1, 500, no_veto, closer).label == "cat"
    in_a_room = imagenet_evidence(_probabilities(0.3, 0.0), LABELS)  # the rest is a washbasin: no veto
    assert in_a_room.other_animal == 0.0 and decide(in_a_room, 0.1, 500, RULE, closer).label == "cat"


def test_the_threshold_is_where_the_answer_turns():
    rule = DecisionRule(animal_threshold=0.1, transfer_weight=1.0)
    below = decide(imagenet_evidence(_probabilities(0.0, 0.099), LABELS), 0.5, 400, rule)
    above = decide(imagenet_evidence(_probabilities(0.0, 0.101), LABELS), 0.5, 400, rule)
    assert (below.label, above.label) == ("neither", "dog")


def test_the_rule_round_trips_through_its_record_and_ignores_unknown_keys():
    rule = DecisionRule(animal_threshold=0.2, flip_average=True, transfer_input="full_resolution")
    assert DecisionRule.from_record({**rule.as_record(), "from_the_future": 1}) == rule
    assert DecisionRule.from_record(None) == DecisionRule()
    trained = {"kind": "photo", "resize_steps": [[32, 32, "box"], [128, 128, "bilinear"]]}
    assert transfer_preprocessing(DecisionRule(), trained, 128) == trained
    assert transfer_preprocessing(rule, trained, 128)["resize_steps"] == [[128, 128, "bilinear"]]


def test_masked_copies_grey_one_region_each():
    image = np.zeros((64, 64, 3), np.float32)
    copies = masked_copies(image, grid=4)
    assert copies.shape == (16, 64, 64, 3)
    greyed = (copies != 0).any(axis=3)
    assert greyed[0, 0, 0] and not greyed[0, -1, -1] and greyed[-1, -1, -1] and not greyed[-1, 0, 0]


def test_the_map_points_at_the_region_that_carries_the_answer():
    image = np.full((64, 64, 3), 127.5, np.float32)
    image[:16, :16] = 255.0  # a bright corner is what the "model" below calls dog

    def log_odds(batch: np.ndarray) -> np.ndarray:
        return batch[:, :16, :16].mean(axis=(1, 2, 3)) / 10

    batch = occlusion_batch(image, grid=4)
    assert batch.shape == (17, 64, 64, 3) and np.array_equal(batch[0], image)  # the image first, then 16 copies
    sensitivity, base = map_from_scores(log_odds(batch), grid=4)
    assert sensitivity.shape == (4, 4) and base == pytest.approx(25.5)
    assert np.unravel_index(sensitivity.argmax(), sensitivity.shape) == (0, 0)
    assert sensitivity[3, 3] == pytest.approx(0.0)


def test_the_overlay_keeps_the_photo_and_colours_by_direction():
    photo = np.full((224, 224, 3), 128, np.uint8)
    toward = overlay(photo, np.array([[1.0, -1.0], [0.0, 0.0]]))
    assert toward.shape == (224, 224, 3) and toward.dtype == np.uint8
    assert toward[10, 10, 0] > toward[10, 10, 2]  # top left pushed toward dog: orange
    assert toward[10, 213, 2] > toward[10, 213, 0]  # top right toward cat: blue
    assert np.abs(toward[215, 112].astype(int) - photo[215, 112]).max() <= 3  # no effect, (almost) no colour
