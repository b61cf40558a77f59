"""The ImageNet model's 1000 probabilities read as cat-or-dog evidence (numpy only; export and demo share it).

The class ranges are in toolkit.core.names: dogs 151-268, cats 281-293 (domestic and wild) or 281-285
(domestic only, as the photo verdict and the zero-shot reference count them).
"""

from __future__ import annotations

import numpy as np

from toolkit.core.names import (
    IMAGENET_ANIMAL_CLASSES,
    IMAGENET_CAT_CLASSES,
    IMAGENET_DOG_CLASSES,
    IMAGENET_DOMESTIC_CAT_CLASSES,
)


def cat_and_dog_mass(probabilities: np.ndarray, cats: range = IMAGENET_CAT_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the softmax mass on ImageNet's cat classes (`cats`: all, or the domestic ones) and on its dogs."""
    probabilities = np.asarray(probabilities).reshape(len(probabilities), -1)
    cat_mass = probabilities[:, cats.start : cats.stop].sum(axis=1)
    dog_mass = probabilities[:, IMAGENET_DOG_CLASSES.start : IMAGENET_DOG_CLASSES.stop].sum(axis=1)
    return cat_mass, dog_mass


def other_animal_mass(probabilities: np.ndarray) -> np.ndarray:
    """Per image, the softmax mass on ImageNet's animals that are neither domestic cats nor dogs (a lynx, a fox,
    a horse, a rabbit, a bird): positive evidence that a photo shows another animal."""
    probabilities = np.asarray(probabilities).reshape(len(probabilities), -1)
    animals = probabilities[:, IMAGENET_ANIMAL_CLASSES.start : IMAGENET_ANIMAL_CLASSES.stop].sum(axis=1)
    cats, dogs = cat_and_dog_mass(probabilities, IMAGENET_DOMESTIC_CAT_CLASSES)
    return animals - cats - dogs


def cat_vs_dog_decisions(probabilities: np.ndarray, cats: range = IMAGENET_CAT_CLASSES) -> np.ndarray:
    """1 (dog) where the dog mass exceeds the cat mass, else 0 (cat): the cats-vs-dogs labels' order."""
    cat_mass, dog_mass = cat_and_dog_mass(probabilities, cats)
    return (dog_mass > cat_mass).astype(np.int64)
