"""The ImageNet model's 1000 probabilities read as cat-or-dog evidence (numpy only; export and demo share it).

The class ranges are in toolkit.core.names: dogs 151-268, cats 281-293 (domestic and wild).
"""

from __future__ import annotations

import numpy as np

from toolkit.core.names import IMAGENET_CAT_CLASSES, IMAGENET_DOG_CLASSES


def cat_and_dog_mass(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the softmax mass on ImageNet's cat classes and on its dog classes."""
    probabilities = np.asarray(probabilities).reshape(len(probabilities), -1)
    cats = probabilities[:, IMAGENET_CAT_CLASSES.start : IMAGENET_CAT_CLASSES.stop].sum(axis=1)
    dogs = probabilities[:, IMAGENET_DOG_CLASSES.start : IMAGENET_DOG_CLASSES.stop].sum(axis=1)
    return cats, dogs


def cat_vs_dog_decisions(probabilities: np.ndarray) -> np.ndarray:
    """1 (dog) where the dog mass exceeds the cat mass, else 0 (cat): the cats-vs-dogs labels' order."""
    cats, dogs = cat_and_dog_mass(probabilities)
    return (dogs > cats).astype(np.int64)
