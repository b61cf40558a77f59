"""The demo's bounds, without a server: the upload gate, header checks, the blob store and result files."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from demo.limits import BLOB_MAX_BYTES, SKETCH_MAX_LAYERS
from demo.request_guards import ResultFiles, check_variant, is_loopback, parse_auth
from demo.uploads import REFUSED_FILE, BoundedBlobStore, RefusedInput, UploadGate, check_blob_post, check_sketch_image


def _png(size=(400, 400), mode="RGBA") -> bytes:
    encoded = io.BytesIO()
    Image.new(mode, size).save(encoded, format="PNG")
    return encoded.getvalue()


def test_the_gate_opens_uploads_and_example_copies_only(tmp_path):
    upload, example, copy, other = (tmp_path / name for name in ("up.png", "ex.png", "cache_ex.png", "other.png"))
    for path, color in ((upload, 1), (example, 2), (copy, 2), (other, 3)):
        Image.new("L", (20, 20), color).save(path)
    gate = UploadGate({str(upload)}, lambda: [str(copy), str(other)], [example])
    assert gate.check(str(upload)) == upload.resolve()
    assert gate.check(str(copy)) == copy.resolve()  # gradio's cached copy of an example
    for refused in (str(other), str(example), "/etc/hostname", "/missing", "", None, 3, str(tmp_path)):
        with pytest.raises(RefusedInput) as error:
            gate.check(refused)
        assert str(error.value) == REFUSED_FILE


def test_a_symlink_in_the_upload_set_to_a_private_file_is_refused(tmp_path):
    private = tmp_path / "private.png"
    Image.new("L", (20, 20)).save(private)
    link = tmp_path / "upload.png"
    link.symlink_to(private)
    with pytest.raises(RefusedInput):
        UploadGate({str(link)}, lambda: [], []).check(str(link))


def test_sketch_images_are_judged_by_their_header():
    check_sketch_image(_png())
    with pytest.raises(RefusedInput, match="too large"):
        check_sketch_image(_png((6400, 6400), "1"))  # 41 MP in a few kB
    with pytest.raises(RefusedInput, match="could not be read"):
        check_sketch_image(b"GIF89a" + bytes(100))
    with pytest.raises(RefusedInput, match="could not be read"):
        check_sketch_image(b"%!PS-Adobe-3.0 EPSF-3.0\n")


@pytest.mark.parametrize(
    "kind, index, blob, message",
    [
        ("layer", 10_000_000, _png(), "at most"),
        ("layer", -1, _png(), "at most"),
        ("layer", "x", _png(), "index"),
        ("script", 0, _png(), "Unknown"),
        ("layer", 0, b"x" * (BLOB_MAX_BYTES + 1), "MB"),
        ("composite", None, b"not a png", "could not be read"),
    ],
)
def test_blob_posts_out_of_bounds_are_refused(kind, index, blob, message):
    with pytest.raises(RefusedInput, match=message):
        check_blob_post(kind, index, blob)


def test_a_valid_blob_post_passes():
    check_blob_post("layer", SKETCH_MAX_LAYERS - 1, _png())
    check_blob_post("background", "null", _png())


def _blobs(size: int):
    return SimpleNamespace(background=b"x" * size, layers=[b"y" * size], composite=None)


def test_the_blob_store_is_bounded_in_sketches_bytes_and_age():
    now = [0.0]
    store = BoundedBlobStore(max_sketches=4, max_bytes=10_000, max_age_s=60, clock=lambda: now[0])
    for number in range(10):
        store[f"id{number}"] = _blobs(100)
    assert len(store) == 4 and "id9" in store and "id0" not in store
    for number in range(10):
        store[f"big{number}"] = _blobs(2_000)  # 4 kB a sketch: two fit in 10 kB
    assert store.total_bytes() <= 10_000 and "big9" in store
    now[0] = 61.0
    assert store.get("big9") is None and len(store) == 0
    store["fresh"] = _blobs(10)
    assert store.pop("fresh") is not None and store.pop("fresh") is None


def test_result_files_keep_only_the_newest(tmp_path):
    results = ResultFiles(tmp_path / "results", keep=3)
    paths = [results.write(np.full((8, 8, 3), value, np.uint8)) for value in range(6)]
    kept = sorted(p.name for p in (tmp_path / "results").glob("*.png"))
    assert len(kept) == 3 and all(p.split("/")[-1] in kept for p in paths[-3:])
    assert results.write(np.full((8, 8, 3), 5, np.uint8)) == paths[-1]  # same content, same file


def test_only_offered_variants_are_served():
    assert check_variant(None, ["fp32"]) == "fp32" and check_variant("int8", ["fp32", "int8"]) == "int8"
    for variant in ("int8", "../model", "int4"):
        with pytest.raises(RefusedInput, match="not offered"):
            check_variant(variant, ["fp32"])


def test_loopback_and_passwords(monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example")
    monkeypatch.delenv("CONVLENS_DEMO_AUTH", raising=False)
    assert parse_auth(None) is None and parse_auth("teacher:long-enough") == ("teacher", "long-enough")
    monkeypatch.setenv("CONVLENS_DEMO_AUTH", "room:from-the-env")
    assert parse_auth(None) == ("room", "from-the-env")
    for bad in ("nopassword", ":password-only", "u:short"):
        with pytest.raises(Exception, match="USER:PASSWORD"):
            parse_auth(bad)


def test_a_model_file_swapped_after_verification_is_not_loaded(tmp_path):
    from toolkit.core.errors import ConvlensError
    from toolkit.serving.contract import FileRef
    from toolkit.serving.export_loader import verified_bytes

    root = tmp_path / "exported"
    (root / "m").mkdir(parents=True)
    model = root / "m" / "model.onnx"
    model.write_bytes(b"first")
    import hashlib

    recorded = hashlib.sha256(b"first").hexdigest()
    ref = FileRef("m/model.onnx", recorded, 5)
    assert verified_bytes(root, ref) == b"first"
    model.write_bytes(b"swapped")
    with pytest.raises(ConvlensError, match="changed after"):
        verified_bytes(root, ref)
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(b"first")
    with pytest.raises(ConvlensError, match="inside the export"):
        verified_bytes(root, FileRef("../outside.onnx", recorded, 5))
