"""The export contract: manifests read and written through typed records, with clear messages for old or broken ones."""

from __future__ import annotations

import json
import shutil

import pytest

from toolkit.serving.contract import (
    FORMAT,
    FileRef,
    Manifest,
    ManifestError,
    load_verified_manifest,
    read_manifest,
    write_manifest,
)
from toolkit.serving.export_loader import load_export, load_served_export


def _record(root) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_a_written_manifest_reads_back_equal_and_keeps_unknown_keys(fake_export, tmp_path):
    manifest = read_manifest(fake_export)
    record = manifest.to_dict()
    record["models"]["digits"]["made_by_a_plugin"] = {"x": 1}
    again = Manifest.from_dict(record)
    assert again.models["digits"].extra == {"made_by_a_plugin": {"x": 1}}
    write_manifest(tmp_path, again)
    assert read_manifest(tmp_path) == again and _record(tmp_path)["format"] == FORMAT


def test_the_typed_entry_answers_what_consumers_ask(fake_export):
    entry = read_manifest(fake_export).entry("catsdogs", fake_export)
    assert entry.task == "binary" and entry.labels == ("cat", "dog") and entry.activation == "sigmoid"
    assert entry.input.image_shape == (128, 128, 3) and entry.int8_recommended
    assert set(entry.variant_files()) == {"fp32", "int8"} and isinstance(entry.files["onnx"], FileRef)
    with pytest.raises(ManifestError, match="no 'letters' model.*make export"):
        read_manifest(fake_export).entry("letters", fake_export)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.update(format=0), r"format 0, made by an older convlens.*make export"),
        (lambda r: r.update(format=FORMAT + 1), r"made by a newer convlens.*update convlens"),
        (lambda r: r.pop("format"), r"not a convlens manifest"),
        (lambda r: r["models"]["digits"].pop("files"), r"model 'digits' lacks \['files'\].*make export"),
        (lambda r: r["models"]["digits"].update(task="regression"), r"task 'regression' is not one of"),
        (lambda r: r["models"]["digits"]["input"].pop("shape"), r"digits'\.input lacks \['shape'\]"),
        (lambda r: r["models"]["digits"]["files"]["onnx"].pop("sha256"), r"files\.onnx lacks \['sha256'\]"),
        (lambda r: r.update(models=[]), r"models is not a JSON object"),
    ],
)
def test_an_old_or_broken_manifest_is_refused_naming_what_to_run(fake_export, tmp_path, change, message):
    shutil.copytree(fake_export, tmp_path / "export")
    record = _record(tmp_path / "export")
    change(record)
    (tmp_path / "export" / "manifest.json").write_text(json.dumps(record))
    with pytest.raises(ManifestError, match=message):
        load_served_export(tmp_path / "export")


def test_hashes_are_checked_only_for_the_models_asked_for(fake_export, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(fake_export, export)
    (export / "digits" / "model.onnx").write_bytes(b"changed")
    assert load_export(export, ("catsdogs",)).catsdogs.labels == ["cat", "dog"]
    with pytest.raises(ManifestError, match=r"digits: onnx file .* does not match its sha256"):
        load_verified_manifest(export)


def test_invalid_json_names_the_file_and_the_command(tmp_path):
    (tmp_path / "manifest.json").write_text("{ not json")
    with pytest.raises(ManifestError, match=r"manifest.json is not valid JSON.*make export"):
        read_manifest(tmp_path)
