"""Model files from strangers: code stored in them (Lambda bytecode, custom classes) never runs.

Each malicious file here carries a Lambda whose code creates a marker file. Its own library's
unsafe loader is shown to run that code first, so the refusal that follows proves something.
"""

from __future__ import annotations

import h5py
import pytest

from toolkit import cli
from toolkit.core import model_files
from toolkit.core.errors import ConvlensError

tf_keras = pytest.importorskip("tf_keras")
keras = pytest.importorskip("keras")


def _touching_lambda(marker):
    """A lambda whose bytecode creates `marker` each time it runs (the path is a constant inside it)."""
    return eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")


def evil_keras2_h5(path, marker):
    """A Keras 2 .h5 model with a Lambda layer named `evil` (tf_keras stores its bytecode)."""
    model = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=(28, 28, 1)),
            tf_keras.layers.Lambda(_touching_lambda(marker), name="evil"),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.save(path)
    marker.unlink()  # building the model ran the lambda once


def evil_keras3_file(path, marker):
    """A Keras 3 .keras model whose Lambda layer `evil` sits in a Sequential nested inside a Functional model."""
    inner = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Lambda(_touching_lambda(marker), name="evil")], name="inner"
    )
    image = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inner(image)))
    keras.Model(image, outputs).save(path)
    marker.unlink()


def test_the_lambda_fixtures_really_run_code_in_their_own_unsafe_loaders(tmp_path):
    marker = tmp_path / "ran"
    evil_keras2_h5(tmp_path / "evil.h5", marker)
    tf_keras.models.load_model(tmp_path / "evil.h5", compile=False)  # tf_keras' .h5 path has no safe mode
    assert marker.exists()
    marker.unlink()
    evil_keras3_file(tmp_path / "evil.keras", marker)
    keras.saving.load_model(tmp_path / "evil.keras", compile=False, safe_mode=False)
    assert marker.exists()


def test_export_refuses_a_keras2_h5_with_a_lambda_before_its_code_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    evil_keras2_h5(tmp_path / "evil.h5", marker)
    code = cli.main(["export", "--model", str(tmp_path / "evil.h5"), "--out", str(tmp_path / "exported")])
    err = capsys.readouterr().err
    assert code == 2 and "refused" in err and "'evil' (Lambda)" in err and "runs Python code" in err
    assert not marker.exists()
    assert not (tmp_path / "exported" / "manifest.json").exists()


def test_export_refuses_a_keras3_file_with_a_nested_lambda_before_its_code_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    evil_keras3_file(tmp_path / "evil.keras", marker)
    code = cli.main(["export", "--model", str(tmp_path / "evil.keras"), "--out", str(tmp_path / "exported")])
    err = capsys.readouterr().err
    assert code == 2 and "'evil' (Lambda)" in err and "bytecode" in err
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_visualize_refuses_a_model_with_a_lambda_before_its_code_runs(tmp_path, capsys, suffix):
    marker = tmp_path / "ran"
    path = tmp_path / f"evil{suffix}"
    (evil_keras3_file if suffix == ".keras" else evil_keras2_h5)(path, marker)
    code = cli.main(["visualize", "digits", "--model", str(path), "--steps", "2", "--out", str(tmp_path / "gallery")])
    err = capsys.readouterr().err
    assert code == 2 and "'evil' (Lambda)" in err
    assert not marker.exists()


def test_a_custom_layer_and_a_custom_activation_are_refused_by_name(tmp_path):
    @keras.saving.register_keras_serializable(package="Stranger")
    class Sneaky(keras.layers.Layer):
        def call(self, x):
            return x

    def own_activation(x):
        return x

    custom = tmp_path / "custom.keras"
    keras.Sequential([keras.Input((4,)), Sneaky(name="sneaky")]).save(custom)
    with pytest.raises(ConvlensError, match=r"'sneaky' \(Sneaky\): a class from the Python module .*not from Keras"):
        model_files.load_keras_model(custom)
    function = tmp_path / "function.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation=own_activation, name="d")]).save(function)
    with pytest.raises(ConvlensError, match=r"'d' \(Dense\), in 'activation': a Python function"):
        model_files.load_keras_model(function)


def test_descriptions_naming_code_are_refused_with_the_reason():
    builtin = model_files.builtin_class_names(with_tf_keras=True)

    def problems(layer: dict) -> str:
        return " | ".join(
            model_files.code_problems({"class_name": "Functional", "config": {"name": "m", "layers": [layer]}}, builtin)
        )

    assert "tf.io.write_file" in problems(
        {"class_name": "TFOpLambda", "config": {"name": "w", "function": "io.write_file"}}
    )
    assert problems({"class_name": "TFOpLambda", "config": {"name": "add", "function": "math.add"}}) == ""
    assert "module 'evil_pkg'" in problems({"module": "evil_pkg", "class_name": "Dense", "config": {"name": "d"}})
    assert "registered as 'Stranger>Dense'" in problems(
        {"module": "keras.layers", "class_name": "Dense", "registered_name": "Stranger>Dense", "config": {"name": "d"}}
    )
    assert "bytecode" in problems({"class_name": "Dense", "config": {"name": "d", "function_type": "lambda"}})
    assert "not a built-in Keras class" in problems({"class_name": "Unheard", "config": {"name": "u"}})
    assert "unpickles" in problems(
        {"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {"name": "t"}}
    )
    assert "names a file" in problems(
        {"class_name": "StringLookup", "config": {"name": "s", "vocabulary": "/etc/passwd"}}
    )
    deep: dict = {"class_name": "Dense", "config": {"name": "deep"}}
    for _ in range(model_files.MAX_NESTING + 5):
        deep = {"wrap": [deep]}
    assert "nests more than" in problems({"class_name": "Dense", "config": {"name": "d", "x": deep}})


def test_files_that_are_not_model_files_or_too_large_are_refused_plainly(tmp_path, monkeypatch):
    fake_h5 = tmp_path / "model.h5"
    fake_h5.write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(ConvlensError, match="is not an HDF5 file|this one is not"):
        model_files.load_user_model(fake_h5)
    weights_only = tmp_path / "weights.h5"
    with h5py.File(weights_only, "w") as handle:
        handle.create_dataset("kernel", data=[1.0, 2.0])
    with pytest.raises(ConvlensError, match="holds no model description"):
        model_files.load_user_model(weights_only)
    big = tmp_path / "big.keras"
    big.write_bytes(b"\0" * 2048)
    monkeypatch.setattr(model_files, "MAX_MODEL_BYTES", 1024)
    with pytest.raises(ConvlensError, match="up to"):
        model_files.load_user_model(big)


def test_plain_models_of_both_libraries_still_load(tmp_path):
    image = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(image))
    keras.Model(image, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))).save(
        tmp_path / "plain.keras"
    )
    assert model_files.load_user_model(tmp_path / "plain.keras").output_shape == (None, 10)
    legacy = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=(4,)),
            tf_keras.layers.BatchNormalization(),
            tf_keras.layers.Dense(2, activation="relu"),
        ]
    )
    legacy.save(tmp_path / "plain.h5")
    assert model_files.load_user_model(tmp_path / "plain.h5").output_shape == (None, 2)


# ---------------------------------------------------------------- round two: archives and sizes


def test_a_keras_zip_with_two_config_entries_is_refused_whichever_comes_last(tmp_path):
    import sys

    sys.path.insert(0, str(model_files.Path(__file__).parents[1]))
    import attack_files

    benign, evil = attack_files.dense_config(4, 4), attack_files.lambda_config()
    path = attack_files.keras_with_duplicate_config(tmp_path / "twice.keras", benign, evil)
    with pytest.raises(ConvlensError, match="more than one entry named config.json"):
        model_files.check_model_file(path)


def test_a_config_declaring_a_dense_20000_by_20000_is_refused_before_building(tmp_path):
    import json
    import sys
    import zipfile

    sys.path.insert(0, str(model_files.Path(__file__).parents[1]))
    import attack_files

    path = tmp_path / "huge.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(attack_files.dense_config(20_000, 20_000)))
    assert model_files.declared_parameters(attack_files.dense_config(20_000, 20_000)) == 20_000 * 20_001
    with pytest.raises(ConvlensError, match="before building it.*400,020,000 weights"):
        model_files.check_model_file(path)


def test_a_saved_keras_model_declares_the_weights_it_holds(tmp_path):
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    path = tmp_path / "small.keras"
    model.save(path)
    config = model_files.check_model_file(path)
    assert model_files.declared_parameters(config) == model.count_params()
