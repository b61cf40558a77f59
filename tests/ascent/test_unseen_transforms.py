"""The fair check's transformation families, each on a small image whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")  # the toolkit.ascent package imports it

from toolkit.ascent import unseen_transforms as ut


def _dot(size: int = 40, channels: int = 3, at: tuple[int, int] = (20, 20)) -> np.ndarray:
    image = np.zeros((1, size, size, channels), np.uint8)
    image[0, at[0], at[1]] = 255
    return image


def _where(image: np.ndarray, value: int = 255) -> tuple[int, int]:
    spots = np.argwhere(image[0, :, :, 0] == value)
    assert len(spots) == 1, spots
    return int(spots[0][0]), int(spots[0][1])


def test_shifted_moves_content_by_whole_pixels_and_fills_what_comes_in():
    out = ut.shifted(_dot(), 3, -2, fill=7)
    assert _where(out) == (23, 18)
    assert np.all(out[:, :3] == 7) and np.all(out[:, :, -2:] == 7)  # the rows and columns that came in
    assert (out == 7).sum() == (3 * 40 + 2 * 40 - 3 * 2) * 3
    assert np.all(ut.shifted(_dot(), 40, 0, fill=9) == 9)  # shifted out entirely


def test_a_large_shift_moves_content_15_to_25_percent_of_the_side_in_varied_directions():
    family = ut.LargeShift(0.15, 0.25, background=7)
    moves = []
    for k in range(24):
        out = family(_dot(), np.random.default_rng([5, k]))
        y, x = _where(out)
        moves.append((y - 20, x - 20))
        assert (out == 7).sum() > 0 and out.shape == (1, 40, 40, 3)
    distances = [np.hypot(dy, dx) for dy, dx in moves]
    half_pixel = np.hypot(0.5, 0.5)  # each whole-pixel component is rounded
    assert 0.15 * 40 - half_pixel <= min(distances) and max(distances) <= 0.25 * 40 + half_pixel
    assert len({(np.sign(dy), np.sign(dx)) for dy, dx in moves}) >= 3
    again = [_where(family(_dot(), np.random.default_rng([5, k]))) for k in range(24)]
    assert [(y - 20, x - 20) for y, x in again] == moves  # a fixed seed, the same shifts


def test_nearest_resampling_keeps_the_images_own_values_and_differs_from_bilinear():
    ramp = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))[None, :, :, None]  # 32 grey levels, left to right
    nearest = ut.Resample("nearest")(ramp, np.random.default_rng(1))
    bilinear = ut.Resample("bilinear")(ramp, np.random.default_rng(1))
    bicubic = ut.Resample("bicubic")(ramp, np.random.default_rng(1))
    assert nearest.shape == bilinear.shape == bicubic.shape == ramp.shape and nearest.dtype == np.uint8
    assert set(np.unique(nearest)) <= set(np.unique(ramp))  # nearest only copies pixels
    assert len(set(np.unique(nearest))) < len(set(np.unique(ramp)))  # ... and loses some on the way down
    assert not set(np.unique(bilinear)) <= set(np.unique(ramp))  # bilinear makes values in between
    assert np.abs(nearest.astype(int) - bilinear).max() >= 4 and not np.array_equal(bicubic, bilinear)


def _smooth_image(channels: int, size: int = 32) -> np.ndarray:
    coarse = np.random.default_rng(0).uniform(40, 215, (size // 4, size // 4, channels))
    return np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1).round().astype(np.uint8)[None]


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_changes_pixels_but_keeps_the_mean_and_a_lower_quality_changes_more(channels):
    image = _smooth_image(channels)
    errors = {}
    for quality in (30, 70):
        out = ut.Jpeg(quality)(image, np.random.default_rng(0))
        assert out.shape == image.shape and out.dtype == np.uint8
        assert abs(out.astype(float).mean() - image.mean()) < 2.0
        errors[quality] = np.abs(out.astype(int) - image).mean()
        np.testing.assert_array_equal(out, ut.Jpeg(quality)(image, np.random.default_rng(9)))  # draws nothing
    assert errors[70] > 0.5 and errors[30] > errors[70]


def test_colour_jitter_keeps_a_grey_image_one_channel_and_changes_its_levels():
    flat = np.full((1, 16, 16, 1), 100, np.uint8)
    levels = set()
    for k in range(8):
        out = ut.ColourJitter()(flat, np.random.default_rng([2, k]))
        assert out.shape == (1, 16, 16, 1) and out.std() == 0  # a uniform image stays uniform
        levels.add(int(out[0, 0, 0, 0]))
    assert len(levels) > 4 and min(levels) >= 60 and max(levels) <= 140  # brightness x0.6-1.4


def test_colour_jitter_turns_the_hue_of_colour_but_leaves_grey_grey():
    red, grey = np.zeros((1, 8, 8, 3), np.uint8), np.full((1, 8, 8, 3), 120, np.uint8)
    red[...] = (200, 40, 40)  # green equals blue: a turn of the hue tips it towards one of them
    tipped = []
    for k in range(8):
        rng_seed = [3, k]
        out = ut.ColourJitter()(red, np.random.default_rng(rng_seed))
        tipped.append(int(out[0, 0, 0, 1]) - int(out[0, 0, 0, 2]))
        still_grey = ut.ColourJitter()(grey, np.random.default_rng(rng_seed))[0, 0, 0]
        assert still_grey[0] == still_grey[1] == still_grey[2]
    assert max(np.abs(tipped)) > 10 and min(tipped) < 0 < max(tipped)


def test_the_families_keep_shape_and_pad_with_each_models_background():
    grey, colour = ut.unseen_families(1), ut.unseen_families(3)
    expected = {"large_shift", "resize_nearest", "resize_bicubic", "jpeg_q30", "jpeg_q70", "colour_jitter"}
    assert set(grey) == set(colour) == expected
    assert grey["large_shift"].background == 0 and colour["large_shift"].background == 128
    for families, channels in ((grey, 1), (colour, 3)):
        image = _smooth_image(channels, 28)
        for name, family in families.items():
            out = family(image, np.random.default_rng(0))
            assert out.shape == image.shape and out.dtype == np.uint8, name
            assert not np.array_equal(out, image), name
