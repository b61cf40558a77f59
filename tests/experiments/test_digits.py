"""Letters to digits: the CNN's architecture, transfer that keeps the letter convs, data helpers, the CLI."""

import argparse

import numpy as np
import pytest

from toolkit.core.errors import ConvlensError
from toolkit.data.datasets import Split
from toolkit.experiments import digits, digits_cli


def _trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _frozen(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.non_trainable_weights))


def test_small_cnn_has_the_practicals_layers_and_parameter_counts():
    model = digits.small_cnn(10)
    counts = {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}
    assert counts == {"conv1": 5770, "conv2": 14410, "logits": 19610}
    assert model.count_params() == 39790
    assert tuple(model.input_shape) == (None, 28, 28, 1) and tuple(model.output_shape) == (None, 10)
    assert model.get_layer("conv1").kernel_size == (24, 24) and model.get_layer("conv2").kernel_size == (12, 12)
    assert model.layers[-1].name == "probabilities"
    # x/255 inside: pixels 0..255 in, probabilities out
    probabilities = model.predict(np.full((2, 28, 28, 1), 255.0, np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert digits.small_cnn(26).count_params() == 5770 + 14410 + 1960 * 26 + 26


def test_transfer_copies_and_freezes_the_letter_convolutions():
    letters_model = digits.small_cnn(26)
    model = digits.transfer_cnn(letters_model)
    assert _frozen(model) == 20180 and _trainable(model) == 19610
    for name in digits.CONV_LAYERS:
        for ours, theirs in zip(
            model.get_layer(name).get_weights(), letters_model.get_layer(name).get_weights(), strict=False
        ):
            np.testing.assert_array_equal(ours, theirs)


def _pattern_digits(per_class: int, seed: int) -> Split:
    """Ten separable classes: a bright square whose position is the label, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), per_class)
    x = rng.integers(0, 40, (len(y), 28, 28)).astype(np.uint8)
    for i, label in enumerate(y):
        row, col = 4 + 10 * (label // 5), 2 + 5 * (label % 5)
        x[i, row : row + 8, col : col + 4] = 255
    return Split(x, y)


def test_a_tiny_transfer_run_learns_the_head_and_leaves_the_conv_weights_unchanged():
    import keras

    keras.utils.set_random_seed(0)
    letters_model = digits.small_cnn(26)
    model = digits.transfer_cnn(letters_model)
    conv_before = [w.copy() for name in digits.CONV_LAYERS for w in model.get_layer(name).get_weights()]
    head_before = [w.copy() for w in model.get_layer("logits").get_weights()]
    train = _pattern_digits(6, seed=1)
    config = digits.FewDigitsConfig(
        samples=len(train),
        epochs=2,
        batches_per_epoch=15,
        batch_size=16,
        learning_rate=1e-2,
        augmentation=digits.DigitAugmentation(shift_px=0.5),
    )

    history = digits.train_few(model, train, config, validation=_pattern_digits(3, seed=2), verbose=0)

    conv_after = [w for name in digits.CONV_LAYERS for w in model.get_layer(name).get_weights()]
    for before, after in zip(conv_before, conv_after):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(head_before[0], model.get_layer("logits").get_weights()[0])
    assert len(history["accuracy"]) == 2 and history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.3  # chance is 0.1


def test_stratified_sample_balances_classes_and_is_seeded():
    split = Split(np.arange(1000)[:, None, None] * np.ones((1, 2, 2), np.int64), np.arange(1000) % 10)
    sample = digits.stratified_sample(split, 105, np.random.default_rng(0))
    counts = np.bincount(sample.y, minlength=10)
    assert counts.sum() == 105 and counts.min() == 10 and counts.max() == 11
    assert len(np.unique(sample.x[:, 0, 0])) == 105  # no image twice
    np.testing.assert_array_equal(sample.y, split.y[sample.x[:, 0, 0]])  # images keep their labels
    again = digits.stratified_sample(split, 105, np.random.default_rng(0))
    np.testing.assert_array_equal(sample.x, again.x)
    with pytest.raises(ConvlensError, match="at least 10"):
        digits.stratified_sample(split, 5, np.random.default_rng(0))


def test_augmented_stream_cycles_through_the_split_with_fresh_augmentation():
    train = _pattern_digits(2, seed=0)
    plain = digits.augmented_stream(train, 50, np.random.default_rng(0), None)
    assert len(plain) == 50
    # the first 20 are one shuffled pass: every example exactly once
    first_pass = sorted(map(bytes, plain.x[:20]))
    assert first_pass == sorted(map(bytes, train.x))
    warped = digits.augmented_stream(train, 50, np.random.default_rng(0), digits.DigitAugmentation())
    np.testing.assert_array_equal(warped.y, plain.y)
    assert warped.x.dtype == np.uint8 and not np.array_equal(warped.x, plain.x)
    again = digits.augmented_stream(train, 50, np.random.default_rng(0), digits.DigitAugmentation())
    np.testing.assert_array_equal(warped.x, again.x)


def _cli_args(**given) -> argparse.Namespace:
    values = {
        "experiment": "digits",
        "profile": "quick",
        "epochs": None,
        "batch_size": None,
        "seed": None,
        "data": None,
        "out": None,
        "samples": None,
    }
    values.update(given)
    return argparse.Namespace(**values)


def test_command_line_overrides_reach_every_phase(tmp_path):
    profile = digits_cli.config_from_args(_cli_args(epochs=1, seed=4, samples=300, data=str(tmp_path)))
    assert profile.letters.epochs == profile.few.epochs == profile.full.epochs == profile.sweep.few.epochs == 1
    assert profile.letters.seed == profile.few.seed == profile.full.seed == 4
    assert profile.few.samples == 300 and profile.letters.emnist_dir == str(tmp_path.resolve())
    with pytest.raises(ConvlensError, match="not a folder"):
        digits_cli.config_from_args(_cli_args(data=str(tmp_path / "missing")))


@pytest.mark.parametrize(
    "given, message",
    [
        ({"samples": 0}, "--samples must be at least 1"),
        ({"batch_size": 0}, "--batch-size must be at least 1"),
    ],
)
def test_options_that_make_no_sense_are_refused(given, message):
    with pytest.raises(ConvlensError, match=message):
        digits_cli.config_from_args(_cli_args(**given))


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "digits", "--fine-tune-epochs", "3"],
        ["train", "digits", "--skip-scratch"],
        ["train", "letters", "--input-size", "64"],
        ["train", "letters", "--only-full"],
        ["train", "letters", "--samples", "300"],
        ["train", "digits", "--workers", "2"],
        ["train", "catsdogs", "--only-full"],
        ["train", "catsdogs", "--samples", "300"],
        ["train", "catsdogs", "--workers", "2"],
        ["train", "sweep", "--seed", "3"],
        ["train", "sweep", "--samples", "300"],
        ["train", "sweep", "--resolution-augmentation"],
    ],
)
def test_each_experiment_takes_only_its_own_options(argv):
    from toolkit.cli import build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2


def test_each_experiment_parses_the_options_it_shares_and_its_own():
    from toolkit.cli import build_parser

    parse = build_parser().parse_args
    digits_args = parse(["train", "digits", "--epochs", "2", "--samples", "300", "--only-full", "-q"])
    assert (digits_args.epochs, digits_args.samples, digits_args.only_full, digits_args.quiet) == (2, 300, True, True)
    sweep_args = parse(["train", "-v", "sweep", "--workers", "2", "--data", "emnist"])
    assert (sweep_args.experiment, sweep_args.workers, sweep_args.data, sweep_args.verbose) == (
        "sweep",
        2,
        "emnist",
        True,
    )
    letters_args = parse(["train", "letters", "--seed", "4", "--batch-size", "8", "--out", "mine"])
    assert (letters_args.seed, letters_args.batch_size, letters_args.out) == (4, 8, "mine")


def test_only_full_trains_the_served_cnn_and_nothing_else(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(
        digits_cli, "train_full", lambda config, folder: trained.append(("full", config)) or {"test_accuracy": 0.99}
    )
    monkeypatch.setattr(digits_cli, "train_digits", lambda *a, **k: trained.append(("all", None)))
    monkeypatch.setattr(digits_cli, "train_letters", lambda *a, **k: trained.append(("letters", None)))
    digits_cli.train_from_cli(_cli_args(only_full=True, epochs=1, out=str(tmp_path)), log=lambda line: None)
    assert [name for name, _ in trained] == ["full"] and trained[0][1].epochs == 1


def test_the_exports_quick_training_trains_only_the_served_models(tmp_path, monkeypatch):
    """No trained model: `convlens export` trains the catsdogs transfer model (no baseline) and the full-MNIST CNN."""
    from toolkit.cli import build_parser
    from toolkit.export import specs

    commands = []
    monkeypatch.setattr(
        specs.subprocess, "run", lambda command: commands.append(command) or argparse.Namespace(returncode=0)
    )
    specs._train_quick("catsdogs", tmp_path / "catsdogs")
    specs._train_quick("digits", tmp_path / "digits")
    catsdogs_args, digits_args = (build_parser().parse_args(command[3:]) for command in commands)
    assert catsdogs_args.experiment == "catsdogs" and catsdogs_args.skip_scratch and catsdogs_args.profile == "quick"
    assert digits_args.experiment == "digits" and digits_args.only_full and digits_args.out == str(tmp_path / "digits")


def test_the_same_seed_trains_the_same_model_twice_and_another_seed_does_not():
    train, validation, test = _pattern_digits(6, seed=1), _pattern_digits(3, seed=2), _pattern_digits(3, seed=3)
    letters_model = digits.small_cnn(26)

    def tiny_run(seed: int):
        config = digits.FewDigitsConfig(
            samples=len(train), epochs=2, batches_per_epoch=8, batch_size=16, learning_rate=1e-2, seed=seed
        )
        model, history, metrics = digits.run_few("scratch", letters_model, config, 0, (train, validation, test))
        metrics.pop("seconds")
        return model.get_weights(), history, metrics

    (weights, history, metrics), (weights_again, history_again, metrics_again) = tiny_run(5), tiny_run(5)
    assert history == history_again and metrics == metrics_again  # to the last bit, losses included
    for ours, again in zip(weights, weights_again, strict=True):
        np.testing.assert_array_equal(ours, again)
    other_weights, other_history, _ = tiny_run(6)
    assert other_history["loss"] != history["loss"]
    assert not np.array_equal(other_weights[0], weights[0])


def test_training_logs_are_written_only_inside_a_run(tmp_path):
    from toolkit.experiments.common import phase_logs, run_logs

    assert phase_logs("full") == []
    with run_logs(tmp_path):
        callbacks = phase_logs("full")
    assert [type(c).__name__ for c in callbacks] == ["CSVLogger", "TensorBoard"]
    assert (tmp_path / "logs" / "full").is_dir() and phase_logs("full") == []
