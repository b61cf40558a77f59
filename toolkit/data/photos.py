"""The real-photo evaluation set: labelled photos of cats, dogs and other things, out of public packages.

The archives and photos are pinned in `pins/archives.toml` and `pins/photos.toml` (registry, version,
sha256, license, and per photo its path in the archive, label, description, crop box and dev/test split),
read by `toolkit.data.pinning`. `ensure_photos` fetches each archive
like the assets (`convlens assets --only photos`), checks its sha256 before reading anything from it,
reads only the listed files (nothing in a package is run or installed), crops collages into their
tiles and writes each photo to `<asset cache>/photos/<id>.<ext>`. A record of every photo's sha256
makes a second run only verify. The archives are deleted afterwards unless asked to keep them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from toolkit.core import names
from toolkit.core.atomic_files import write_atomically
from toolkit.core.errors import ConvlensError
from toolkit.core.file_hashes import sha256_path
from toolkit.core.paths import downloads_dir, photos_dir
from toolkit.data import assets, debian_packages, qt_resources
from toolkit.data.pinning import BUNDLE_SEPARATOR, PhotoPins, PinnedArchive, PinnedPhoto, photo_pins

PHOTO_LABELS = names.PHOTO_LABELS
PHOTO_SPLITS = names.PHOTO_SPLITS
PHOTO_PINS: PhotoPins = photo_pins()


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo of the evaluation set, extracted into the cache."""

    id: str  # stable, e.g. "gnome-taquin/maine"
    label: str  # "cat" | "dog" | "other"
    description: str
    split: str  # "dev" | "test"
    path: Path  # the extracted image in the cache
    source: str  # e.g. "debian gnome-taquin=3.38.1-2+b1"
    licence: str  # the archive's license


# ---------------------------------------------------------------- the table, as the rest of convlens sees it


def photo_file(photo: PinnedPhoto) -> str:
    """The file name a photo gets in the cache: a cropped tile is re-encoded as PNG, the rest keep their bytes."""
    suffix = ".png" if photo.crop else Path(photo.member.rpartition(BUNDLE_SEPARATOR)[2]).suffix.lower()
    return f"{photo.name}{suffix}"


def _labelled(archive: PinnedArchive, photo: PinnedPhoto, folder: Path) -> LabelledPhoto:
    return LabelledPhoto(
        id=photo.id,
        label=photo.label,
        description=photo.description,
        split=photo.split,
        path=folder / archive.name / photo_file(photo),
        source=f"{archive.registry} {archive.spec}",
        licence=archive.license,
    )


def photo_set(split: str | None = None) -> list[LabelledPhoto]:
    """Every photo of the set (or of the "dev" or "test" split), fetched and verified first, in table order."""
    if split is not None and split not in PHOTO_SPLITS:
        raise ConvlensError(f"unknown photo split {split!r}: use one of {', '.join(PHOTO_SPLITS)}, or none for all.")
    record = _read_record(photos_dir())
    quiet = all(_is_current(a, p, photos_dir(), record) for a, p in PHOTO_PINS.in_table_order())
    folder = ensure_photos(log=(lambda _: None) if quiet else print)  # says what it does when it fetches
    return [
        _labelled(archive, photo, folder)
        for archive, photo in PHOTO_PINS.in_table_order()
        if split is None or photo.split == split
    ]


def assign_splits(photos: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """{id: "dev" or "test"} for (id, label, group key) triples: whole groups, stratified by label, deterministic.

    Groups go largest first (ties in the order of a hash of their key) to the split where they leave the
    per-label counts most even. On an exact tie a group of several photos goes to dev, so that the test
    figures rest on independent photos as far as the balance allows, and a single photo goes by its hash.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for photo, label, group in photos:
        groups.setdefault(group, []).append((photo, label))
    counts = {split: Counter[str]() for split in PHOTO_SPLITS}
    chosen: dict[str, str] = {}

    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    for group in sorted(groups, key=lambda key: (-len(groups[key]), digest(key))):
        adds = Counter(label for _, label in groups[group])
        dev, test = PHOTO_SPLITS
        cost = {
            into: sum(abs(counts[into][label] + n - counts[other][label]) for label, n in adds.items())
            for into, other in ((dev, test), (test, dev))
        }
        preferred = dev if len(groups[group]) > 1 or int(digest(group)[-1], 16) % 2 == 0 else test
        split = min(PHOTO_SPLITS, key=lambda s: (cost[s], s != preferred))
        counts[split].update(adds)
        for photo, _ in groups[group]:
            chosen[photo] = split
    return chosen


# ---------------------------------------------------------------- the record of what was extracted


def _recipe(archive: PinnedArchive, photo: PinnedPhoto) -> str:
    """What a cached photo was made from; a changed pin makes it stale."""
    return hashlib.sha256(json.dumps([archive.sha256, photo.member, photo.crop]).encode()).hexdigest()


def _read_record(folder: Path) -> dict[str, dict[str, str]]:
    try:
        record = json.loads((folder / names.PHOTOS_RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}  # a missing or damaged record only means the photos are extracted again
    return record if isinstance(record, dict) else {}


_verified: set[tuple[str, int, int, str]] = set()


def _is_current(archive: PinnedArchive, photo: PinnedPhoto, folder: Path, record: dict[str, dict[str, str]]) -> bool:
    entry = record.get(photo.id)
    path = folder / archive.name / photo_file(photo)
    if not entry or entry.get("recipe") != _recipe(archive, photo) or not path.is_file():
        return False
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, entry.get("sha256", ""))
    if key not in _verified:
        if sha256_path(path) != entry.get("sha256"):
            return False
        _verified.add(key)
    return True


# ---------------------------------------------------------------- reading the listed files


def _from_installed(archive: PinnedArchive, listed: tuple[PinnedPhoto, ...]) -> dict[str, bytes] | None:
    """The listed photos' files from the installed Python package, when it holds them byte for byte; else None."""
    spec = find_spec(archive.installed) if archive.installed else None
    if spec is None or not spec.submodule_search_locations:
        return None
    site = Path(next(iter(spec.submodule_search_locations))).parent
    found = {}
    for photo in listed:
        path = site / photo.member
        if photo.sha256 is None or not path.is_file() or sha256_path(path) != photo.sha256:
            return None
        found[photo.member] = path.read_bytes()
    return found


def _read_archive(archive: Path, members: set[str]) -> dict[str, bytes]:
    """The `members` of a .deb, a wheel (zip) or a tarball; absent ones are left out."""
    if archive.suffix == ".deb":
        return debian_packages.read_files(archive, members)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as wheel:
            return {m: wheel.read(m) for m in members if m in wheel.NameToInfo}
    found = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.name in members and member.isreg() and (handle := tar.extractfile(member)):
                found[member.name] = handle.read()
    return found


def _photo_bytes(photo: PinnedPhoto, files: dict[str, bytes]) -> bytes:
    """The photo's file as it goes into the cache: read (out of a Qt bundle too), checked, cropped."""
    outer, _, inner = photo.member.partition(BUNDLE_SEPARATOR)
    if outer not in files:
        raise ValueError(f"{outer} is not in the archive")
    data = qt_resources.read_resource(files[outer], inner) if inner else files[outer]
    from PIL import Image  # imported here: listing the table must not need Pillow

    with Image.open(io.BytesIO(data)) as image:
        image.load()  # a damaged file fails here, not in the evaluation
        if not photo.crop:
            return data
        left, top, right, bottom = photo.crop
        if not (0 <= left < right <= image.width and 0 <= top < bottom <= image.height):
            raise ValueError(f"crop box {photo.crop} lies outside {photo.member} ({image.width}x{image.height})")
        out = io.BytesIO()
        image.convert("RGB").crop(photo.crop).save(out, format="PNG")
        return out.getvalue()


def _extract(archive: PinnedArchive, folder: Path, keep_archives: bool, log: Callable[[str], None]) -> int:
    """Write every photo of an archive into the cache; returns the bytes downloaded (0 when none were)."""
    listed = PHOTO_PINS.photos_of(archive)
    files = _from_installed(archive, listed)
    downloaded = 0
    fetched = None
    if files is None:
        fresh = not (downloads_dir() / archive.filename).exists()
        fetched = assets.fetch_archive(archive, log)  # its sha256 is checked before anything is read
        downloaded = fetched.stat().st_size if fresh else 0
        files = _read_archive(fetched, {p.member.partition(BUNDLE_SEPARATOR)[0] for p in listed})
    else:
        log(f"    reading the installed {archive.spec} (its files match the pinned sha256)")
    entries = {}
    for photo in listed:
        try:
            data = _photo_bytes(photo, files)
        except (KeyError, ValueError, OSError) as error:
            raise ConvlensError(
                f"{archive.filename} passed its sha256 check but {photo.member} could not be read out of it "
                f"({error}); please report this."
            ) from error
        write_atomically(folder / archive.name / photo_file(photo), data)
        entries[photo.id] = {
            "file": f"{archive.name}/{photo_file(photo)}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "recipe": _recipe(archive, photo),
        }
    record = _read_record(folder)
    record.update(entries)
    write_atomically(folder / names.PHOTOS_RECORD, json.dumps(record, indent=1, sort_keys=True).encode())
    if fetched is not None and not keep_archives:
        fetched.unlink(missing_ok=True)  # they are large; --keep keeps them in the downloads folder
    return downloaded


def _photos(count: int) -> str:
    return f"{count} photo" if count == 1 else f"{count} photos"


def ensure_photos(log: Callable[[str], None] = print, keep_archives: bool = False) -> Path:
    """Fetch, verify and extract every photo of the set (quick when done: it only verifies); returns the folder."""
    folder = photos_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = _read_record(folder)
    downloaded, start = 0, time.monotonic()
    for number, archive in enumerate(PHOTO_PINS.archives, 1):
        prefix = f"[{number}/{len(PHOTO_PINS.archives)}] {archive.name}"
        listed = PHOTO_PINS.photos_of(archive)
        if all(_is_current(archive, photo, folder, record) for photo in listed):
            log(f"{prefix}: {_photos(len(listed))} present and verified")
            continue
        began = time.monotonic()
        size = "" if archive.installed else f" ({archive.size / 1e6:.1f} MB)"
        log(f"{prefix}: {archive.registry} {archive.spec}{size}")
        downloaded += _extract(archive, folder, keep_archives, log)
        log(f"{prefix}: {_photos(len(listed))} extracted in {time.monotonic() - began:.1f} s")
    counts = Counter((photo.label, photo.split) for photo in PHOTO_PINS.photos)
    summary = ", ".join(f"{label} {counts[label, 'dev']}/{counts[label, 'test']}" for label in PHOTO_LABELS)
    fetched = f"; {downloaded / 1e6:.1f} MB downloaded in {time.monotonic() - start:.0f} s" if downloaded else ""
    log(f"Real-photo set present and verified in {folder} (dev/test: {summary}){fetched}")
    return folder
