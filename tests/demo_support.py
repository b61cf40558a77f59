"""Inputs the demo tests build: a small hand-made ONNX export, drawn digits and a corpus of bad files.

The hand-made export needs no TensorFlow: its "cats vs dogs" model says dog for red photos and
cat for blue ones, and its "digits" model matches a drawing against the mean MNIST digit of
each class, which is enough to read clearly drawn digits.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageDraw

from demo import limits
from toolkit.core.names import EXAMPLES_FOLDER, IMAGENET_CLASSES_FILE, ONNX_FILE, ONNX_INT8_FILE
from toolkit.core.paths import REPO_ROOT
from toolkit.serving.contract import FileRef, InputSpec, Manifest, ManifestEntry, read_manifest, write_manifest

CANVAS, BRUSH = limits.CANVAS[0], limits.BRUSH  # the demo's canvas and brush
RED, BLUE = (220, 30, 30), (30, 30, 220)


def run_python(script: str, runs: Path) -> subprocess.CompletedProcess:
    """`python -c script` from the repository, with `runs` as CONVLENS_RUNS, its output captured (5 minutes at most)."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CONVLENS_RUNS": str(runs)},
    )


@contextmanager
def served_app(export: Path, scratch: Path) -> Iterator[str]:
    """The demo app on a free local port, serving `export` with `scratch` for its files: its URL; closed after."""
    from demo.gradio_app import launch, prepare

    app, allowed = prepare(export, runs=scratch / "runs", scratch=scratch)
    try:
        yield launch(app, allowed)
    finally:
        app.close()


def _save_model(graph, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def red_means_dog_model(path: Path, size: int = 128) -> None:
    """p(dog) = sigmoid((mean red - mean blue) / 10): red pictures are dogs, blue ones cats."""
    weights = numpy_helper.from_array(np.array([[0.1], [0.0], [-0.1]], np.float32), "weights")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["means"], axes=[1, 2], keepdims=0),
            helper.make_node("MatMul", ["means", "weights"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["prob"]),
        ],
        "red_means_dog",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, size, size, 3])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [None, 1])],
        [weights],
    )
    _save_model(graph, path)


def mean_digit_model(path: Path, digits: np.ndarray, labels: np.ndarray) -> None:
    """Softmax over the correlation of the (centred) input with each class's mean digit."""
    templates = np.stack([digits[labels == k].reshape(-1, 784).mean(axis=0) for k in range(10)]) / 255.0
    templates -= templates.mean(axis=1, keepdims=True)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    weights = numpy_helper.from_array((templates.T * 0.2).astype(np.float32), "weights")
    shape = numpy_helper.from_array(np.array([-1, 784], np.int64), "flat")
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["image", "flat"], ["pixels"]),
            helper.make_node("MatMul", ["pixels", "weights"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "mean_digit",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 28, 28, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 10])],
        [weights, shape],
    )
    _save_model(graph, path)


def chelsea_path() -> Path | None:
    """scikit-image's chelsea.png (a real cat photo), found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "chelsea.png"
    return path if path.is_file() else None


FAKE_CLASS_NAMES = [f"class {index}" for index in range(1000)]
FAKE_CLASS_NAMES[284] = "Siamese cat, Siamese"
TABBY, GOLDEN_RETRIEVER, ELEPHANT, WASHBASIN = 281, 207, 386, 896
FAKE_CLASS_NAMES[TABBY] = "tabby, tabby cat"
FAKE_CLASS_NAMES[GOLDEN_RETRIEVER] = "golden retriever"
FAKE_CLASS_NAMES[ELEPHANT] = "African elephant, Loxodonta africana"
FAKE_CLASS_NAMES[WASHBASIN] = "washbasin, handbasin, washbowl, lavabo, wash-hand basin"
GREEN = (30, 200, 30)
CYAN = (30, 200, 200)  # the colour "ImageNet" network's washbasin: a room, not an animal


def colour_imagenet_model(path: Path, size: int = 64) -> None:
    """A 1000-class "ImageNet" softmax that sees red as a golden retriever, blue as a tabby, green as an elephant
    and cyan (green and blue) as a washbasin."""
    weights = np.zeros((3, 1000), np.float32)
    weights[0, GOLDEN_RETRIEVER], weights[2, TABBY], weights[1, ELEPHANT] = 0.08, 0.08, 0.08
    weights[1, WASHBASIN] = weights[2, WASHBASIN] = 0.05
    graph = helper.make_graph(
        [  # the channel means through a GlobalAveragePool, as in MobileNet: the Teach tab cuts its features there
            helper.make_node("Transpose", ["image"], ["channels_first"], perm=[0, 3, 1, 2]),
            helper.make_node("GlobalAveragePool", ["channels_first"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["means"], axis=1),
            helper.make_node("MatMul", ["means", "weights"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "colour_imagenet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, size, size, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 1000])],
        [numpy_helper.from_array(weights, "weights")],
    )
    _save_model(graph, path)


def add_examples_and_classes(root: Path) -> list[Path]:
    """What `convlens export` writes beside the models for the demo: a red and a blue example photo,
    chelsea when scikit-image has her, and the 1000 ImageNet class names (index -> name)."""
    folder = Path(root) / EXAMPLES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    solid(RED, (96, 96)).save(folder / "red_dog.png")
    solid(BLUE, (96, 96)).save(folder / "blue_cat.png")
    chelsea = chelsea_path()
    if chelsea is not None:
        Image.open(chelsea).convert("RGB").save(folder / "chelsea_cat.png")
    (Path(root) / IMAGENET_CLASSES_FILE).write_text(json.dumps(FAKE_CLASS_NAMES))
    return sorted(folder.glob("*.png"))


IMAGENET_PHOTO = {"kind": "photo", "crop": "center_square", "resize_steps": [[64, 64, "bilinear"]]}


def _entry(
    root: Path, name: str, task: str, labels, shape, preprocessing: dict, variants=(ONNX_FILE,)
) -> ManifestEntry:
    """A stand-in model's manifest entry, written through the export contract as the exporter writes it."""
    kinds = {ONNX_FILE: "onnx", ONNX_INT8_FILE: "onnx_int8"}
    return ManifestEntry(
        task=task,
        labels=tuple(labels),
        input=InputSpec("image", (None, *shape)),
        output_name="prob",
        preprocessing=preprocessing,
        files={kinds[file]: FileRef.of(root, f"{name}/{file}") for file in variants},
        metrics={
            "test_set": "none",
            "n_test": 0,
            "tf_test_accuracy": 0.5,
            "onnx_fp32_test_accuracy": 0.5,
            "onnx_int8_test_accuracy": 0.49,
        },
        parity={"n_images": 0, "tf_vs_onnx_fp32_max_abs_diff": 1e-7, "decisions_identical": True},
        quantization={"recommended": len(variants) > 1, "rule": "a copy of fp32"},
        source="tests",
    )


def add_colour_imagenet(root: Path) -> None:
    """Add the colour-reading "ImageNet" model to an existing export (its manifest entry included)."""
    root = Path(root)
    colour_imagenet_model(root / "imagenet" / ONNX_FILE)
    manifest = read_manifest(root)
    manifest.models["imagenet"] = _entry(root, "imagenet", "multiclass", FAKE_CLASS_NAMES, (64, 64, 3), IMAGENET_PHOTO)
    write_manifest(root, manifest)


def build_fake_export(root: Path, mnist_test) -> Path:
    """A complete export folder (manifest, fp32 and "int8" ONNX of both models, example photos and the
    ImageNet class names) in `root`."""
    root = Path(root)
    add_examples_and_classes(root)
    for file in (ONNX_FILE, ONNX_INT8_FILE):
        red_means_dog_model(root / "catsdogs" / file)
        mean_digit_model(root / "digits" / file, mnist_test.x, mnist_test.y)
        colour_imagenet_model(root / "imagenet" / file)
    photo = {"kind": "photo", "crop": "center_square", "resize_steps": [[32, 32, "box"], [128, 128, "bilinear"]]}
    both = (ONNX_FILE, ONNX_INT8_FILE)
    models = {
        "catsdogs": _entry(root, "catsdogs", "binary", ["cat", "dog"], (128, 128, 3), photo, both),
        "imagenet": _entry(root, "imagenet", "multiclass", FAKE_CLASS_NAMES, (64, 64, 3), IMAGENET_PHOTO, both),
        "digits": _entry(
            root,
            "digits",
            "multiclass",
            [str(k) for k in range(10)],
            (28, 28, 1),
            {"kind": "mnist_like", "size": [28, 28]},
            both,
        ),
    }
    write_manifest(root, Manifest(models, "test", {"onnxruntime": "test"}))
    return root


# ---------------------------------------------------------------- drawings

STROKES = {  # polylines on a unit square, drawn as a person would
    "1": [[(0.45, 0.22), (0.55, 0.12), (0.55, 0.88)]],
    "7": [[(0.25, 0.15), (0.75, 0.15), (0.42, 0.88)]],
    "0": [
        [
            (0.5, 0.12),
            (0.7, 0.25),
            (0.74, 0.5),
            (0.7, 0.75),
            (0.5, 0.88),
            (0.3, 0.75),
            (0.26, 0.5),
            (0.3, 0.25),
            (0.5, 0.12),
        ]
    ],
}


def draw_on_canvas(strokes, canvas: int = CANVAS, brush: int = BRUSH) -> np.ndarray:
    """Strokes drawn black on an opaque white canvas, RGBA, as gr.Sketchpad's composite."""
    picture = Image.new("RGBA", (canvas, canvas), (255, 255, 255, 255))
    pen = ImageDraw.Draw(picture)
    for line in strokes:
        points = [(x * canvas, y * canvas) for x, y in line]
        pen.line(points, fill=(0, 0, 0, 255), width=brush, joint="curve")
        for x, y in points:
            pen.ellipse((x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2), fill=(0, 0, 0, 255))
    return np.asarray(picture).copy()


def drawn_digit(digit: str) -> np.ndarray:
    return draw_on_canvas(STROKES[digit])


def single_dot() -> np.ndarray:
    return draw_on_canvas([[(0.5, 0.5)]])


def black_canvas() -> np.ndarray:
    return np.concatenate([np.zeros((CANVAS, CANVAS, 3), np.uint8), np.full((CANVAS, CANVAS, 1), 255, np.uint8)], -1)


def blank_canvas() -> np.ndarray:
    return np.full((CANVAS, CANVAS, 4), 255, np.uint8)


# ---------------------------------------------------------------- photos, good and bad


def half_red_half_blue(width: int = 256, height: int = 256) -> Image.Image:
    """Left half red, right half blue."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = RED
    array[:, width // 2 :] = BLUE
    return Image.fromarray(array)


def solid(color, size=(200, 160)) -> Image.Image:
    return Image.new("RGB", size, color)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb(path: Path, side: int = 20000) -> Path:
    """A valid 1-bit PNG of side x side pixels (400 megapixels) that is only tens of kB on disk."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")
    )
    return path


def _encoded(picture: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=format, **options)
    return buffer.getvalue()


def bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Files a user may upload that cannot be classified: name -> (path, a word the message must contain)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photo = half_red_half_blue(300, 200)
    files = {
        "zero_byte.jpg": (b"", "empty"),
        "text_renamed.jpg": (b"These are my holiday notes, not a picture.\n" * 20, "text file"),
        "truncated.jpg": (_encoded(photo, "JPEG", quality=95)[:600], "truncated"),
        "truncated.png": (_encoded(photo, "PNG")[:400], "truncated"),
        "drawing.svg": (
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            b'<circle cx="32" cy="32" r="20" fill="red"/></svg>\n',
            "SVG",
        ),
        "one_pixel.png": (_encoded(solid(RED, (1, 1)), "PNG"), "too small"),
        "strip_10000x10.png": (_encoded(solid(RED, (10000, 10)), "PNG"), "too small"),
    }
    corpus = {}
    for name, (data, expected) in files.items():
        (folder / name).write_bytes(data)
        corpus[name] = (folder / name, expected)
    corpus["bomb_20000x20000.png"] = (decompression_bomb(folder / "bomb_20000x20000.png"), "too large")
    return corpus


def odd_but_valid_photos(folder: Path) -> dict[str, tuple[Path, str]]:
    """Valid photos in awkward forms: name -> (path, the label the red-means-dog model must give)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    red, blue = solid(RED), solid(BLUE)
    written = {}

    def save(name, picture, label, **options):
        picture.save(folder / name, **options)
        written[name] = (folder / name, label)

    save("cmyk.jpg", red.convert("CMYK"), "dog", quality=95)
    sixteen = np.asarray(red.convert("L"), np.uint16) * 257
    save("gray16.png", Image.fromarray(sixteen), "either")  # grey: red = blue, p(dog) = 0.5
    palette = Image.new("P", (200, 160), 0)  # index 0: red, declared transparent; index 1: blue
    palette.putpalette([*RED, *BLUE])
    palette.paste(1, (0, 0, 100, 160))
    save("palette_transparent.png", palette, "cat", transparency=0)  # white + blue: cat; red + blue: a tie
    rgba = Image.new("RGBA", (200, 160), (0, 0, 0, 0))
    rgba.paste(Image.new("RGBA", (100, 160), (*RED, 255)), (50, 0))
    save("rgba.png", rgba, "dog")
    frames = [red, blue]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    written["animated.gif"] = (folder / "animated.gif", "dog")
    save("big_6000x4000.jpg", Image.new("RGB", (6000, 4000), RED), "dog", quality=80)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    save("exif_rotated.jpg", half_red_half_blue(64, 32), "either", exif=exif, quality=95)  # red on top once upright
    return written


def manifest_of(root: Path) -> dict:
    return json.loads((Path(root) / "manifest.json").read_text())


def save_manifest_record(root: Path, record: dict) -> None:
    """Write a manifest as a raw record, the way a damaged or hand-edited export would hold it."""
    (Path(root) / "manifest.json").write_text(json.dumps(record))
