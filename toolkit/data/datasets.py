"""The datasets convlens uses, as plain numpy arrays, and ImageNet's class names.

Everything here reads the verified asset cache (`convlens assets` fills it); nothing imports
TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from toolkit.core import names
from toolkit.core.errors import ConvlensError
from toolkit.data import assets

CATS_DOGS_TEST_PER_CLASS = 200  # the package's own split: the last 200 of each class
CATS_DOGS_LABELS = names.CATS_DOGS_LABELS  # label 0 = cat, 1 = dog (the sigmoid says "dog")
IMAGENET_DOG_CLASSES = names.IMAGENET_DOG_CLASSES  # defined once in toolkit.core.names
IMAGENET_DOMESTIC_CAT_CLASSES = names.IMAGENET_DOMESTIC_CAT_CLASSES


@dataclass(frozen=True)
class Split:
    """Images (N, H, W[, C]) uint8 and integer labels (N,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def load_mnist() -> tuple[Split, Split]:
    """MNIST train (60000) and test (10000): 28x28 uint8, white ink on black."""
    arrays = assets.load_npz(assets.MNIST_FILE)
    return (
        Split(arrays["x_train"], arrays["y_train"].astype(np.int64)),
        Split(arrays["x_test"], arrays["y_test"].astype(np.int64)),
    )


def load_cats_dogs() -> tuple[Split, Split]:
    """The 1000 + 1000 32x32 RGB cats and dogs: train (800 + 800) and test (the last 200 + 200).

    Labels: 0 = cat, 1 = dog.
    """
    arrays = assets.load_npz(assets.CATS_DOGS_FILE)
    cats, dogs = arrays["cats"], arrays["dogs"]
    cut_cats, cut_dogs = len(cats) - CATS_DOGS_TEST_PER_CLASS, len(dogs) - CATS_DOGS_TEST_PER_CLASS

    def split(cat_part: np.ndarray, dog_part: np.ndarray) -> Split:
        x = np.concatenate([cat_part, dog_part])
        y = np.concatenate([np.zeros(len(cat_part), np.int64), np.ones(len(dog_part), np.int64)])
        return Split(x, y)

    return split(cats[:cut_cats], dogs[:cut_dogs]), split(cats[cut_cats:], dogs[cut_dogs:])


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names, index -> name ("Siamese cat, Siamese" at 284)."""
    return tuple(assets.load_json(assets.IMAGENET_CLASSES_FILE))


def imagenet_class_index(name_or_index: str | int) -> int:
    """Index of an ImageNet class given by index, full name or any of its comma-separated synonyms.

    Matching ignores case: "Siamese cat" -> 284, "persian cat" -> 283, "284" -> 284.
    """
    names = imagenet_class_names()
    text = str(name_or_index).strip()
    if text.isdigit():
        index = int(text)
        if 0 <= index < len(names):
            return index
        raise ConvlensError(f"ImageNet class index {index} is out of range 0..{len(names) - 1}.")
    wanted = text.lower()
    for index, full in enumerate(names):
        if full.lower() == wanted or wanted in (part.strip().lower() for part in full.split(",")):
            return index
    close = [full for full in names if wanted in full.lower()][:5]
    hint = f" Did you mean: {'; '.join(close)}?" if close else ""
    raise ConvlensError(f"no ImageNet class is called {text!r}.{hint}")
