"""Gradient ascent: objectives, transformations, parameterisations and the batched render loop,
on tiny models built here (ResNet50V2 with random weights for its path)."""

from __future__ import annotations

from urllib.error import URLError

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

# After the importorskip calls: without TensorFlow the module is skipped before these import it.
from ascent_models import binary_model, digits_like_model  # noqa: E402

from toolkit.ascent import feature_models  # noqa: E402
from toolkit.ascent import objectives as obj  # noqa: E402
from toolkit.ascent import render as rnd  # noqa: E402
from toolkit.ascent import transforms as tfm  # noqa: E402
from toolkit.ascent.param import DigitImage, FourierImage, PixelImage  # noqa: E402
from toolkit.core.errors import ConvlensError  # noqa: E402

FEW = rnd.Method("few-naive", "pixels", False, "normalized-gradient", 0.02, 8)
FEW_ROBUST = rnd.Method("few-robust", "fourier", True, "adam", 0.05, 8)


def tiny_conv_model(size: int = 24, channels: int = 3, seed: int = 0):
    """0..255 pixels -> x/255 -> Conv(6, 3, relu) -> Conv(5, 3, relu) -> GAP -> Dense(4, softmax)."""
    keras.utils.set_random_seed(seed)
    image = keras.Input((size, size, channels))
    x = keras.layers.Rescaling(1 / 255)(image)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, keras.layers.Dense(4, activation="softmax", name="out")(x))


# ------------------------------------------------------------------------------------ objectives


def test_channel_objective_is_the_mean_of_one_channel_inside_the_border():
    acts = tf.constant(np.random.default_rng(0).normal(size=(2, 6, 6, 3)), tf.float32)
    value = obj.channel("a", 2, border=1)({"a": acts}).numpy()
    np.testing.assert_allclose(value, acts.numpy()[:, 1:-1, 1:-1, 2].mean(axis=(1, 2)), rtol=1e-6)
    no_border = obj.channel("a", 0, border=0)({"a": acts}).numpy()
    np.testing.assert_allclose(no_border, acts.numpy()[..., 0].mean(axis=(1, 2)), rtol=1e-6)


def test_class_logit_and_combined_objectives():
    logits = tf.constant([[1.0, 2.0, 5.0], [0.5, -1.0, 3.0]])
    acts = {obj.LOGITS: logits, "a": tf.ones((2, 4, 4, 2)) * 3.0}
    a, b = obj.class_logit(2), obj.channel("a", 1, border=0)
    np.testing.assert_allclose(a(acts).numpy(), [5.0, 3.0])
    np.testing.assert_allclose((a + b)(acts).numpy(), [8.0, 6.0])
    np.testing.assert_allclose((a - b)(acts).numpy(), [2.0, 0.0])
    np.testing.assert_allclose((2 * a)(acts).numpy(), [10.0, 6.0])
    np.testing.assert_allclose(obj.minimise(a)(acts).numpy(), [-5.0, -3.0])
    assert set((a + b).layers) == {obj.LOGITS, "a"}
    image = tf.constant(np.stack([np.full((4, 4, 1), 0.25), np.full((4, 4, 1), 0.75)]), tf.float32)
    np.testing.assert_allclose((a - 4 * obj.brightness())({**acts, obj.INPUT: image}).numpy(), [4.0, 0.0])


def test_total_variation_is_zero_for_a_flat_image_and_counts_each_edge():
    flat = np.full((1, 4, 4, 1), 0.3, np.float32)
    stripe = np.zeros((1, 4, 4, 1), np.float32)
    stripe[:, :, 2:] = 1.0  # one vertical edge: 4 of the 12 horizontal neighbour pairs differ by 1
    value = obj.total_variation()({obj.INPUT: tf.constant(np.concatenate([flat, stripe]))}).numpy()
    np.testing.assert_allclose(value, [0.0, 4 / 12], rtol=1e-6)


# ------------------------------------------------------------------------------- transformations


def _ramp(size=16, channels=3):
    return tf.constant(np.arange(size * size * channels, dtype=np.float32).reshape(1, size, size, channels))


def test_pad_adds_a_constant_border():
    out = tfm.Pad(3, value=0.5)(tf.zeros((2, 8, 8, 3)), tf.constant([0, 0])).numpy()
    assert out.shape == (2, 14, 14, 3)
    assert np.all(out[:, :3] == 0.5) and np.all(out[:, 3:-3, 3:-3] == 0.0)


def test_jitter_is_a_crop_shifted_by_at_most_d():
    image = _ramp()
    offsets = set()
    for k in range(12):
        out = tfm.Jitter(4)(image, tf.constant([7, k])).numpy()
        assert out.shape == (1, 12, 12, 3)
        oy, ox = np.argwhere(image.numpy()[0, :, :, 0] == out[0, 0, 0, 0])[0]
        np.testing.assert_array_equal(out[0], image.numpy()[0, oy : oy + 12, ox : ox + 12])
        offsets.add((int(oy), int(ox)))
    assert len(offsets) > 1 and all(0 <= o <= 4 for pair in offsets for o in pair)


def test_random_scale_zooms_about_the_centre_by_one_of_the_factors():
    square = np.zeros((1, 21, 21, 1), np.float32)
    square[0, 8:13, 8:13] = 1.0  # 5x5 = 25 pixels around the centre
    areas = {
        int((tfm.RandomScale((0.6, 2.0))(tf.constant(square), tf.constant([1, k])).numpy() > 0.5).sum())
        for k in range(12)
    }
    assert len(areas) == 2 and min(areas) < 16 and 80 < max(areas) < 120
    assert tfm.RandomScale((2.0,))(tf.constant(square), tf.constant([0, 0])).shape == square.shape


def test_rotation_by_zero_is_identity_and_by_90_turns_the_image():
    image = _ramp(9, 1)
    same = tfm.RandomRotate((0.0,))(image, tf.constant([0, 0])).numpy()
    np.testing.assert_allclose(same, image.numpy(), atol=1e-3)
    turned = tfm.RandomRotate((90.0,))(image, tf.constant([0, 0])).numpy()[0, :, :, 0]
    candidates = [np.rot90(image.numpy()[0, :, :, 0], k) for k in (1, -1)]
    assert min(np.abs(turned - c).max() for c in candidates) < 1e-2


def test_compose_is_deterministic_for_a_seed_and_varies_with_it():
    chain = tfm.standard(32)
    image = tf.random.stateless_uniform((1, 32, 32, 3), [0, 1])
    a = chain(image, tf.constant([3, 4])).numpy()
    b = chain(image, tf.constant([3, 4])).numpy()
    c = [chain(image, tf.constant([3, k])).numpy() for k in range(5, 9)]
    np.testing.assert_array_equal(a, b)
    assert any(x.shape != a.shape or not np.allclose(x, a) for x in c)
    assert tfm.fit(tf.constant(a), 32).shape == (1, 32, 32, 3)


# ------------------------------------------------------------------------------ parameterisations


def test_pixel_and_fourier_images_start_equal_across_the_batch_and_stay_in_range():
    for param in (PixelImage(16), FourierImage(16), FourierImage(28, channels=1)):
        params = param.initial(3, seed=5)
        image = param.to_image(tf.constant(params)).numpy()
        assert image.shape == (3, param.size, param.size, param.channels)
        assert 0.0 <= image.min() and image.max() <= 1.0
        np.testing.assert_array_equal(image[0], image[2])
        assert not np.array_equal(param.initial(1, seed=5), param.initial(1, seed=6))
    far = PixelImage(8).project(tf.constant([[-2.0, 0.5, 3.0]])).numpy()
    np.testing.assert_array_equal(far, [[0.0, 0.5, 1.0]])


def test_digit_images_start_black_and_keep_ink_inside_mnists_centred_box():
    param = DigitImage(28)
    start = param.to_image(tf.constant(param.initial(1, seed=0))).numpy()[0, ..., 0]
    assert start.max() < 0.1  # white ink on black: it starts black
    flat_white = np.zeros_like(param.initial(1, seed=0))
    flat_white[0, 0, 0, 0, 0] = 100.0  # only the constant (DC) coefficient: an evenly bright image
    bright = param.to_image(tf.constant(flat_white)).numpy()[0, ..., 0]
    assert bright[4:24, 4:24].min() > 0.5 and bright[:2].max() == 0.0 and bright[:, -2:].max() == 0.0
    assert rnd.Method("d", "digits", True, "adam", 0.05, 1).param(28, 1) == param


def test_fourier_spectrum_scaling_favours_low_frequencies():
    scale = FourierImage(32).spectrum_scale()
    assert scale[0, 0] == scale.max() and scale[16, 16] < scale[1, 1] < scale[0, 0]


# -------------------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def tiny_features():
    return feature_models.feature_model(tiny_conv_model(), ("c1", "c2"), logits=True)


@pytest.mark.parametrize("method", [FEW, FEW_ROBUST], ids=lambda m: m.name)
def test_a_batch_renders_the_same_images_as_each_objective_alone(tiny_features, method):
    objectives = [obj.channel("c2", 0), obj.channel("c1", 3), -obj.channel("c2", 4)]
    batch = rnd.render(tiny_features, objectives, method, seed=3)
    for i, objective in enumerate(objectives):
        alone = rnd.render(tiny_features, [objective], method, seed=3)
        np.testing.assert_allclose(alone.images[0], batch.images[i], atol=2e-4)
    assert not np.allclose(batch.images[0], batch.images[1], atol=1e-2)
    chunked = rnd.render(tiny_features, objectives, method, seed=3, batch_size=2)
    np.testing.assert_allclose(chunked.images, batch.images, atol=2e-4)


def test_the_same_seed_gives_the_same_images_and_another_seed_others(tiny_features):
    a = rnd.render(tiny_features, [obj.channel("c2", 1)], FEW_ROBUST, seed=11)
    b = rnd.render(tiny_features, [obj.channel("c2", 1)], FEW_ROBUST, seed=11)
    c = rnd.render(tiny_features, [obj.channel("c2", 1)], FEW_ROBUST, seed=12)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.allclose(a.images, c.images)


@pytest.mark.parametrize("method", [FEW, FEW_ROBUST], ids=lambda m: m.name)
def test_maximising_raises_and_minimising_lowers_the_activation(tiny_features, method):
    param = method.param(tiny_features.size, tiny_features.channels)
    start = param.to_image(tf.constant(param.initial(1, seed=0)))
    c = obj.channel("c2", 2)
    before = float(c(tiny_features(start))[0])
    up = rnd.render(tiny_features, [c], method, steps=20, seed=0).values[0]
    down = -rnd.render(tiny_features, [-c], method, steps=20, seed=0).values[0]
    assert up > before + 1e-3 and down < before - 1e-3


def test_logits_are_taken_before_the_softmax_whether_it_is_a_layer_or_an_activation():
    x = np.random.default_rng(0).uniform(0, 255, (3, 28, 28, 1)).astype(np.float32)
    for separate in (True, False):
        model = digits_like_model(separate_softmax=separate)
        features = feature_models.feature_model(model, logits=True)
        logits = features(tf.constant(x / 255.0))[obj.LOGITS].numpy()
        np.testing.assert_allclose(feature_models.probabilities_from_logits(logits), model(x).numpy(), atol=1e-5)
        assert np.abs(logits).max() > 1e-3 and not np.allclose(logits.sum(axis=1), 1.0)


def test_class_visualisation_raises_the_target_probability():
    model = digits_like_model()
    features = feature_models.feature_model(model, logits=True)
    param = PixelImage(28, channels=1)
    start = param.to_image(tf.constant(param.initial(1, seed=0))).numpy()
    for digit in (3, 7):
        rendering = rnd.render(features, [obj.class_logit(digit)], FEW, steps=15, seed=0)
        before, _ = rnd.target_probabilities(features, start, [digit], n_transforms=2)
        after, under = rnd.target_probabilities(features, rendering.images, [digit], n_transforms=4)
        assert after[0] > before[0] + 0.05 and 0.0 <= under[0] <= 1.0


def test_a_sigmoid_output_is_maximised_towards_one_class_and_minimised_towards_the_other():
    model = binary_model()
    features = feature_models.feature_model(model, logits=True, input_scale=feature_models.PIXELS_0_255)
    rendering = rnd.render(features, [obj.class_logit(0), -obj.class_logit(0)], FEW, steps=15, seed=0)
    p_dog = model(rnd.to_uint8(rendering.images).astype(np.float32)).numpy()[:, 0]
    assert p_dog[0] > 0.5 > p_dog[1]
    as_rendered, _ = rnd.target_probabilities(features, rendering.images, [1, 0], n_transforms=2)
    np.testing.assert_allclose(as_rendered, [p_dog[0], 1 - p_dog[1]], atol=1e-5)


def test_log_odds_agree_with_the_probabilities_for_sigmoid_and_softmax_outputs():
    for model, targets in ((binary_model(), [1, 0]), (digits_like_model(), [3, 7])):
        features = feature_models.feature_model(model, logits=True, input_scale=feature_models.PIXELS_0_255)
        images = np.random.default_rng(0).uniform(0, 1, (2, *model.input_shape[1:])).astype(np.float32)
        probabilities, _ = rnd.target_probabilities(features, images, targets, n_transforms=2)
        log_odds, under = rnd.target_log_odds(features, images, targets, n_transforms=2)
        np.testing.assert_allclose(1 / (1 + np.exp(-log_odds)), probabilities, atol=1e-4)
        assert np.isfinite(under).all()


def test_resnet50v2_path_renders_its_practical_layers_on_random_weights():
    layers = ("conv3_block4_out", "conv5_block3_out")
    features = feature_models.imagenet_features("resnet50v2", 64, layers, weights=None)
    objectives = [obj.channel(layers[0], 0), obj.channel(layers[1], 5)]
    rendering = rnd.render(features, objectives, FEW, steps=3, seed=0)
    assert rendering.images.shape == (2, 64, 64, 3) and np.isfinite(rendering.images).all()
    assert not np.allclose(rendering.images[0], rendering.images[1])


def test_resnet50v2_weights_missing_or_not_downloadable_give_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(ConvlensError, match="does not exist"):
        feature_models.imagenet_features("resnet50v2", 64, ("conv3_block4_out",), weights=str(tmp_path / "none.h5"))
    import keras.src.applications.resnet as keras_resnet

    def offline(*args, **kwargs):
        raise URLError("no route to host")

    monkeypatch.setattr(keras_resnet.file_utils, "get_file", offline)
    with pytest.raises(ConvlensError, match="could not download"):
        feature_models.imagenet_features("resnet50v2", 64, ("conv3_block4_out",), weights="imagenet")


def test_an_unknown_layer_names_the_options():
    with pytest.raises(ConvlensError, match="no layer 'nope'"):
        feature_models.feature_model(tiny_conv_model(), ("nope",))


# ----------------------------------------------------------------- the real ImageNet MobileNet (cached weights)


def test_robust_class_images_use_the_full_colour_range(real_home):
    from toolkit.data.datasets import imagenet_class_index

    features = feature_models.imagenet_features("mobilenet", 96, logits=True)
    index = imagenet_class_index("Siamese cat")
    rendering = rnd.render(features, [obj.class_logit(index)], rnd.ROBUST, steps=96, seed=0)
    pixels = rnd.to_uint8(rendering.images[0]).astype(np.float32) / 255.0
    low, high = np.percentile(pixels, [2, 98])
    assert high - low > 0.6, f"grey wash: 2-98% of pixels within {low:.2f}..{high:.2f}"
    assert pixels.std() > 0.15
    as_rendered, _ = rnd.target_probabilities(features, rendering.images, [index], n_transforms=1)
    assert as_rendered[0] > 0.5


def test_live_class_render_returns_an_image_and_reports_progress(real_home):
    from toolkit.ascent.live import render_imagenet_class

    calls = []
    image, info = render_imagenet_class(
        "284", method="naive", steps=3, size=64, seed=1, progress=lambda done, total: calls.append((done, total))
    )
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert info["class_name"].startswith("Siamese cat") and 0.0 <= info["probability_under_transforms"] <= 1.0


def test_live_renders_of_different_classes_share_one_trace_and_match_a_direct_render(real_home):
    from toolkit.ascent import live

    live.render_imagenet_class("Siamese cat", method="naive", steps=2, size=64, seed=3)
    traced = dict(rnd._steps)
    image, info = live.render_imagenet_class("tabby", method="naive", steps=2, size=64, seed=3)
    assert dict(rnd._steps) == traced  # the second class reused the first one's step function
    direct = rnd.render(live._class_features(64), [obj.class_logit(info["class_index"])], rnd.NAIVE, 2, seed=3)
    assert np.array_equal(image, rnd.to_uint8(direct.images[0]))


@pytest.mark.slow
def test_robust_siamese_cat_survives_transformations_better_than_naive(real_home):
    from toolkit.data.datasets import imagenet_class_index

    features = feature_models.imagenet_features("mobilenet", 128, logits=True)
    index = imagenet_class_index("Siamese cat")
    under = {}
    for method in (rnd.NAIVE, rnd.ROBUST):
        rendering = rnd.render(features, [obj.class_logit(index)], method, seed=0)
        under[method.name] = rnd.target_probabilities(features, rendering.images, [index])[1][0]
    assert under["robust"] > under["naive"] + 0.3, under
