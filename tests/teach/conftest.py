"""Teach fixtures: the real export's ImageNet MobileNet (features are only meaningful on trained weights) and
small photos of two made-up classes drawn here: warm discs on grass and cool stripes on sand."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.core.paths import exported_dir


@pytest.fixture(scope="session")
def teach_export(fake_export) -> Path:
    """The real export when there is one (its features mean something), else the hand-made one, whose "ImageNet"
    network pools the colour channels: enough to tell the drawn classes apart, and it runs in CI."""
    root = exported_dir()
    return root if (root / "manifest.json").exists() else fake_export


@pytest.fixture(scope="session")
def feature_base(teach_export):
    from toolkit.teach.features import load_feature_base

    return load_feature_base(root=teach_export)


def draw(kind: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(120, 200))
    y, x = np.mgrid[:size, :size]
    if kind == "discs":
        image = np.zeros((size, size, 3)) + [60, 140, 50]
        for _ in range(3):
            cy, cx, r = rng.integers(20, size - 20, 2).tolist() + [int(rng.integers(10, 30))]
            image[(y - cy) ** 2 + (x - cx) ** 2 < r**2] = [230, 120 + rng.integers(0, 60), 40]
    else:
        image = np.zeros((size, size, 3)) + [220, 200, 150]
        period = int(rng.integers(8, 20))
        image[(x + y * rng.integers(0, 2)) % period < period // 2] = [40, 80, 200 + rng.integers(0, 50)]
    noise = rng.normal(0, 8, image.shape)
    return Image.fromarray(np.clip(image + noise, 0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory) -> Path:
    """folder/discs/*.png and folder/stripes/*.png, 6 of each, plus one file that is not a photo."""
    folder = tmp_path_factory.mktemp("photos")
    for kind in ("discs", "stripes"):
        (folder / kind).mkdir()
        for number in range(6):
            draw(kind, number + (100 if kind == "stripes" else 0)).save(folder / kind / f"{kind}{number}.png")
    (folder / "stripes" / "notes.jpg").write_text("not a photo")
    return folder
