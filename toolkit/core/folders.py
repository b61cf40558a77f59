"""The export folder on disk: the names models may take, one export at a time, and the swap that commits one.

A new export is staged in `.staging-*` inside the folder, flushed to disk, then swapped in:
each old model folder moves to `.old-*`, the staged one takes its place, and the rename of the
manifest commits the whole export. An export killed between those renames leaves part of what
the old manifest describes in `.old-*`; the next export moves it back before anything else.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import verify_files
from toolkit.core.names import EXAMPLES_FOLDER, GALLERY_FOLDER, MANIFEST_NAME

STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".old-"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
RESERVED_NAMES = (GALLERY_FOLDER, EXAMPLES_FOLDER)  # folders of the export that are not models


def check_model_name(name: str, origin: str = "the model name") -> str:
    """`name` when it can name a model folder of the export; a ConvlensError saying what is allowed otherwise."""
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        raise ConvlensError(
            f"{name!r} ({origin}) cannot name an exported model: the name becomes a folder of the "
            f"export, so use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit "
            f"(pass --name NAME)."
        )
    if name.lower() in RESERVED_NAMES:
        raise ConvlensError(
            f"{name!r} ({origin}) is the export's own {name.lower()}/ folder, not a model name: pass another --name."
        )
    return name


@contextmanager
def export_lock(out: Path) -> Iterator[None]:
    """Hold the export folder for one export; a second export at the same time fails at once.

    The lock is on the folder itself (flock), so no lock file is left behind, and the system
    releases it when the process ends, however it ends.
    """
    descriptor = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ConvlensError(
            f"another export is running in {out}: wait for it to finish, then run this export again."
        ) from None
    try:
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def recover_interrupted_swap(out: Path, manifest: dict | None, log: Callable[[str], None] = print) -> list[str]:
    """Move back model folders that a killed swap left in `.old-*` while the manifest still describes them,
    then remove every leftover of earlier exports; returns the names put back."""
    out = Path(out)
    described = set(manifest["models"]) if manifest else set()
    restored = []
    for trash in sorted(out.glob(f"{TRASH_PREFIX}*")):
        for kept in sorted(trash.iterdir()):
            name, current = kept.name, out / kept.name
            if manifest is None or name not in described:  # (described is empty without a manifest)
                continue
            if current.exists():  # a new folder moved in before the kill: keep it only if the manifest says so
                if not verify_files(out, manifest, [name]) or verify_files(trash, manifest, [name]):
                    continue
                shutil.rmtree(current)
            os.replace(kept, current)
            restored.append(name)
    for leftover in [*out.glob(f"{STAGING_PREFIX}*"), *out.glob(f"{TRASH_PREFIX}*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    if restored:
        sync_folder(out)
        log(f"An earlier export was interrupted while swapping folders: put back {', '.join(restored)}.")
    return restored


def new_staging(out: Path) -> Path:
    """An empty folder inside `out` where a new export is built."""
    return Path(tempfile.mkdtemp(dir=out, prefix=STAGING_PREFIX))


def sync_folder(path: Path) -> None:
    """fsync a folder itself, so the renames inside it survive a crash."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_tree(root: Path) -> None:
    """fsync every file and folder under `root`, and `root` itself."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(Path(folder) / name, "rb") as handle:
                os.fsync(handle.fileno())
        sync_folder(Path(folder))


def swap_in(staging: Path, out: Path, names: list[str]) -> None:
    """Move staged model folders into `out`, replacing old ones, then the manifest (the commit point).

    The staged files are flushed to disk first, and the folder after each step, so that after a
    crash the manifest never describes folders that did not reach the disk.
    """
    sync_tree(staging)
    trash = Path(tempfile.mkdtemp(dir=out, prefix=TRASH_PREFIX))
    moved = []
    try:
        for name in names:
            if (out / name).exists():
                os.replace(out / name, trash / name)
            moved.append(name)
            os.replace(staging / name, out / name)
        sync_folder(out)
        os.replace(staging / MANIFEST_NAME, out / MANIFEST_NAME)
        sync_folder(out)
    except BaseException:
        for name in moved:  # put the previous folders back, so the old manifest still matches
            if (trash / name).exists():
                shutil.rmtree(out / name, ignore_errors=True)
                os.replace(trash / name, out / name)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
