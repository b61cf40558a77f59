"""The demo's other panels without a server: example photos and digits, the gallery, the live render's
checks and queue, the Models report, and what the serving install imports."""

import json
import os
import sys
import threading
import time
import types
from pathlib import Path

import demo_support as support
import numpy as np
import pytest
from PIL import Image

from demo import models_report, showcase, sketches
from demo.example_digits import EXAMPLE_STROKES, rounded, write_example_digits
from demo.limits import CANVAS
from toolkit.core.errors import ConvlensError
from toolkit.serving.contract import read_manifest
from toolkit.serving.photo_input import BadInput

# ---------------------------------------------------------------- examples, gallery, render, models report


def test_the_example_digits_are_canvas_sized_drawings_the_sketch_reader_takes(tmp_path):
    paths = write_example_digits(tmp_path / "examples")
    assert [path.stem for path in paths] == sorted(EXAMPLE_STROKES) and 3 <= len(paths) <= 5
    for path in paths:
        with Image.open(path) as picture:
            assert picture.format == "PNG" and picture.size == CANVAS
            drawing = np.asarray(picture.convert("RGB"))
        assert set(np.unique(drawing)) - {0, 255}  # anti-aliased edges, as a canvas draws them
        digit = sketches.sketch_to_digit(drawing)
        assert digit.shape == (28, 28) and digit.max() == 255
    assert write_example_digits(tmp_path / "again")[0].read_bytes() == paths[0].read_bytes()  # same bytes each start


def test_rounding_a_stroke_keeps_its_ends_and_cuts_its_corners():
    corner = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    curve = rounded(corner)
    assert curve[0] == corner[0] and curve[-1] == corner[-1] and (1.0, 0.0) not in curve and len(curve) > 3


def test_example_photos_are_the_exports_own_pngs(fake_export):
    paths = showcase.example_photos(fake_export)
    names = [path.name for path in paths]
    assert "red_dog.png" in names and "blue_cat.png" in names and names == sorted(names)
    assert all(Image.open(path).format == "PNG" for path in paths)


def test_an_export_without_examples_offers_none_and_gets_none_written(tmp_path):
    assert showcase.example_photos(tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # the demo writes nothing into an export


def test_the_class_choices_come_from_the_exports_class_list(fake_export, tmp_path):
    choices = showcase.imagenet_class_choices(fake_export)
    assert len(choices) == 1000 and choices[284] == "Siamese cat, Siamese"
    assert showcase.imagenet_class_choices(tmp_path) == []  # absent: typing a name still works
    (tmp_path / "imagenet_classes.json").write_text("{not json")
    assert showcase.imagenet_class_choices(tmp_path) == []


def test_the_gallery_is_optional_and_says_how_to_make_it(tmp_path):
    gallery = showcase.load_gallery(tmp_path)
    assert gallery.items == [] and "make visualize" in gallery.note
    (tmp_path / "gallery").mkdir()
    (tmp_path / "gallery" / "index.json").write_text("{not json")
    assert "cannot be read" in showcase.load_gallery(tmp_path).note


def test_the_gallery_shows_captions_and_probabilities(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    support.solid(support.RED).save(folder / "siamese.png")
    support.solid(support.BLUE).save(folder / "filter_3.png")
    index = [
        {
            "file": "siamese.png",
            "title": "Siamese cat, robust",
            "caption": "ImageNet class 284 maximised",
            "kind": "class",
            "method": "robust",
            "model": "mobilenet",
            "probabilities": {
                "as_rendered": {"Siamese cat": 0.93, "Persian cat": 0.02},
                "under_transforms": {"Siamese cat": 0.71},
            },
        },
        {"file": "filter_3.png", "title": "conv_pw_5 filter 3", "caption": "", "kind": "filters"},
        {"file": "gone.png", "title": "missing", "kind": "class"},
    ]
    (folder / "index.json").write_text(json.dumps(index))
    gallery = showcase.load_gallery(tmp_path)
    assert [item.title for item in gallery.items] == ["Siamese cat, robust", "conv_pw_5 filter 3"]
    assert gallery.kinds() == ["class", "filters"] and len(gallery.of_kind("filters")) == 1
    assert "1 listed in index.json are missing" in gallery.note
    details = gallery.items[0].details
    assert "Siamese cat 93.0%" in details and "under small shifts" in details and "71.0%" in details


def test_the_render_panel_says_so_when_the_renderer_is_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "toolkit.ascent", None)  # as if toolkit.ascent did not exist
    with pytest.raises(BadInput, match="not available"):
        showcase.render_class("Siamese cat", "robust", 10, 64, 0)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("", "robust", 10, 64, 0), "Choose an ImageNet class"),
        (("Siamese cat", "deep-dream", 10, 64, 0), "method must be"),
        (("Siamese cat", "robust", 10**6, 64, 0), "Steps must be between"),
        (("Siamese cat", "robust", 10, 4096, 0), "size must be one of"),
        (("Siamese cat", "robust", 10, 64, -1), "seed must be between"),
        (("Siamese cat", "robust", 10, 64, 2**31), "seed must be between"),
    ],
)
def test_render_requests_are_checked_before_anything_is_loaded(monkeypatch, arguments, message):
    monkeypatch.setitem(sys.modules, "toolkit.ascent", None)
    with pytest.raises(ConvlensError, match=message):
        showcase.render_class(*arguments)


def test_an_unknown_class_gets_the_renderers_message(monkeypatch):
    def render_imagenet_class(class_name_or_index, **_):
        raise ConvlensError(f"no ImageNet class is called {class_name_or_index!r}; did you mean: Siamese cat?")

    monkeypatch.setitem(
        sys.modules, "toolkit.ascent", types.SimpleNamespace(render_imagenet_class=render_imagenet_class)
    )
    with pytest.raises(ConvlensError, match="no ImageNet class is called 'no such animal'; did you mean"):
        showcase.render_class(" no such animal ", "robust", 10, 64, 0)


def test_a_render_calls_the_renderer_with_progress(monkeypatch):
    calls, reports = [], []

    def render_imagenet_class(class_name_or_index, method, steps, size, seed, progress=None):
        calls.append((class_name_or_index, method, steps, size, seed))
        for step in range(1, steps + 1):
            progress(step, steps)
        return np.zeros((size, size, 3), np.uint8), {"class": class_name_or_index, "steps": steps}

    monkeypatch.setitem(
        sys.modules, "toolkit.ascent", types.SimpleNamespace(render_imagenet_class=render_imagenet_class)
    )
    image, info = showcase.render_class("Siamese cat", "naive", 20, 64, 3, progress=lambda *a: reports.append(a))
    assert calls == [("Siamese cat", "naive", 20, 64, 3)] and image.shape == (64, 64, 3)
    assert info["class"] == "Siamese cat"  # the renderer resolves the name; the demo passes it as typed
    assert reports[-1] == (20, 20) and len(reports) == 20
    summary = showcase.render_summary(
        {
            "class_name": "Siamese cat, Siamese",
            "class_index": 284,
            "method": "naive",
            "probability_as_rendered": 0.93,
            "seconds": 1.5,
        },
        2.0,
    )
    assert "**Siamese cat, Siamese** (ImageNet class 284)" in summary and "as rendered: 93.0%" in summary
    assert "Rendered in 2.0 s." in summary and "1.5" not in summary and "TensorFlow" not in summary  # one time
    assert "loading TensorFlow first" in showcase.render_summary({}, 9.0, loaded_tensorflow=True)


def test_the_render_queue_runs_one_at_a_time_and_refuses_when_full():
    queue = showcase.RenderQueue(max_waiting=1)
    release, running, outcomes = threading.Event(), [], []

    def render(name):
        try:
            with queue:
                running.append(name)
                assert len(running) == 1  # never two at once
                release.wait(5)
                running.remove(name)
                outcomes.append((name, "done"))
        except BadInput as error:
            outcomes.append((name, str(error)))

    threads = [threading.Thread(target=render, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    render("third")  # one running, one waiting: full
    release.set()
    for thread in threads:
        thread.join(5)
    assert ("third", "done") not in outcomes and "busy" in dict(outcomes)["third"]
    assert sorted(name for name, outcome in outcomes if outcome == "done") == ["first", "second"]
    render("fourth")  # free again
    assert outcomes[-1] == ("fourth", "done")


def test_the_models_report_reads_the_manifest_and_runs(fake_export, tmp_path):
    manifest = read_manifest(fake_export)
    report = models_report.models_report(manifest, tmp_path)
    assert "## Model catsdogs" in report and "## Model digits" in report
    assert "| ONNX int8 | 49.00% | - | 0.2 kB |" in report and "| ONNX fp32 | 50.00% | 1.0e-07 |" in report
    assert report.count("make export") == 1  # one reproduce line, no other instructions for visitors
    assert "Trained by" not in report and "class 999" in report.split("<details><summary>Its 1000 labels")[1]
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "results.md").write_text("| model | ms |\n|---|---|\n| catsdogs fp32 b1 | 2.2 |\n")
    assert "catsdogs fp32 b1 | 2.2" in models_report.models_report(manifest, tmp_path)
    (tmp_path / "sweep").mkdir()
    support.solid(support.RED).save(tmp_path / "sweep" / "transfer_vs_scratch.png")
    assert models_report.run_figures(tmp_path) == [
        (tmp_path / "sweep" / "transfer_vs_scratch.png", "sweep: transfer vs scratch")
    ]


def test_the_photo_note_mentions_the_32x32_training_images_only_when_training_had_them():
    from demo.photo_tab import photo_note

    package = photo_note({"crop": "center_square", "resize_steps": [[32, 32, "box"], [128, 128, "bilinear"]]})
    own_photos = photo_note({"crop": "center_square", "resize_steps": [[128, 128, "bilinear"]]})
    assert "32 x 32 (box) then 128 x 128 (bilinear)" in package and "CIFAR-10" in package
    assert "128 x 128 (bilinear)" in own_photos and "CIFAR-10" not in own_photos


TRAIN_EXTRA_MODULES = (
    "tensorflow",
    "keras",
    "tf_keras",
    "tf2onnx",
    "skimage",
    "psutil",
    "h5py",
    "matplotlib",
)  # tqdm comes with gradio


def test_serving_imports_nothing_of_the_train_extra(fake_export, tmp_path):
    """Start-up, a photo verdict with its map and top 5, and a sketch, with the train extra's packages made
    unimportable: what `pip install .` (no [train]) serves with."""
    script = f"""
import importlib.abc, sys
BLOCKED = {TRAIN_EXTRA_MODULES!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not installed (blocked by the test)")
        return None
sys.meta_path.insert(0, Blocker())
import numpy as np
from PIL import Image
from demo.gradio_app import prepare
from toolkit.serving.export_loader import load_served_export as load_models
from toolkit.serving.photo_pipeline import judge_photo
from demo.sketches import classify_sketch
app, allowed = prepare({str(fake_export)!r}, runs={str(tmp_path)!r}, scratch={str(tmp_path / "scratch")!r})
models = load_models({str(fake_export)!r})
judged = judge_photo(models, Image.new("RGB", (300, 200), (220, 30, 30)))
assert judged.verdict.label == "dog" and len(judged.top5) == 5 and judged.map_image.shape == (224, 224, 3)
canvas = np.full((400, 400, 3), 255, np.uint8)
canvas[60:340, 185:215] = 0
print("sketch", classify_sketch(models, canvas).label)
print("loaded", sorted({{n.split(".")[0] for n in sys.modules}} & set(BLOCKED)))
"""
    done = support.run_python(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded []" in done.stdout and "sketch " in done.stdout, done.stdout


# ---------------------------------------------------------------- the gallery rendered in the background


def _progressive_index(folder: Path, files: list[str], total: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entries = [{"file": name, "title": name, "kind": "digits"} for name in files]
    for name in files:
        support.solid(support.RED).save(folder / name)
    index = {"entries": entries, "rendered": len(files), "total": total, "complete": len(files) >= total}
    (folder / "index.json").write_text(json.dumps(index))


def test_the_gallery_note_reads_the_progress_of_a_render_from_its_index(tmp_path):
    from demo.gallery_render import gallery_is_complete

    _progressive_index(tmp_path / "gallery", ["a.png", "b.png"], total=5)
    gallery = showcase.load_gallery(tmp_path)
    assert [item.title for item in gallery.items] == ["a.png", "b.png"]
    assert not gallery.complete and gallery.total == 5 and not gallery_is_complete(tmp_path)
    assert "2 of 5 images rendered" in showcase.gallery_progress_note(gallery, rendering=True)
    assert "not running" in showcase.gallery_progress_note(gallery, rendering=False)
    _progressive_index(tmp_path / "gallery", ["a.png", "b.png", "c.png"], total=3)
    gallery = showcase.load_gallery(tmp_path)
    assert gallery.complete and gallery_is_complete(tmp_path)
    assert showcase.gallery_progress_note(gallery, rendering=False).startswith("3 images rendered")


def test_the_background_render_starts_only_when_the_gallery_needs_it_and_stops(tmp_path):
    from demo.gallery_render import BackgroundRender, render_command

    assert render_command(tmp_path)[-5:] == [
        "all",
        "--progressive",
        "--skip-robustness",
        "--out",
        str(tmp_path / "gallery"),
    ]
    fake = [sys.executable, "-c", "import time; time.sleep(60)"]
    _progressive_index(tmp_path / "done" / "gallery", ["a.png"], total=1)
    finished = BackgroundRender(tmp_path / "done", command=fake)
    assert not finished.start_if_needed() and not finished.running()

    render = BackgroundRender(tmp_path / "empty", command=fake, log=tmp_path / "runs" / "render.log")
    assert render.start_if_needed() and render.running()
    assert not render.start_if_needed()  # one at a time
    render.stop()
    assert not render.running() and not render.failed() and render.process.returncode is not None
    render.stop()  # twice is harmless


def test_the_demo_starts_the_render_with_the_app_and_stops_it_when_it_exits(fake_export, tmp_path):
    """`convlens demo` on an export without a gallery: the (fake) render runs while it serves, and not after."""
    marker = tmp_path / "render-pid"
    script = f"""
import sys, threading
from pathlib import Path
import demo.gradio_app as app_module
from demo.gallery_render import BackgroundRender
fake = [sys.executable, "-c", "import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(120)"]
original = BackgroundRender.__init__
def with_fake(self, exported, command=None, log=None):
    original(self, exported, fake, log)
BackgroundRender.__init__ = with_fake
def stop_when_started(app, *args, **kwargs):
    import time
    for _ in range(200):
        if Path({str(marker)!r}).exists():
            break
        time.sleep(0.05)
    raise KeyboardInterrupt  # as Ctrl+C while serving
app_module.launch = stop_when_started
from toolkit.cli import main
sys.exit(main(["demo", "--exported", {str(fake_export)!r}]))
"""
    done = support.run_python(script, tmp_path / "runs")
    assert "rendering the gallery in the background" in done.stdout, done.stdout + done.stderr[-3000:]
    pid = int(marker.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the render is gone with the demo
