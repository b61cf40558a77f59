"""The gallery and the `convlens visualize` command: images, their index, and a gallery written image by image."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

# After the importorskip calls: without TensorFlow the module is skipped before these import it.
from ascent_models import digits_like_model, visualize_args  # noqa: E402

from toolkit.ascent import gallery  # noqa: E402
from toolkit.core.errors import ConvlensError  # noqa: E402

# ---------------------------------------------------------------------------------------- gallery


def _args(**overrides) -> argparse.Namespace:
    return visualize_args(**overrides)


def test_visualize_digits_writes_a_labelled_png_and_its_index_entry(tmp_path, capsys):
    from toolkit.ascent.visualize_command import visualize_from_cli

    path = tmp_path / "digits.keras"
    digits_like_model().save(path)
    out = tmp_path / "gallery"
    visualize_from_cli(_args(what="digits", model=str(path), steps=3, out=str(out)))
    visualize_from_cli(_args(what="digit-filters", model=str(path), steps=3, out=str(out), method="naive"))
    index = gallery.read_index(out)
    assert sorted(e["file"] for e in index) == ["digit_filters_naive.png", "digits_naive.png", "digits_robust.png"]
    entry = next(e for e in index if e["file"] == "digits_robust.png")
    assert entry["kind"] == "digits" and entry["method"] == "robust" and entry["steps"] == 3
    assert set(entry["probabilities"]) == {"as_rendered", "under_transforms"}
    assert set(entry["probabilities"]["as_rendered"]) == {str(d) for d in range(10)}
    filters = next(e for e in index if e["kind"] == "digit-filters")
    assert filters["layer"] == "conv1, conv2"
    from PIL import Image

    picture = np.asarray(Image.open(out / "digits_robust.png"))
    assert picture.shape[1] > 10 * 28 and picture.std() > 10


def test_visualize_all_skips_missing_models_with_a_note(tmp_path, capsys, monkeypatch):
    from toolkit.ascent import visualize_command

    monkeypatch.setenv("CONVLENS_RUNS", str(tmp_path / "no-runs"))
    panels = visualize_command._panels("all", _args(), gallery.Options())
    names = [name for name, _ in panels]
    assert not any(n.startswith(("digits", "digit-filters", "catsdogs")) for n in names)
    assert any(n.startswith("filters conv_pw_5_relu") for n in names) and any(n.startswith("class") for n in names)
    printed = capsys.readouterr().out
    assert "skipping digits" in printed and "skipping catsdogs" in printed


def test_resnet50v2_without_weights_and_bad_steps_are_refused():
    from toolkit.ascent.visualize_command import visualize_from_cli

    with pytest.raises(ConvlensError, match="--weights"):
        visualize_from_cli(_args(backbone="resnet50v2"))
    with pytest.raises(ConvlensError, match="--steps"):
        visualize_from_cli(_args(steps=0))
    with pytest.raises(ConvlensError, match="belong to the robustness check"):
        visualize_from_cli(_args(what="digits", draws=3))
    with pytest.raises(ConvlensError, match="only applies to `visualize all`"):
        visualize_from_cli(_args(what="class", skip_robustness=True))


def test_the_gallery_folder_is_replaced_whole(tmp_path):
    target, built = tmp_path / "gallery", tmp_path / ".gallery-new"
    target.mkdir()
    (target / "old.png").write_bytes(b"old")
    built.mkdir()
    gallery.write_index(built, [gallery.Entry("new.png", "t", "c", "class", "robust", "mobilenet", 1, 0.1)])
    gallery.replace_folder(built, target)
    assert not built.exists() and not (target / "old.png").exists()
    assert json.loads((target / "index.json").read_text())["entries"][0]["file"] == "new.png"


def test_live_render_bounds_its_steps_and_size():
    from toolkit.ascent.live import render_imagenet_class

    with pytest.raises(ConvlensError, match="steps"):
        render_imagenet_class("Siamese cat", steps=100000)
    with pytest.raises(ConvlensError, match="size"):
        render_imagenet_class("Siamese cat", size=4000)
    with pytest.raises(ConvlensError, match="method"):
        render_imagenet_class("Siamese cat", method="magic")


def test_a_progressive_gallery_index_grows_image_by_image(tmp_path, monkeypatch):
    from toolkit.ascent import visualize_command

    out, seen = tmp_path / "gallery", []

    def panel(name: str) -> visualize_command.Panel:
        def render_one(folder, progress) -> gallery.Entry:
            seen.append(json.loads((folder / "index.json").read_text()))  # what the demo reads meanwhile
            (folder / f"{name}.png").write_bytes(b"png")
            return gallery.Entry(f"{name}.png", name, "c", "digits", "naive", "digits", 1, 0.1)

        return render_one

    monkeypatch.setattr(
        visualize_command, "_panels", lambda what, args, options: [(n, panel(n)) for n in ("a", "b", "c")]
    )
    gallery.merge_fair_robustness(out, {"class": {"title": "measured on the models before"}})
    visualize_command.visualize_from_cli(_args(out=str(out), progressive=True, skip_robustness=True))
    assert "fair_robustness" not in seen[0]  # a fresh render drops what was measured on earlier models
    assert [(index["rendered"], index["total"], index["complete"]) for index in seen] == [
        (0, 3, False),
        (1, 3, False),
        (2, 3, False),
    ]
    assert [entry["file"] for entry in seen[2]["entries"]] == ["a.png", "b.png"]
    final = json.loads((out / "index.json").read_text())
    assert (final["rendered"], final["total"], final["complete"]) == (3, 3, True)
    assert [entry["file"] for entry in gallery.read_index(out)] == ["a.png", "b.png", "c.png"]
