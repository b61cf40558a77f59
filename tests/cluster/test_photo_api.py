"""The JSON API and `convlens classify` without Ray: the same answers and refusals as the demo's in-process path."""

from __future__ import annotations

import csv
import io
import json

import demo_support as support
import numpy as np
import pytest
from PIL import Image

from toolkit.cluster.batch_classify import COLUMNS, classify, photo_files
from toolkit.cluster.photo_api import (
    MAX_BODY_BYTES,
    array_from_npy,
    digit_answer,
    image_from_base64,
    model_batch,
    npy_bytes,
    photo_answer,
)
from toolkit.cluster.serve_client import serve_url, verdict_from_json
from toolkit.core.errors import ConvlensError
from toolkit.serving.export_loader import load_served_export
from toolkit.serving.photo_input import BadInput, open_photo
from toolkit.serving.photo_pipeline import MAP_SIDE, judge_photo


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_photo_gets_the_in_process_verdict_probabilities_and_top5(models, tmp_path):
    path = tmp_path / "red.png"
    support.solid(support.RED).save(path)
    status, answer = photo_answer(models, path.read_bytes(), "red.png")
    judged = judge_photo(models, path)
    assert status == 200
    assert answer["verdict"] == judged.verdict.label == "dog"
    assert answer["probabilities"] == judged.verdict.probabilities
    assert [tuple(pair) for pair in answer["top5"]] == judged.top5
    assert "map_png" not in answer
    json.dumps(answer)  # plain JSON all through


def test_the_map_comes_as_png_on_request_and_the_answer_rebuilds_the_same_verdict(models, tmp_path):
    path = tmp_path / "blue.png"
    support.solid(support.BLUE).save(path)
    status, answer = photo_answer(models, path.read_bytes(), "blue.png", with_map=True)
    judged = judge_photo(models, path)
    assert status == 200
    assert image_from_base64(answer["map_png"]).shape == (MAP_SIDE, MAP_SIDE, 3)
    rebuilt = verdict_from_json(json.loads(json.dumps(answer)))
    assert rebuilt.verdict == judged.verdict and rebuilt.top5 == judged.top5 and rebuilt.summary == judged.summary
    assert np.array_equal(rebuilt.map_image, judged.map_image)
    assert np.array_equal(rebuilt.transfer.model_input, judged.transfer.model_input)


@pytest.mark.parametrize(
    "content, name",
    [
        (b"", "empty.png"),
        (b"just some words, not a picture at all\n", "notes.jpg"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "drawing.png"),
        (_png(support.solid(support.RED, (8, 8))), "tiny.png"),
        (_png(support.solid(support.RED))[:300], "cut.png"),
    ],
)
def test_bad_images_get_the_demos_own_refusal(models, tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInput) as demo_says:
        open_photo(path, name)
        raise AssertionError("the demo's opener accepted it")
    status, answer = photo_answer(models, content, name)
    assert status == 400 and answer == {"error": str(demo_says.value)}


def test_a_decompression_bomb_is_refused_as_the_demo_refuses_it(models, tmp_path):
    bomb = support.decompression_bomb(tmp_path / "bomb.png")
    with pytest.raises(BadInput) as demo_says:
        open_photo(bomb, "bomb.png")
    status, answer = photo_answer(models, bomb.read_bytes(), "bomb.png")
    assert status == 400 and answer["error"] == str(demo_says.value) and "too large" in answer["error"]


def test_a_body_over_the_upload_limit_is_refused_with_413(models):
    status, answer = photo_answer(models, b"\xff" * (MAX_BODY_BYTES + 1), "huge.jpg")
    assert status == 413 and "limit is 20 MB" in answer["error"]


def test_raw_model_batches_are_checked_and_never_unpickled(models):
    one = np.zeros(models.digits.input_shape, np.uint8)
    assert model_batch(models.digits.input_shape, one, "digits").shape == (1, *models.digits.input_shape)
    with pytest.raises(BadInput, match="takes up to"):
        model_batch(models.digits.input_shape, np.zeros((2, 5, 5)), "digits")
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadInput, match="not a .npy array"):
        array_from_npy(pickled.getvalue())
    assert np.array_equal(array_from_npy(npy_bytes(one)), one)


def test_a_digit_is_read_as_the_demo_reads_it(models, mnist_test):
    digit = mnist_test.x[0].reshape(28, 28).astype(np.uint8)
    status, answer = digit_answer(models, npy_bytes(digit))
    assert status == 200 and answer["label"] == str(int(np.argmax(models.digits.predict(digit[None]))))
    status, answer = digit_answer(models, npy_bytes(np.zeros((3, 3), np.uint8)))
    assert status == 400 and "28 x 28" in answer["error"]


def test_the_serve_url_comes_from_the_flag_else_the_environment(monkeypatch):
    monkeypatch.delenv("CONVLENS_SERVE_URL", raising=False)
    assert serve_url(None) is None
    monkeypatch.setenv("CONVLENS_SERVE_URL", "http://127.0.0.1:8000/")
    assert serve_url(None) == "http://127.0.0.1:8000"
    assert serve_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"


def photo_folder(root, count: int = 6):
    """A folder of red and blue photos, one nested, with a corrupt file, a text file and a hidden file."""
    folder = root / "photos"
    (folder / "nested").mkdir(parents=True)
    for i in range(count):
        colour = support.RED if i % 2 else support.BLUE
        support.solid(colour, (64 + i, 64)).save(folder / ("nested" if i == 0 else ".") / f"photo{i}.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / ".hidden.png").write_bytes(b"")
    return folder


def test_classify_sorts_a_folder_reporting_bad_files_without_stopping(fake_export, tmp_path):
    folder = photo_folder(tmp_path)
    out = tmp_path / "verdicts.csv"
    counts = classify([str(folder)], out, fake_export)
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS
    assert [row["path"] for row in rows] == [str(path) for path in photo_files([folder])]
    assert len(rows) == 8 and counts == {**counts, "files": 8, "refused": 2}
    refused = {row["path"].rsplit("/", 1)[1]: row for row in rows if row["error"]}
    assert set(refused) == {"corrupt.jpg", "notes.txt"} and "upload" in refused["corrupt.jpg"]["error"]
    served = _models(fake_export)
    for row in rows:
        if not row["error"]:
            expected = judge_photo(served, row["path"]).verdict
            assert row["verdict"] == expected.label
            assert float(row["p_dog"]) == pytest.approx(expected.probabilities["dog"], abs=1e-6)


def _models(root):
    return load_served_export(root)


def test_classify_writes_jsonl_and_refuses_other_outputs(fake_export, tmp_path):
    folder = photo_folder(tmp_path, 2)
    out = tmp_path / "verdicts.jsonl"
    classify([str(folder)], out, fake_export)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and {row["verdict"] for row in rows} == {"cat", "dog", None}
    with pytest.raises(ConvlensError, match=".csv or .jsonl"):
        classify([str(folder)], tmp_path / "verdicts.xlsx", fake_export)
    with pytest.raises(ConvlensError, match="does not exist"):
        classify([str(tmp_path / "nowhere")], out, fake_export)
