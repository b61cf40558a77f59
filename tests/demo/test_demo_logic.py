"""The demo's logic without a server: photos in every form, sketches, bad inputs and the export check."""

from pathlib import Path

import demo_support as support
import numpy as np
import pytest
from PIL import Image

from demo import sketches
from toolkit.core.errors import ConvlensError
from toolkit.core.preprocessing import photo_model_input
from toolkit.serving import photo_pipeline as logic
from toolkit.serving.export_loader import load_served_export
from toolkit.serving.photo_input import BadInput


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(np.float64)
    rows, cols = np.indices(image.shape)
    return (rows * weights).sum() / weights.sum(), (cols * weights).sum() / weights.sum()


# ---------------------------------------------------------------- sketches


@pytest.mark.parametrize("digit", ["1", "7"])
def test_a_drawn_digit_becomes_a_centred_mnist_like_image(digit):
    image = sketches.sketch_to_digit(support.drawn_digit(digit))
    assert image.shape == (28, 28) and image.dtype == np.uint8
    rows, cols = np.nonzero(image > 25)
    assert max(np.ptp(rows) + 1, np.ptp(cols) + 1) in (20, 21)  # the ink's box fitted to 20 px (+1 for blur)
    assert np.allclose(centre_of_mass(image), (13.5, 13.5), atol=1.0)
    assert image[0].max() == image[-1].max() == 0  # white ink on black, with MNIST's margins


def test_a_real_mnist_digit_redrawn_on_the_canvas_comes_back_as_itself(mnist_test):
    """An MNIST digit, inverted and scaled up onto a 400 px canvas as a user would draw it, returns close to itself."""
    for index in range(5):
        original = mnist_test.x[index]
        big = np.asarray(Image.fromarray(original).resize((280, 280), Image.Resampling.BILINEAR))
        canvas = np.full((400, 400, 3), 255, np.uint8)
        canvas[60:340, 60:340] = 255 - big[..., None]
        back = sketches.sketch_to_digit(canvas).astype(float)
        # MNIST's own centring rounded differently: allow the digit to sit one pixel off
        correlation = max(
            np.corrcoef(np.roll(back, (dy, dx), axis=(0, 1)).ravel(), original.ravel())[0, 1]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        assert correlation > 0.9, (index, correlation)


def test_a_transparent_drawing_reads_like_the_opaque_composite():
    """API callers may send strokes on a transparent canvas: the paper is white either way."""
    opaque = support.drawn_digit("7")
    transparent = opaque.copy()
    transparent[..., 3] = 255 - opaque[..., 0]  # ink opaque, paper fully transparent
    transparent[..., :3] = 0
    assert np.array_equal(sketches.sketch_to_digit(opaque), sketches.sketch_to_digit(transparent))


def test_a_sketch_without_composite_is_laid_from_its_layers():
    strokes = support.drawn_digit("1").copy()
    strokes[..., 3] = 255 - strokes[..., 0]  # the brush layer: transparent where nothing was drawn
    value = {"background": support.blank_canvas(), "layers": [strokes], "composite": None}
    assert np.array_equal(sketches.sketch_to_digit(value), sketches.sketch_to_digit(support.drawn_digit("1")))


@pytest.mark.parametrize(
    "sketch, message",
    [
        (support.blank_canvas, "canvas is empty"),
        (lambda: None, "canvas is empty"),
        (lambda: {"background": None, "layers": [], "composite": None}, "canvas is empty"),
        (support.black_canvas, "100% ink"),
        (support.single_dot, "too small to read"),
    ],
)
def test_unreadable_sketches_are_refused_with_a_message(models, sketch, message):
    with pytest.raises(BadInput, match=message):
        sketches.classify_sketch(models, sketch())
    assert sketches.classify_sketch(models, support.drawn_digit("1")).label == "1"  # and the next one works


def test_digits_the_hand_made_model_reads(models):
    """The mean-digit model in the hand-made export reads clear drawings: the whole path, fp32 and int8."""
    for digit in "170":
        for variant in ("fp32", "int8"):
            result = sketches.classify_sketch(models, support.drawn_digit(digit), variant)
            assert result.label == digit and [label for label, _ in result.top3][0] == digit
            assert len(result.top3) == 3 and abs(sum(result.probabilities.values()) - 1) < 1e-4


def test_drawn_digits_are_read_right_by_the_exported_model(request):
    export = request.getfixturevalue("small_export")
    models = load_served_export(export)
    for digit in "17":
        result = sketches.classify_sketch(models, support.drawn_digit(digit))
        assert result.label == digit, (digit, result.top3)
        for variant in models.digits.variants():
            assert sketches.classify_sketch(models, support.drawn_digit(digit), variant).label == digit


# ---------------------------------------------------------------- photos


def test_every_bad_photo_gets_a_clear_message_and_the_next_one_works(models, tmp_path):
    corpus = support.bad_inputs(tmp_path)
    for name, (path, expected) in corpus.items():
        with pytest.raises(BadInput) as caught:
            logic.classify_photo(models, path, name=name)
        assert expected.lower() in str(caught.value).lower(), (name, str(caught.value))
        assert "Traceback" not in str(caught.value)
        assert logic.classify_photo(models, support.solid(support.RED)).label == "dog"


def test_photos_in_awkward_forms_are_classified_sensibly(models, tmp_path):
    photos = support.odd_but_valid_photos(tmp_path)
    for name, (path, label) in photos.items():
        result = logic.classify_photo(models, path)
        assert result.model_input.shape == (128, 128, 3) and result.model_input.dtype == np.uint8
        if label != "either":
            assert result.label == label and result.probability > 0.9, (name, result.probabilities)
    assert any("first frame" in note for note in logic.classify_photo(models, photos["animated.gif"][0]).notes)


def test_exif_orientation_is_honoured(models, tmp_path):
    """Stored 64x32 with red on the left and Orientation=6: upright it is 32x64 with red on top."""
    path, _ = support.odd_but_valid_photos(tmp_path)["exif_rotated.jpg"]
    seen = logic.classify_photo(models, path).model_input.astype(int)
    top, bottom = seen[:64].mean(axis=(0, 1)), seen[64:].mean(axis=(0, 1))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_sixteen_bit_and_eight_bit_grey_give_the_same_model_input(models, tmp_path):
    grey = np.asarray(support.half_red_half_blue(160, 120).convert("L"))
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    Image.fromarray(grey).save(tmp_path / "grey8.png")
    sixteen = logic.classify_photo(models, tmp_path / "grey16.png").model_input.astype(int)
    eight = logic.classify_photo(models, tmp_path / "grey8.png").model_input.astype(int)
    assert np.array_equal(sixteen[..., 0], sixteen[..., 2])  # grey stays grey
    assert np.abs(sixteen - eight).max() <= 1


def test_cmyk_reads_like_the_rgb_photo(models, tmp_path):
    photo = support.half_red_half_blue(200, 200)
    photo.save(tmp_path / "rgb.png")
    photo.convert("CMYK").save(tmp_path / "cmyk.tif")
    rgb = logic.classify_photo(models, tmp_path / "rgb.png")
    cmyk = logic.classify_photo(models, tmp_path / "cmyk.tif")
    assert np.abs(rgb.model_input.astype(int) - cmyk.model_input.astype(int)).max() <= 2
    assert rgb.probabilities == pytest.approx(cmyk.probabilities, abs=0.02)


def test_transparent_areas_become_white_paper(models):
    rgba = np.zeros((100, 100, 4), np.uint8)  # fully transparent black
    seen = logic.classify_photo(models, rgba).model_input
    assert seen.min() == 255


def test_arrays_pil_images_and_files_give_the_same_answer(models, tmp_path):
    photo = support.half_red_half_blue(300, 200)
    photo.save(tmp_path / "photo.png")
    answers = [logic.classify_photo(models, source) for source in (photo, np.asarray(photo), tmp_path / "photo.png")]
    assert all(np.array_equal(a.model_input, answers[0].model_input) for a in answers)
    assert len({round(a.probability, 6) for a in answers}) == 1


def test_preprocessing_follows_the_manifest():
    photo = Image.fromarray(np.arange(200 * 100 * 3, dtype=np.uint32).reshape(100, 200, 3).astype(np.uint8))
    seen = photo_model_input(
        photo, {"kind": "photo", "crop": "center_square", "resize_steps": [[32, 32, "box"], [64, 64, "bilinear"]]}
    )
    assert seen.shape == (64, 64, 3)
    stretched = photo_model_input(photo, {"kind": "resize", "resize_steps": [[50, 40, "bilinear"]]})
    assert stretched.shape == (50, 40, 3)
    with pytest.raises(ConvlensError, match="not one this version knows"):
        photo_model_input(photo, {"kind": "spectrogram"})


def test_a_very_wide_photo_is_classified_with_a_note(models):
    wide = Image.new("RGB", (1200, 200), support.RED)
    result = logic.classify_photo(models, wide)
    assert result.label == "dog" and any("centre square" in note for note in result.notes)


# ---------------------------------------------------------------- the export


def _copy_export(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_a_missing_export_is_refused_with_the_command_to_run(tmp_path):
    with pytest.raises(ConvlensError, match=r"manifest.json is missing.*make export"):
        load_served_export(tmp_path / "nothing")


def test_a_tampered_model_is_refused_naming_the_file(fake_export, tmp_path):
    export = _copy_export(fake_export, tmp_path / "export")
    with open(export / "digits" / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ConvlensError) as caught:
        load_served_export(export)
    assert "digits/model.onnx" in str(caught.value) and "sha256" in str(caught.value)
    assert "make export" in str(caught.value)


def test_a_deleted_model_is_refused_naming_the_file(fake_export, tmp_path):
    export = _copy_export(fake_export, tmp_path / "export")
    (export / "catsdogs" / "model.int8.onnx").unlink()
    with pytest.raises(ConvlensError, match=r"catsdogs/model.int8.onnx is missing"):
        load_served_export(export)


def test_an_export_without_the_digits_model_is_refused(fake_export, tmp_path):
    export = _copy_export(fake_export, tmp_path / "export")
    manifest = support.manifest_of(export)
    del manifest["models"]["digits"]
    support.save_manifest_record(export, manifest)
    with pytest.raises(ConvlensError, match="no digits model"):
        load_served_export(export)


def test_int8_is_offered_only_where_the_manifest_recommends_it(fake_export, tmp_path):
    export = _copy_export(fake_export, tmp_path / "export")
    assert load_served_export(export).catsdogs.variants() == ["fp32", "int8"]
    manifest = support.manifest_of(export)
    manifest["models"]["catsdogs"]["quantization"]["recommended"] = False
    support.save_manifest_record(export, manifest)
    assert load_served_export(export).catsdogs.variants() == ["fp32"]


def test_start_up_and_classification_import_no_tensorflow(fake_export, tmp_path):
    script = f"""
import sys, time
started = time.perf_counter()
from demo.gradio_app import prepare
app, allowed = prepare({str(fake_export)!r}, runs={str(tmp_path)!r}, scratch={str(tmp_path / "scratch")!r})
ready = time.perf_counter() - started
from toolkit.serving.export_loader import load_served_export as load_models
from toolkit.serving.photo_pipeline import classify_photo
from demo.sketches import classify_sketch
sys.path.insert(0, {str(Path(support.__file__).parent)!r})
import demo_support
models = load_models({str(fake_export)!r})
assert classify_photo(models, demo_support.solid(demo_support.RED)).label == "dog"
assert classify_sketch(models, demo_support.drawn_digit("7")).label == "7"
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print("ready", round(ready, 2), "loaded", loaded)
"""
    done = support.run_python(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded []" in done.stdout, done.stdout
