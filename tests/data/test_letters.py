"""The letters source: the EMNIST IDX loader on files the tests write, and the letter generator."""

import gzip

import numpy as np
import pytest

from toolkit.core.errors import ConvlensError
from toolkit.data import letters
from toolkit.data.letters import EMNIST_FILES, GeneratedLetters, generate_letters, load_emnist_letters


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _write_emnist(folder, upright: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> None:
    for split, (images_name, labels_name) in EMNIST_FILES.items():
        _write_idx(folder / images_name, upright[split].transpose(0, 2, 1))  # EMNIST stores them transposed
        _write_idx(folder / labels_name, labels[split])


def test_emnist_loader_undoes_the_transposition_and_shifts_labels_to_zero(tmp_path):
    rng = np.random.default_rng(0)
    upright = {"train": rng.integers(0, 256, (7, 28, 28)), "test": rng.integers(0, 256, (3, 28, 28))}
    upright["train"][0] = 0
    upright["train"][0, 2, 20:26] = 255  # a horizontal bar near the top: transposed, it would be vertical
    labels = {"train": np.array([1, 26, 3, 4, 5, 6, 7]), "test": np.array([26, 1, 2])}
    _write_emnist(tmp_path, upright, labels)

    train, test = load_emnist_letters(tmp_path)

    np.testing.assert_array_equal(train.x, upright["train"].astype(np.uint8))
    np.testing.assert_array_equal(test.x, upright["test"].astype(np.uint8))
    assert train.x[0, 2, 20:26].min() == 255 and train.x[0, 20:26, 2].max() == 0
    np.testing.assert_array_equal(train.y, [0, 25, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(test.y, [25, 0, 1])
    assert train.x.dtype == np.uint8 and train.y.dtype == np.int64


def test_emnist_loader_names_the_missing_files(tmp_path):
    with pytest.raises(ConvlensError, match="emnist-letters-train-images-idx3-ubyte.gz"):
        load_emnist_letters(tmp_path)


def test_emnist_loader_rejects_files_that_are_not_idx(tmp_path):
    upright = {"train": np.zeros((2, 28, 28)), "test": np.zeros((1, 28, 28))}
    _write_emnist(tmp_path, upright, {"train": np.array([1, 2]), "test": np.array([3])})
    with gzip.open(tmp_path / EMNIST_FILES["test"][1], "wb") as handle:
        handle.write(b"not an idx file")
    with pytest.raises(ConvlensError, match="not a gzip IDX"):
        load_emnist_letters(tmp_path)


def test_emnist_loader_rejects_labels_outside_1_to_26(tmp_path):
    upright = {"train": np.zeros((2, 28, 28)), "test": np.zeros((1, 28, 28))}
    _write_emnist(tmp_path, upright, {"train": np.array([0, 2]), "test": np.array([3])})
    with pytest.raises(ConvlensError, match="outside 1..26"):
        load_emnist_letters(tmp_path)


def test_generated_letters_are_the_same_for_a_seed_and_differ_across_seeds():
    first, again, other = generate_letters(3, seed=5), generate_letters(3, seed=5), generate_letters(3, seed=6)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)


def test_generated_letters_are_balanced_mnist_like_images():
    split = generate_letters(4, seed=1)
    assert split.x.shape == (104, 28, 28) and split.x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(split.y, minlength=26), np.full(26, 4))
    for image in split.x:
        assert image.max() >= 200  # every image has strong ink (its peak, through a Lanczos resize)
        rows, cols = np.nonzero(image > 0.05 * 255)
        # mnist_like: the ink fits a 20x20 box (+1 for resampling) inside the 28x28 field
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21
        assert image[[0, -1], :].max() == 0 and image[:, [0, -1]].max() == 0
    # The classes are drawn differently: mean images of two letters are far apart.
    mean_o, mean_l = split.x[split.y == 14].mean(axis=0), split.x[split.y == 11].mean(axis=0)
    assert np.abs(mean_o - mean_l).mean() > 10


def test_generated_letters_are_cached_under_the_key_of_their_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVLENS_HOME", str(tmp_path))
    config = GeneratedLetters(per_class=1, test_per_class=1, seed=2)
    train, test = letters.load_generated_letters(config)
    assert len(train) == 26 and len(test) == 26 and not np.array_equal(train.x, test.x)
    cached = list((tmp_path / "letters").glob("*.npz"))
    assert [path.name for path in cached] == [f"generated-{config.cache_key()}.npz"]

    def fail(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(letters, "generate_letters", fail)
    again, _ = letters.load_generated_letters(config)
    np.testing.assert_array_equal(again.x, train.x)
    assert GeneratedLetters(per_class=1, test_per_class=1, seed=3).cache_key() != config.cache_key()


def test_sample_grid_is_written(tmp_path):
    path = tmp_path / "grid.png"
    letters.save_letter_grid(generate_letters(2, seed=0), path, per_letter=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_random_warp_without_distortion_is_the_identity_and_with_it_keeps_ink():
    rng = np.random.default_rng(0)
    images = np.zeros((4, 28, 28), np.float32)
    images[:, 8:20, 12:16] = 255
    same = letters.random_warp(images, rng, rotation_deg=0, shear=0, scale=(1, 1))
    np.testing.assert_allclose(same, images, atol=1e-3)
    moved = letters.random_warp(images, rng, rotation_deg=15, shear=0.2, scale=(0.9, 1.1), shift_px=2)
    assert not np.allclose(moved, images)
    assert np.allclose(moved.sum(axis=(1, 2)), images.sum(axis=(1, 2)), rtol=0.25)


def test_text_faces_are_matplotlib_fonts_with_letters():
    names = [path.name for path in letters.text_faces()]
    assert "DejaVuSans.ttf" in names and "cmr10.ttf" in names
    assert not set(names) & letters.NOT_TEXT_FACES
