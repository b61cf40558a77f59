"""The pin files (toolkit/data/pins/*.toml) follow their schema, and a file that breaks it is refused on load.

The real files are checked as shipped; small files written here show each rule refusing what it should.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from toolkit.core import names
from toolkit.data import pinning
from toolkit.data.pinning import PinError, PinnedArchive, PinnedPhoto, read_archives, read_photos

PINS = Path(str(pinning.PINS_DIR))
HEX64 = re.compile(r"[0-9a-f]{64}")


def test_every_file_in_the_pins_folder_is_one_the_loader_reads():
    assert sorted(path.name for path in PINS.iterdir() if not path.name.startswith(".")) == [
        "archives.toml",
        "photos.toml",
    ]


def test_the_real_archives_are_pinned_by_a_sha256_and_a_spec_their_registry_understands():
    raw = tomllib.loads((PINS / "archives.toml").read_text())["archive"]
    archives = read_archives(PINS / "archives.toml")
    assert len(archives) == len(raw)  # names unique: none was lost to a duplicate
    for archive in archives.values():
        assert HEX64.fullmatch(archive.sha256), archive.name
        assert archive.size > 0 and archive.license and archive.filename
        if archive.registry == "pip":
            assert "==" in archive.spec and archive.filename.endswith((".whl", ".tar.gz"))
        if archive.registry == "npm":
            assert "@" in archive.spec.lstrip("@") and archive.filename.endswith(".tgz")
        if archive.registry == "debian":
            assert "=" in archive.spec and archive.filename.endswith(".deb")
        assert PinnedArchive.from_dict(archive.to_dict()) == archive


def test_the_real_photos_name_pinned_archives_and_known_labels_and_splits():
    archives = read_archives(PINS / "archives.toml")
    pins = read_photos(PINS / "photos.toml", archives)
    raw = tomllib.loads((PINS / "photos.toml").read_text())["folder"]
    assert len(pins.photos) == sum(len(folder["photos"]) for folder in raw) > 0
    assert all(photo.archive in archives for photo in pins.photos)
    assert max(Counter(photo.id for photo in pins.photos).values()) == 1
    assert {photo.label for photo in pins.photos} == set(names.PHOTO_LABELS)
    assert {photo.split for photo in pins.photos} == set(names.PHOTO_SPLITS)
    for photo in pins.photos:
        assert photo.sha256 is None or HEX64.fullmatch(photo.sha256), photo.id
        assert PinnedPhoto.from_dict(photo.to_dict()) == photo
    for archive in pins.archives:
        if archive.installed:  # the installed files stand in only when each one is pinned
            assert all(photo.sha256 for photo in pins.photos_of(archive))


def test_the_assets_and_the_photo_set_read_the_shipped_pins():
    from toolkit.data import assets, photos

    assert {asset.archive.name for asset in assets.ASSETS} <= set(pinning.pinned_archives())
    assert photos.PHOTO_PINS == pinning.photo_pins()
    assert len(photos.PHOTO_PINS.archives) == 41 and len(photos.PHOTO_PINS.photos) == 194


# ---------------------------------------------------------------- small files that break one rule each

GOOD_ARCHIVES = """
[[archive]]
name = "pkg"
registry = "debian"
spec = "pkg=1.0-1"
filename = "pkg_1.0-1_all.deb"
sha256 = "{sha}"
size = 1_000
license = "CC0-1.0"
""".replace("{sha}", "ab" * 32)

GOOD_PHOTOS = """
[[folder]]
archive = "pkg"
path = "./usr/share/pkg/"
photos = [
    { name = "cat", label = "cat", split = "dev", file = "cat.jpg", description = "a cat" },
    { name = "tile", label = "dog", split = "test", file = "dogs.jpg", description = "a dog", crop = [0, 0, 10, 10] },
]
"""


def write(folder: Path, archives: str = GOOD_ARCHIVES, photos: str = GOOD_PHOTOS) -> tuple[Path, Path]:
    (folder / "archives.toml").write_text(archives)
    (folder / "photos.toml").write_text(photos)
    return folder / "archives.toml", folder / "photos.toml"


def load(archives_file: Path, photos_file: Path) -> pinning.PhotoPins:
    return read_photos(photos_file, read_archives(archives_file))


def test_a_file_that_follows_the_schema_loads(tmp_path):
    pins = load(*write(tmp_path))
    assert [photo.id for photo in pins.photos] == ["pkg/cat", "pkg/tile"]
    assert pins.photos[0].member == "./usr/share/pkg/cat.jpg" and pins.photos[1].crop == (0, 0, 10, 10)
    assert pins.archives[0].size == 1000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: text.replace('license = "CC0-1.0"\n', ""), "missing key.*license"),
        (lambda text: text + 'licence = "CC0-1.0"\n', "unknown key.*licence"),
        (lambda text: text.replace("size = 1_000", 'size = "1000"'), "size = '1000' is not of type int"),
        (lambda text: text.replace("size = 1_000", "size = true"), "size = True is not of type int"),
        (lambda text: text.replace("size = 1_000", "size = 0"), "size 0 is not a positive"),
        (lambda text: text.replace("ab" * 32, "ab" * 31), "is not 64 lower-case hex"),
        (lambda text: text.replace("ab" * 32, "AB" * 32), "is not 64 lower-case hex"),
        (lambda text: text.replace("ab" * 32, "zz" * 32), "is not 64 lower-case hex"),
        (lambda text: text.replace('"debian"', '"conda"'), "registry 'conda' is not one of"),
        (lambda text: text + text.replace('spec = "pkg=1.0-1"', 'spec = "pkg=2.0-1"'), "'pkg' is given twice"),
        (lambda text: text.replace("[[archive]]", "[archive]"), "holds no \\[\\[archive\\]\\] tables"),
        (lambda text: text + "\n[extra]\n", "unknown top-level key"),
        (lambda text: text.replace('name = "pkg"', 'name = "pkg'), "is not valid TOML"),
    ],
)
def test_a_broken_archive_entry_is_refused_with_the_file_and_the_rule(tmp_path, change, message):
    archives_file, _ = write(tmp_path, archives=change(GOOD_ARCHIVES))
    with pytest.raises(PinError, match=message) as refused:
        read_archives(archives_file)
    assert str(archives_file) in str(refused.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: text.replace('archive = "pkg"', 'archive = "nowhere"'), "'nowhere' is not pinned"),
        (lambda text: text.replace('path = "./usr/share/pkg/"\n', ""), "missing key.*path"),
        (lambda text: text.replace('path = "', 'where = "x"\npath = "'), "unknown key.*where"),
        (lambda text: text.replace('label = "cat"', 'label = "fox"'), "label 'fox' is not one of"),
        (lambda text: text.replace('split = "dev"', 'split = "train"'), "split 'train' is not one of"),
        (lambda text: text.replace(', description = "a cat"', ""), "missing key.*description"),
        (lambda text: text.replace('description = "a cat"', 'description = "a cat", colour = "red"'), "unknown key"),
        (lambda text: text.replace('description = "a cat"', 'description = "a cat", member = "x"'), "member"),
        (lambda text: text.replace('file = "cat.jpg", ', ""), "string `file`"),
        (lambda text: text.replace("[0, 0, 10, 10]", "[0, 0, 10]"), "crop = \\(0, 0, 10\\) is not of type"),
        (lambda text: text.replace("[0, 0, 10, 10]", "[10, 0, 0, 10]"), "is not a \\(left, top, right, bottom\\)"),
        (lambda text: text.replace('description = "a cat"', "description = 7"), "description = 7 is not of type str"),
        (lambda text: text.replace('description = "a cat"', 'description = "a", sha256 = "x"'), "not 64 lower-case"),
        (lambda text: text.replace('name = "tile"', 'name = "cat"'), "photo name\\(s\\) given twice: pkg/cat"),
        (
            lambda text: text.replace("photos = [", 'group = "g"\nphotos = [').replace("a dog", 'a dog", group = "h'),
            "a group of its own inside a folder that is one group",
        ),
        (lambda text: text.replace("[[folder]]", "[[photo]]"), "unknown top-level key"),
    ],
)
def test_a_broken_photo_entry_is_refused_with_the_file_and_the_rule(tmp_path, change, message):
    archives_file, photos_file = write(tmp_path, photos=change(GOOD_PHOTOS))
    with pytest.raises(PinError, match=message) as refused:
        load(archives_file, photos_file)
    assert str(photos_file) in str(refused.value)


def test_an_archive_that_no_photo_reads_is_refused_in_the_photo_set():
    archive = PinnedArchive.from_dict(tomllib.loads(GOOD_ARCHIVES)["archive"][0])
    with pytest.raises(PinError, match="archive\\(s\\) without photos: pkg"):
        pinning.PhotoPins((archive,), ())
