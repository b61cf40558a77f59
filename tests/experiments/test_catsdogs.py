"""Cats vs dogs: the practical's architecture, the two training phases, the input pipeline, the photo
folder loader and a tiny end-to-end run. Everything here trains on a handful of images."""

import json
import warnings

import numpy as np
import pytest
from few_cats_and_dogs import few_cats_and_dogs
from PIL import Image

from toolkit.core.errors import ConvlensError
from toolkit.data import photo_folders
from toolkit.experiments import catsdogs

SMALL = 64  # MobileNet accepts any size from 32; the tests train at 64 to stay quick


def _batchnorm_layers(model):
    import keras

    return [
        layer for layer in catsdogs.mobilenet_base(model).layers if isinstance(layer, keras.layers.BatchNormalization)
    ]


def _random_images(count, size, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (count, size, size, 3)).astype(np.float32), (np.arange(count) % 2).astype(np.float32)


# ---------------------------------------------------------------- architecture


def test_transfer_model_has_the_practicals_parameter_counts(real_home):
    import keras

    model = catsdogs.cats_dogs_transfer_model(128)
    assert catsdogs.count_parameters(model) == {"total": 3_229_889, "trainable": 1_025, "non_trainable": 3_228_864}
    assert model.input_shape == (None, 128, 128, 3)
    assert model.output_shape == (None, 1)
    assert isinstance(model.layers[1], keras.layers.Rescaling)  # normalisation inside: pixels 0..255 go in
    assert model.layers[-1].activation.__name__ == "sigmoid"
    random_layers = [layer.name for layer in model._flatten_layers() if type(layer).__name__.startswith("Random")]
    assert random_layers == []  # augmentation lives in the input pipeline, never in the exported model


def test_fine_tuning_makes_everything_trainable_except_batchnorm(real_home):
    model = catsdogs.cats_dogs_transfer_model(SMALL)
    catsdogs.unfreeze_for_fine_tuning(model)
    batchnorm = _batchnorm_layers(model)
    batchnorm_params = sum(int(np.prod(w.shape)) for layer in batchnorm for w in layer.weights)
    assert len(batchnorm) == 27
    assert not any(layer.trainable for layer in batchnorm)
    assert catsdogs.count_parameters(model)["trainable"] == 3_229_889 - batchnorm_params


def test_transfer_model_scales_pixels_like_the_imagenet_backbone(real_home):
    from toolkit.data import backbones

    model = catsdogs.cats_dogs_transfer_model(SMALL)
    images, _ = _random_images(2, SMALL)
    backbone = backbones.imagenet_mobilenet((SMALL, SMALL, 3))
    expected = np.asarray(backbone(images / 127.5 - 1.0)).mean(axis=(1, 2))
    pooled = catsdogs.mobilenet_base(model)(model.layers[1](images))
    np.testing.assert_allclose(np.asarray(pooled).mean(axis=(1, 2)), expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- the two phases


def test_frozen_phase_trains_only_the_head_and_keeps_batchnorm_statistics(real_home):
    model = catsdogs.cats_dogs_transfer_model(SMALL)
    catsdogs.compile_for_training(model, 1e-2)
    base_before = [w.copy() for w in catsdogs.mobilenet_base(model).get_weights()]
    head_before = model.get_layer("p_dog").get_weights()[0].copy()
    images, labels = _random_images(8, SMALL)
    model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    for before, after in zip(base_before, catsdogs.mobilenet_base(model).get_weights()):
        np.testing.assert_array_equal(before, after)  # moving means/variances included
    assert not np.allclose(head_before, model.get_layer("p_dog").get_weights()[0])


def test_fine_tuning_step_changes_convolutions_but_not_batchnorm_statistics(real_home):
    model = catsdogs.cats_dogs_transfer_model(SMALL)
    catsdogs.unfreeze_for_fine_tuning(model)
    catsdogs.compile_for_training(model, 1e-3)
    batchnorm = _batchnorm_layers(model)
    statistics_before = [[v.copy() for v in layer.get_weights()] for layer in batchnorm]
    conv_before = catsdogs.mobilenet_base(model).get_layer("conv_pw_13").get_weights()[0].copy()
    images, labels = _random_images(8, SMALL, seed=1)
    model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    for layer, before in zip(batchnorm, statistics_before):
        for old, new in zip(before, layer.get_weights()):  # gamma, beta, moving mean, moving variance
            np.testing.assert_array_equal(old, new, err_msg=layer.name)
    assert not np.allclose(conv_before, catsdogs.mobilenet_base(model).get_layer("conv_pw_13").get_weights()[0])


def test_scratch_model_is_the_same_network_with_random_weights(real_home):
    scratch = catsdogs.cats_dogs_scratch_model(SMALL)
    transfer = catsdogs.cats_dogs_transfer_model(SMALL)
    assert catsdogs.count_parameters(scratch)["total"] == catsdogs.count_parameters(transfer)["total"]
    assert catsdogs.count_parameters(scratch)["trainable"] > 3_000_000
    first_scratch = catsdogs.mobilenet_base(scratch).get_layer("conv1").get_weights()[0]
    first_transfer = catsdogs.mobilenet_base(transfer).get_layer("conv1").get_weights()[0]
    assert not np.allclose(first_scratch, first_transfer)


def test_training_throughput_is_measured_for_each_phase(real_home):
    for phase in ("frozen", "fine_tune"):  # the phases `convlens bench` measures
        assert catsdogs.measure_training_throughput(phase, steps=1, batch_size=2, input_size=32) > 0
    with pytest.raises(ConvlensError):
        catsdogs.measure_training_throughput("warp")


# ---------------------------------------------------------------- input pipeline


def test_flip_only_augmentation_returns_each_image_or_its_mirror():
    images = np.random.default_rng(0).integers(0, 256, (16, 12, 12, 3), dtype=np.uint8)
    flip_only = catsdogs.Augmentation(flip=True, rotation_degrees=0, zoom=0, translate=0)
    out = np.asarray(catsdogs.augment_batch(images, np.int64(7), flip_only))
    assert out.dtype == np.float32 and out.shape == images.shape
    mirrored = [np.allclose(o, i[:, ::-1], atol=1e-3) for o, i in zip(out, images)]
    same = [np.allclose(o, i, atol=1e-3) for o, i in zip(out, images)]
    assert all(m or s for m, s in zip(mirrored, same))
    assert 0 < sum(mirrored) < len(images)  # 16 coin flips, both outcomes


def test_augmentation_is_reproducible_per_seed_and_varies_between_seeds():
    images = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    augmentation = catsdogs.Augmentation()
    first = np.asarray(catsdogs.augment_batch(images, np.int64(3), augmentation))
    again = np.asarray(catsdogs.augment_batch(images, np.int64(3), augmentation))
    other = np.asarray(catsdogs.augment_batch(images, np.int64(4), augmentation))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert 0 <= first.min() and first.max() <= 255  # reflect fill: pixels stay in range


def test_training_dataset_draws_new_augmentations_every_epoch():
    from toolkit.data.datasets import Split

    images = np.random.default_rng(2).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    dataset = catsdogs.training_dataset(Split(images, np.zeros(6, np.int64)), 6, 0, catsdogs.Augmentation())
    epoch_one, epoch_two = (np.asarray(next(iter(dataset))[0]) for _ in range(2))
    assert epoch_one.shape == (6, 16, 16, 3)
    assert not np.allclose(np.sort(epoch_one.ravel()), np.sort(epoch_two.ravel()))


def test_stratified_holdout_keeps_class_balance():
    labels = np.array([0] * 50 + [1] * 30)
    kept, held = catsdogs.stratified_holdout(labels, 0.2, np.random.default_rng(0))
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(80))
    assert (labels[held] == 0).sum() == 10 and (labels[held] == 1).sum() == 6


def test_confusion_matrix_rows_are_true_classes():
    assert catsdogs.confusion_matrix(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])) == [[1, 1], [1, 2]]


# ---------------------------------------------------------------- your own photos


def _photo(path, colour, size=(60, 40), border=None):
    """A wide photo of one colour; `border` colours a 10-pixel band at the left and right edges."""
    image = Image.new("RGB", size, colour)
    if border is not None:
        for x in list(range(10)) + list(range(size[0] - 10, size[0])):
            for y in range(size[1]):
                image.putpixel((x, y), border)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_photo_folder_with_class_subfolders(tmp_path):
    _photo(tmp_path / "cat" / "a.png", (200, 30, 30), border=(0, 0, 255))  # PNG: no JPEG bleeding
    _photo(tmp_path / "cat" / "nested" / "b.png", (210, 20, 20))
    _photo(tmp_path / "Dogs" / "c.JPG", (20, 200, 20))
    (tmp_path / "dog").mkdir()
    (tmp_path / "notes.txt").write_text("not a photo")
    split = photo_folders.load_photo_folder(tmp_path, 24)
    assert split.x.shape == (3, 24, 24, 3) and split.x.dtype == np.uint8
    assert split.y.tolist() == [0, 0, 1]
    # the centre square of a 60x40 photo drops the blue bands at the edges
    assert split.x[0, :, :, 0].min() > 150 and split.x[0, :, :, 2].max() < 60
    assert split.x[2, :, :, 1].mean() > 150


def test_photo_folder_with_kaggle_names(tmp_path):
    _photo(tmp_path / "cat.1.jpg", (220, 10, 10))
    _photo(tmp_path / "cat.2.jpg", (220, 10, 10), size=(30, 50))
    _photo(tmp_path / "dog.10.png", (10, 10, 220))
    _photo(tmp_path / "bird.3.jpg", (5, 5, 5))  # neither class: ignored
    (tmp_path / "dog.11.jpg").write_bytes(b"not really a jpeg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        split = photo_folders.load_photo_folder(tmp_path, 16)
    assert any("skipped 1 unreadable" in str(w.message) for w in caught)
    assert split.y.tolist() == [0, 0, 1]
    assert split.x.shape == (3, 16, 16, 3)
    assert split.x[2, :, :, 2].mean() > 180


def test_photo_folder_errors_say_what_to_do(tmp_path):
    with pytest.raises(ConvlensError, match="not a folder"):
        photo_folders.find_labelled_photos(tmp_path / "missing")
    with pytest.raises(ConvlensError, match="cat/ and dog/"):
        photo_folders.find_labelled_photos(tmp_path)
    _photo(tmp_path / "cat" / "only.jpg", (1, 2, 3))
    with pytest.raises(ConvlensError, match="no dog photos"):
        photo_folders.find_labelled_photos(tmp_path)


def test_photo_is_prepared_as_the_server_prepares_it(tmp_path):
    from toolkit.core.preprocessing import center_square, photo_to_rgb, resize_steps

    path = _photo(tmp_path / "x.png", (90, 120, 150), size=(80, 50), border=(250, 250, 0))
    with Image.open(path) as picture:
        served = resize_steps(np.asarray(center_square(photo_to_rgb(picture))), [[32, 32, "bilinear"]])
    np.testing.assert_array_equal(photo_folders.load_photo(path, 32), served)


# ---------------------------------------------------------------- configuration and the command line


def test_profiles_and_overrides():
    paper = catsdogs.config_for("paper")
    assert (paper.epochs, paper.fine_tune_epochs, paper.fine_tune_cosine_decay) == (50, 10, True)
    quick = catsdogs.config_for("quick", epochs=3, seed=None)
    assert quick.epochs == 3 and quick.seed == 0 and quick.baseline_epochs == 3 + quick.fine_tune_epochs
    with pytest.raises(ConvlensError, match="profile"):
        catsdogs.config_for("fast")
    with pytest.raises(ConvlensError, match="input-size"):
        catsdogs.config_for("quick", input_size=16)


def test_cli_options_reach_the_config(monkeypatch):
    from toolkit.cli import build_parser

    seen = {}
    monkeypatch.setattr(catsdogs, "train_catsdogs", lambda config, out=None: seen.update(config=config, out=out))
    args = build_parser().parse_args(
        [
            "train",
            "catsdogs",
            "--profile",
            "paper",
            "--epochs",
            "2",
            "--seed",
            "5",
            "--input-size",
            "224",
            "--fine-tune-epochs",
            "1",
            "--out",
            "somewhere",
        ]
    )
    assert catsdogs.train_from_cli(args) == 0
    config = seen["config"]
    assert (config.profile, config.epochs, config.fine_tune_epochs, config.seed, config.input_size) == (
        "paper",
        2,
        1,
        5,
        224,
    )
    assert seen["out"] == "somewhere" and config.fine_tune_cosine_decay  # the paper profile decays the rate
    catsdogs.train_from_cli(
        build_parser().parse_args(["train", "catsdogs", "--profile", "paper", "--constant-fine-tune-rate"])
    )
    assert seen["config"].fine_tune_cosine_decay is False


# ---------------------------------------------------------------- end to end, tiny


def test_tiny_run_writes_models_metrics_config_and_curves(real_home, tmp_path):
    import keras

    config = catsdogs.config_for(
        "quick", input_size=SMALL, epochs=1, fine_tune_epochs=1, batch_size=4, validation_fraction=0.5, verbose=0
    )
    with few_cats_and_dogs(train_per_class=8, test_per_class=4):
        metrics = catsdogs.train_catsdogs(config, tmp_path, log=lambda line: None)
        data_ = catsdogs.load_data(config)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    for run in ("transfer", "scratch", "imagenet_zero_shot"):
        assert 0.0 <= written[run]["test_accuracy"] <= 1.0
        assert np.sum(written[run]["confusion_matrix"]) == written["test_images"] == 8
    assert set(written["imagenet_zero_shot"]["by_input_size"]) == {"64", "128", "224"}
    assert written["imagenet_zero_shot"]["input_size"] == SMALL
    assert written["imagenet_zero_shot"]["rules"]["all_cats_validated"]["threshold_chosen_on"] == "validation"
    assert written["transfer"]["parameters_frozen_phase"]["trainable"] == 1025

    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["preprocessing"] == {
        "kind": "photo",
        "crop": "center_square",
        "resize_steps": [[32, 32, "box"], [SMALL, SMALL, "bilinear"]],
    }
    assert saved["split_sizes"] == {"train": 8, "validation": 8, "test": 8} and saved["labels"] == ["cat", "dog"]
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["transfer"]["val_accuracy"]) == 2 and history["transfer"]["fine_tune_start_epoch"] == 1
    assert len(history["scratch"]["accuracy"]) == 2
    for figure in ("transfer_curves.png", "scratch_curves.png", "transfer_vs_scratch.png"):
        assert (tmp_path / figure).stat().st_size > 1000

    model = keras.saving.load_model(tmp_path / "transfer.keras")
    assert model.input_shape == (None, SMALL, SMALL, 3)
    again = catsdogs.evaluate_test_accuracy(model, data_.test)
    assert again["test_accuracy"] == written["transfer"]["test_accuracy"]
    p_dog = np.asarray(model(data_.test.x.astype(np.float32)))
    assert p_dog.shape == (8, 1) and ((0 <= p_dog) & (p_dog <= 1)).all()


def test_tiny_run_on_a_photo_folder_records_a_single_resize(real_home, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(10):
        for name, tint in (("cat", (200, 80, 80)), ("dog", (80, 80, 200))):
            noise = rng.integers(-40, 40, (48, 64, 3))
            picture = np.clip(np.array(tint) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(picture).save(photos / f"{name}.{index}.jpg")
    config = catsdogs.config_for(
        "quick",
        input_size=SMALL,
        epochs=1,
        fine_tune_epochs=0,
        batch_size=4,
        data=str(photos),
        skip_scratch=True,
        zero_shot_sizes=(),
        verbose=0,
    )
    metrics = catsdogs.train_catsdogs(config, tmp_path / "run", log=lambda line: None)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["preprocessing"]["resize_steps"] == [[SMALL, SMALL, "bilinear"]]
    assert saved["split_sizes"] == {"train": 14, "validation": 2, "test": 4}
    assert metrics["test_images"] == 4 and "scratch" not in metrics
    assert not (tmp_path / "run" / "scratch.keras").exists()
    for phase in ("transfer_frozen",):  # Keras' CSV and TensorBoard logs, per phase (no fine-tuning epochs here)
        log = tmp_path / "run" / "logs" / phase
        assert (log / "training.csv").read_text().startswith("epoch,") and list(log.rglob("events.out.tfevents*"))


def test_the_frozen_phase_on_cached_features_trains_the_models_own_head(real_home):
    """Features of the images and one augmented copy computed once; the head trains, the base does not move."""
    config = catsdogs.config_for(
        "quick", input_size=SMALL, epochs=2, batch_size=4, validation_fraction=0.5, cached_augmented_copies=1, verbose=0
    )
    with few_cats_and_dogs(train_per_class=8, test_per_class=4):
        data_ = catsdogs.load_data(config)
    strategy = catsdogs.distribution_strategy()
    import keras

    keras.utils.set_random_seed(0)
    model = catsdogs.cats_dogs_transfer_model(SMALL)
    features, labels = catsdogs.cached_features(model, data_.train, config, copies=1, seed=0)
    assert features.shape == (2 * len(data_.train), 1024) and sorted(labels) == sorted(np.tile(data_.train.y, 2))
    base_before = [w.copy() for w in catsdogs.mobilenet_base(model).get_weights()]
    head_before = model.get_layer("p_dog").get_weights()
    history, info = catsdogs._fit_head_on_cached_features(model, data_, config, strategy)
    kernel, bias = model.get_layer("p_dog").get_weights()
    assert kernel.shape == head_before[0].shape == (1024, 1) and bias.shape == (1,)
    assert not np.allclose(kernel, head_before[0])  # the model's own Dense layer was trained
    assert all(np.array_equal(a, b) for a, b in zip(base_before, catsdogs.mobilenet_base(model).get_weights()))
    assert len(history["loss"]) == len(history["val_accuracy"]) == 2
    assert info["features"] == "cached" and info["augmented_copies"] == 1
    assert info["cached_train_features"] == 2 * len(data_.train)


def test_the_same_seed_gives_the_same_transfer_run_twice(real_home):
    config = catsdogs.config_for(
        "quick",
        input_size=SMALL,
        epochs=1,
        fine_tune_epochs=1,
        batch_size=4,
        validation_fraction=0.5,
        seed=3,
        verbose=0,
    )
    with few_cats_and_dogs(train_per_class=8, test_per_class=4):
        data_ = catsdogs.load_data(config)
    strategy = catsdogs.distribution_strategy()

    def tiny_run():
        model, history, info = catsdogs.train_transfer(data_, config, strategy, log=lambda line: None)
        figures = catsdogs.evaluate_test_accuracy(model, data_.test, config.batch_size)
        p_dog = np.asarray(model(data_.test.x.astype(np.float32)))
        return history, info["frozen_phase_test_accuracy"], figures, p_dog

    history, frozen, figures, p_dog = tiny_run()
    history_again, frozen_again, figures_again, p_dog_again = tiny_run()
    assert history == history_again and frozen == frozen_again and figures == figures_again
    np.testing.assert_array_equal(p_dog, p_dog_again)  # bit for bit, with TensorFlow's op determinism on
