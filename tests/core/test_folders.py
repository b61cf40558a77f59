"""The export folder: a killed swap is recovered, two exports never run at once, the commit is flushed
to disk first, and model names cannot leave their folder.

The export itself is replaced by a stand-in that writes small files (no TensorFlow), so these
tests exercise the real lock, recovery and swap around it.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from toolkit import cli
from toolkit.core import folders as export_folder
from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import verify_files
from toolkit.core.names import MANIFEST_NAME
from toolkit.export import publish
from toolkit.export.model_export import ExportSpec
from toolkit.export.own_model import user_model_spec
from toolkit.serving.contract import FORMAT, FileRef, ManifestEntry


def _write_model(root, name: str, text: str) -> dict:
    """A model folder holding one small file, and its manifest entry."""
    (root / name).mkdir(parents=True)
    (root / name / "model.onnx").write_text(text)
    return {
        "task": "binary",
        "labels": ["a", "b"],
        "input": {"name": "image", "shape": [None, 4, 4, 3]},
        "output": {"name": "prob"},
        "preprocessing": {"kind": "resize", "resize_steps": [[4, 4, "bilinear"]]},
        "files": {"onnx": FileRef.of(root, f"{name}/model.onnx").to_dict()},
    }


def _write_record(root, record: dict) -> None:
    (root / MANIFEST_NAME).write_text(json.dumps(record))


def _record(root) -> dict:
    return json.loads((root / MANIFEST_NAME).read_text())


def _spec(name: str) -> ExportSpec:
    images = np.zeros((1, 2, 2, 1), np.float32)
    return ExportSpec(
        name,
        None,
        "binary",
        ["a", "b"],
        {},
        images,
        None,
        images,
        "test",
        "test",
        validation_x=images,
        validation_y=None,
        validation_set="test",
    )


@pytest.fixture
def stand_in_export(monkeypatch):
    """export_one writes `<name>/model.onnx` holding "new <name>" instead of converting a model."""

    def export_one(spec, folder, log, model_version=1):
        assert folder.name == spec.name
        return ManifestEntry.from_dict(_write_model(folder.parent, spec.name, f"new {spec.name}"), spec.name)

    monkeypatch.setattr(publish, "export_one", export_one)


@pytest.fixture
def two_model_export(tmp_path):
    """An export folder with `digits` and `catsdogs`, both described by its manifest."""
    out = tmp_path / "exported"
    out.mkdir()
    models = {name: _write_model(out, name, f"old {name}") for name in ("digits", "catsdogs")}
    _write_record(out, {"format": FORMAT, "models": models})
    return out


def test_a_folder_left_in_old_by_a_killed_swap_is_put_back_by_the_next_export(two_model_export, stand_in_export):
    out = two_model_export
    trash = out / f"{export_folder.TRASH_PREFIX}killed"
    trash.mkdir()
    os.replace(out / "digits", trash / "digits")  # the kill came right after this rename
    lines = []
    publish.export_models([_spec("catsdogs")], out, log=lines.append)
    assert (out / "digits" / "model.onnx").read_text() == "old digits"
    assert (out / "catsdogs" / "model.onnx").read_text() == "new catsdogs"
    assert verify_files(out, _record(out)) == []
    assert not list(out.glob(".old-*")) and not list(out.glob(".staging-*"))
    assert any("put back digits" in line for line in lines)


def test_a_half_swapped_folder_is_replaced_by_the_one_its_manifest_describes(two_model_export):
    out = two_model_export
    trash = out / f"{export_folder.TRASH_PREFIX}killed"
    trash.mkdir()
    os.replace(out / "digits", trash / "digits")
    _write_model(out, "digits", "new digits, never committed")  # the kill came before the manifest's rename
    restored = export_folder.recover_interrupted_swap(out, _record(out), log=lambda _: None)
    assert restored == ["digits"] and (out / "digits" / "model.onnx").read_text() == "old digits"
    assert verify_files(out, _record(out)) == [] and not trash.exists()


def test_a_committed_export_keeps_its_folders_and_loses_only_the_leftovers(two_model_export):
    out = two_model_export
    trash = out / f"{export_folder.TRASH_PREFIX}after-commit"
    _write_model(trash, "digits", "older digits")  # killed after the manifest's rename, before the cleanup
    assert export_folder.recover_interrupted_swap(out, _record(out), log=lambda _: None) == []
    assert (out / "digits" / "model.onnx").read_text() == "old digits" and not trash.exists()


def test_a_second_export_at_the_same_time_fails_fast_and_leaves_the_folder_alone(two_model_export, stand_in_export):
    out = two_model_export
    with export_folder.export_lock(out):
        before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        with pytest.raises(ConvlensError, match="another export is running in"):
            publish.export_models([_spec("digits")], out, log=lambda _: None)
        after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert after == before
    publish.export_models([_spec("digits")], out, log=lambda _: None)  # the lock is free again
    assert (out / "digits" / "model.onnx").read_text() == "new digits"


def test_the_swap_flushes_staged_files_before_the_manifest_rename_and_the_folder_after(tmp_path, monkeypatch):
    out, staging = tmp_path / "exported", tmp_path / "exported" / ".staging-x"
    _write_model(out, "digits", "old")
    entry = _write_model(staging, "digits", "new")
    _write_record(staging, {"format": FORMAT, "models": {"digits": entry}})
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd))
    )
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b)))
    export_folder.swap_in(staging, out, ["digits"])
    commit = events.index(("replace", str(out / MANIFEST_NAME)))
    flushed_before = {path for kind, path in events[:commit] if kind == "fsync"}
    assert {
        str(staging / "digits" / "model.onnx"),
        str(staging / MANIFEST_NAME),
        str(staging / "digits"),
        str(out),
    } <= flushed_before
    assert ("fsync", str(out)) in events[commit + 1 :]
    assert (out / "digits" / "model.onnx").read_text() == "new"


@pytest.mark.parametrize("name", ["../evil", "a/b", "c:d", "", ".hidden", "x" * 65, "gallery", "Examples", "a\n"])
def test_export_names_that_could_leave_their_folder_or_hit_the_exports_own_are_refused(name, tmp_path, capsys):
    code = cli.main(
        ["export", "--model", str(tmp_path / "absent.keras"), "--name", name, "--out", str(tmp_path / "exported")]
    )
    err = capsys.readouterr().err
    assert code == 2 and ("cannot name an exported model" in err or "export's own" in err)
    assert not (tmp_path / "exported").exists() and not (tmp_path / "evil").exists()


def test_a_name_taken_from_the_file_name_is_checked_too(tmp_path):
    path = tmp_path / "my.model.keras"
    with pytest.raises(ConvlensError, match=r"'my.model' \(taken from the file name my.model.keras\).*--name"):
        user_model_spec(path)
    assert export_folder.check_model_name("Digits_v2-small") == "Digits_v2-small"


def test_specs_with_an_unsafe_name_are_refused_before_anything_is_written(tmp_path, stand_in_export):
    with pytest.raises(ConvlensError, match="cannot name an exported model"):
        publish.export_models([_spec("../outside")], tmp_path / "exported", log=lambda _: None)
    assert not (tmp_path / "exported").exists() and not (tmp_path / "outside").exists()
