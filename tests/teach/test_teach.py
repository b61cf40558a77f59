"""Teaching without TensorFlow: features, the head, the joined ONNX file, the download and the project file."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import pytest

from toolkit.serving.onnx_sessions import onnx_session
from toolkit.serving.photo_input import open_photo
from toolkit.teach.bundle import load_taught, write_bundle_zip
from toolkit.teach.features import VIEWS, training_images
from toolkit.teach.head import cross_validate, fit_head, photo_folds
from toolkit.teach.project import read_project, write_project
from toolkit.teach.taught_model import UNKNOWN, TeachSettings
from toolkit.teach.training import TeachError, check_labels, featurise, folder_sources, teach


@pytest.fixture(scope="module")
def taught(feature_base, photo_folder):
    labels, sources = folder_sources(photo_folder)
    photos, skipped = featurise(feature_base, sources, TeachSettings())
    return labels, photos, skipped, teach(feature_base, labels, photos, TeachSettings())


def test_a_file_that_is_not_a_photo_is_skipped_with_a_message_not_fatal(taught):
    labels, photos, skipped, model = taught
    assert labels == ("discs", "stripes")
    assert len(photos) == 12 and len(skipped) == 1 and "notes.jpg" in skipped[0]


def test_two_drawn_classes_are_told_apart_held_out(taught):
    model = taught[3]
    assert model.validation.accuracy >= 0.9
    assert np.array(model.validation.confusion).sum() == 12
    assert 0 < model.threshold <= 1


def test_the_joined_onnx_file_gives_the_head_on_the_base_features(taught, feature_base, photo_folder):
    model = taught[3]
    picture, _ = open_photo(photo_folder / "discs" / "discs0.png")
    images = training_images(picture, feature_base.preprocessing)
    pooled, _ = feature_base.features(images[:1])
    joined = onnx_session(model.onnx_bytes).run(None, {"image": images[:1].astype(np.float32)})[0]
    assert np.abs(joined - model.head.probabilities(pooled)).max() <= 1e-5


def test_the_onnx_file_describes_itself_like_the_exported_models(taught, feature_base):
    joined = onnx.load_from_string(taught[3].onnx_bytes)
    base = onnx.load_from_string(feature_base.base_bytes)
    assert [i.name for i in joined.graph.input] == ["image"] and [o.name for o in joined.graph.output] == [
        "probabilities"
    ]
    keys = {p.key for p in joined.metadata_props}
    assert {p.key for p in base.metadata_props} <= keys
    assert joined.doc_string.count("\n") >= 3 and joined.graph.name == "convlens_taught"
    assert json.loads({p.key: p.value for p in joined.metadata_props}["convlens.labels"]) == ["discs", "stripes"]


def test_the_ten_line_snippet_reproduces_the_scores(taught, photo_folder, tmp_path):
    model = taught[3]
    with zipfile.ZipFile(write_bundle_zip(model, tmp_path / "taught.zip")) as archive:
        archive.extractall(tmp_path / "unzipped")
        assert {"labels.txt", "metadata.json", "predict.py", "manifest.json", "taught/model.onnx"} <= set(
            archive.namelist()
        )
    snippet = (tmp_path / "unzipped" / "predict.py").read_text()
    assert len(snippet.strip().splitlines()) == 10
    photo = photo_folder / "stripes" / "stripes3.png"
    out = subprocess.run(
        [sys.executable, "predict.py", str(photo)], cwd=tmp_path / "unzipped", capture_output=True, text=True
    )
    scores = json.loads(out.stdout)
    answer = model.answer(open_photo(photo)[0])
    assert max(abs(scores[k] - answer.probabilities[k]) for k in scores) <= 1e-5
    metadata = json.loads((tmp_path / "unzipped" / "metadata.json").read_text())
    assert metadata["preprocessing"]["resize"]["method"].startswith("bilinear")
    loaded = load_taught(tmp_path / "taught.zip", tmp_path / "loaded")
    assert loaded.labels == ["discs", "stripes"]


def test_below_the_threshold_or_on_the_background_class_the_answer_is_unknown(taught, photo_folder):
    model = taught[3]
    picture = open_photo(photo_folder / "discs" / "discs1.png")[0]
    assert model.answer(picture, threshold=1.01).label == UNKNOWN
    assert model.answer(picture, threshold=0.0).label == "discs"


def test_a_reopened_project_retrains_to_the_same_model(taught, feature_base, tmp_path):
    labels, photos, _, model = taught
    path = write_project(tmp_path / "project.zip", labels, TeachSettings(), photos, feature_base.base_sha256)
    labels2, settings2, photos2 = read_project(path, feature_base.base_sha256)
    again = teach(feature_base, labels2, list(reversed(photos2)), settings2)
    assert np.array_equal(again.head.weights, model.head.weights)
    with pytest.raises(Exception, match="another ImageNet export"):
        read_project(path, "0" * 64)


def test_class_names_and_photo_counts_are_checked_with_a_message():
    with pytest.raises(TeachError, match="2 to 5"):
        check_labels(["one"])
    with pytest.raises(TeachError, match="same name"):
        check_labels(["Cat", "cat"])
    with pytest.raises(TeachError, match="unknown"):
        check_labels(["a", "Unknown"])


def test_folds_keep_each_class_spread_and_the_head_separates_separable_data():
    labels = np.repeat([0, 1, 2], 7)
    folds = photo_folds(labels, 5, seed=1)
    assert all(len(set(folds[labels == c])) == 5 for c in range(3))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(21, len(VIEWS), 32)) + labels[:, None, None] * 3.0
    validation = cross_validate(features, labels, 3, seed=0)
    assert validation.accuracy == 1.0
    head = fit_head(features.reshape(-1, 32), np.repeat(labels, len(VIEWS)), 3, validation.l2)
    assert (head.probabilities(features[:, 0]).argmax(1) == labels).all()
