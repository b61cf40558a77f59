"""A few of the package's cats and dogs, so a test trains, evaluates or exports on them in seconds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from toolkit.data import datasets
from toolkit.data.datasets import Split


def _first_of_each_class(split: Split, per_class: int) -> Split:
    keep = np.concatenate([np.flatnonzero(split.y == label)[:per_class] for label in (0, 1)])
    return Split(split.x[keep], split.y[keep])


@contextlib.contextmanager
def few_cats_and_dogs(train_per_class: int, test_per_class: int) -> Iterator[None]:
    """While the block runs, `load_cats_dogs` gives the first cats and dogs of each part, this many of each."""
    train, test = datasets.load_cats_dogs()
    few = (_first_of_each_class(train, train_per_class), _first_of_each_class(test, test_per_class))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets, "load_cats_dogs", lambda: few)
        yield
