"""The real-photo evaluation set: fetched like the assets, checked before it is read, extracted file by file,
split once and for all. Fake archives built here stand in for the registries (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
import shutil
import struct
import subprocess
import tarfile
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from toolkit import cli
from toolkit.core.errors import ConvlensError
from toolkit.core.paths import downloads_dir
from toolkit.data import assets, debian_packages, photos, qt_resources
from toolkit.data.pinning import PhotoPins, PinnedArchive, PinnedPhoto


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_xz(files: dict[str, bytes], link: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return out.getvalue()


def ar(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def fake_deb(files: dict[str, bytes], link: str | None = None) -> bytes:
    return ar({"debian-binary": b"2.0\n", "control.tar.xz": tar_xz({}), "data.tar.xz": tar_xz(files, link)})


def rcc(folder: str, name: str, data: bytes) -> bytes:
    """A Qt resource bundle (format 3) holding folder/name, zlib-compressed as rcc stores it."""
    names = b""
    offsets = {}
    for text in (folder, name):
        offsets[text] = len(names)
        names += struct.pack(">HI", len(text), 0) + text.encode("utf-16-be")
    stored = struct.pack(">I", len(data)) + zlib.compress(data)
    blob = struct.pack(">I", len(stored)) + stored
    tree = (
        struct.pack(">IHII", 0, 2, 1, 1)  # the root: a folder with one child, node 1
        + bytes(8)
        + struct.pack(">IHII", offsets[folder], 2, 1, 2)
        + bytes(8)
        + struct.pack(">IHHHI", offsets[name], 1, 0, 0, 0)  # zlib-compressed, data at offset 0
        + bytes(8)
    )
    data_at = 24
    names_at = data_at + len(blob)
    tree_at = names_at + len(names)
    return b"qres" + struct.pack(">IIIII", 3, tree_at, data_at, names_at, 0) + blob + names + tree


CAT = png(40, 30, (200, 120, 40))
OTHER = png(20, 20, (10, 200, 10))
COLLAGE = png(60, 20, (90, 90, 90))
BUNDLED = png(16, 12, (0, 0, 255))
DEB = fake_deb(
    {
        "./usr/share/fake/cat.png": CAT,
        "./usr/share/fake/other.png": OTHER,
        "./usr/share/fake/collage.png": COLLAGE,
        "./usr/share/fake/unlisted.png": png(5, 5, (0, 0, 0)),
        "./usr/share/fake/pics.rcc": rcc("pics", "blue.png", BUNDLED),
    },
    link="./usr/share/fake/link.png",
)
WHEEL_NAME = "fakewheel-1.0-py3-none-any.whl"


def wheel() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("fakewheel/dog.png", png(30, 30, (250, 250, 250)))
        archive.writestr("fakewheel/__init__.py", "raise SystemExit('never run')")
    return out.getvalue()


WHEEL = wheel()


def deb_archive(sha: str = sha256(DEB)) -> PinnedArchive:
    return PinnedArchive(
        name="fake-deb",
        registry="debian",
        spec="fake-deb=1.0-1",
        filename="fake-deb_1.0-1_all.deb",
        sha256=sha,
        size=len(DEB),
        license="CC0-1.0",
    )


def deb_photo(name: str, label: str, split: str, description: str, file: str, **more) -> PinnedPhoto:
    return PinnedPhoto(
        archive="fake-deb",
        name=name,
        label=label,
        split=split,
        description=description,
        member="./usr/share/fake/" + file,
        **more,
    )


DEB_PHOTOS = (
    deb_photo("cat", "cat", "dev", "a tabby", "cat.png"),
    deb_photo("other", "other", "test", "a green square", "other.png"),
    deb_photo("blue", "other", "dev", "bundled", "pics.rcc::pics/blue.png"),
    deb_photo("tile-1", "dog", "test", "tile 1 of collage", "collage.png", crop=(0, 0, 30, 20), group="c"),
    deb_photo("tile-2", "dog", "test", "tile 2 of collage", "collage.png", crop=(30, 0, 60, 20), group="c"),
)
WHEEL_ARCHIVE = PinnedArchive(
    name="fakewheel",
    registry="pip",
    spec="fakewheel==1.0",
    filename=WHEEL_NAME,
    sha256=sha256(WHEEL),
    size=len(WHEEL),
    license="MIT",
)
WHEEL_PHOTO = PinnedPhoto(
    archive="fakewheel", name="dog", label="dog", split="dev", description="a white dog", member="fakewheel/dog.png"
)


@pytest.fixture
def registries(tmp_path, monkeypatch) -> dict[str, list[str]]:
    """A file:// package index holding the wheel, and apt-get replaced by a copy of the fake .deb."""
    home = tmp_path / "home"
    monkeypatch.setenv("CONVLENS_HOME", str(home))
    index = tmp_path / "index"
    (index / "simple" / "fakewheel").mkdir(parents=True)
    (index / "files").mkdir()
    (index / "files" / WHEEL_NAME).write_bytes(WHEEL)
    (index / "simple" / "fakewheel" / "index.html").write_text(f'<a href="../../files/{WHEEL_NAME}">{WHEEL_NAME}</a>')
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", (index / "simple").as_uri())
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    fetched: dict[str, list[str]] = {"debian": [], "read": []}

    def apt_get_download(spec, filename, dest, alternative, log=print) -> Path:
        fetched["debian"].append(spec)
        (Path(dest) / filename).write_bytes(DEB)
        return Path(dest) / filename

    monkeypatch.setattr(debian_packages, "download", apt_get_download)
    real_read = debian_packages.read_files
    monkeypatch.setattr(
        debian_packages, "read_files", lambda deb, wanted: fetched["read"].append(deb.name) or real_read(deb, wanted)
    )
    monkeypatch.setattr(photos, "PHOTO_PINS", PhotoPins((deb_archive(), WHEEL_ARCHIVE), (*DEB_PHOTOS, WHEEL_PHOTO)))
    photos._verified.clear()
    yield fetched
    photos._verified.clear()


def test_only_the_listed_files_are_extracted_and_collage_tiles_are_cropped(registries):
    folder = photos.ensure_photos(log=lambda _: None)
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert written == [
        "fake-deb/blue.png",
        "fake-deb/cat.png",
        "fake-deb/other.png",
        "fake-deb/tile-1.png",
        "fake-deb/tile-2.png",
        "fakewheel/dog.png",
        "photos.json",
    ]
    assert (folder / "fake-deb/cat.png").read_bytes() == CAT  # uncropped photos keep their bytes
    assert (folder / "fake-deb/blue.png").read_bytes() == BUNDLED  # out of the Qt bundle
    with Image.open(folder / "fake-deb/tile-2.png") as tile:
        assert tile.size == (30, 20)
    assert list(downloads_dir().iterdir()) == []  # the archives are deleted after extraction
    assert registries["debian"] == ["fake-deb=1.0-1"]


def test_photo_set_lists_a_split_with_its_source_and_licence(registries):
    test = photos.photo_set("test")
    assert [p.id for p in test] == ["fake-deb/other", "fake-deb/tile-1", "fake-deb/tile-2"]
    assert test[0].source == "debian fake-deb=1.0-1" and test[0].licence == "CC0-1.0"
    assert test[0].path.read_bytes() == OTHER
    assert {p.split for p in photos.photo_set()} == {"dev", "test"}
    with pytest.raises(ConvlensError, match="unknown photo split"):
        photos.photo_set("train")


def test_a_wrong_sha256_is_refused_before_anything_is_read(registries, monkeypatch):
    monkeypatch.setattr(photos, "PHOTO_PINS", PhotoPins((deb_archive(sha="0" * 64),), DEB_PHOTOS))
    with pytest.raises(ConvlensError, match="sha256 mismatch"):
        photos.ensure_photos(log=lambda _: None)
    assert registries["read"] == []
    assert not [p for p in downloads_dir().parent.rglob("*") if p.is_file()]  # nothing extracted, nothing kept


def test_a_second_run_only_verifies_and_a_damaged_photo_is_extracted_again(registries, monkeypatch):
    photos.ensure_photos(log=lambda _: None)
    said: list[str] = []
    photos.ensure_photos(log=said.append)
    assert registries["debian"] == ["fake-deb=1.0-1"]  # fetched once
    assert "[1/2] fake-deb: 5 photos present and verified" in said
    assert "[2/2] fakewheel: 1 photo present and verified" in said
    photos._verified.clear()
    (photos.photos_dir() / "fake-deb/cat.png").write_bytes(b"changed")
    photos.ensure_photos(log=lambda _: None, keep_archives=True)
    assert registries["debian"] == ["fake-deb=1.0-1"] * 2
    assert (photos.photos_dir() / "fake-deb/cat.png").read_bytes() == CAT
    assert [p.name for p in downloads_dir().iterdir()] == ["fake-deb_1.0-1_all.deb"]  # --keep


def test_an_installed_package_stands_in_for_its_archive_only_when_its_files_match(registries, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "fakeinstalled").mkdir(parents=True)
    (site / "fakeinstalled" / "__init__.py").write_text("")
    (site / "fakeinstalled" / "dog.png").write_bytes(OTHER)
    monkeypatch.syspath_prepend(str(site))
    photo = PinnedPhoto(
        archive="inst",
        name="dog",
        label="dog",
        split="dev",
        description="a dog",
        member="fakeinstalled/dog.png",
        sha256=sha256(OTHER),
    )
    installed = dataclasses.replace(WHEEL_ARCHIVE, name="inst", sha256="0" * 64, installed="fakeinstalled")
    monkeypatch.setattr(photos, "PHOTO_PINS", PhotoPins((installed,), (photo,)))
    photos.ensure_photos(log=lambda _: None)  # the archive's (wrong) sha256 never matters: nothing is fetched
    assert (photos.photos_dir() / "inst/dog.png").read_bytes() == OTHER
    (site / "fakeinstalled" / "dog.png").write_bytes(CAT)  # another version: the pinned archive is fetched
    photos._verified.clear()
    (photos.photos_dir() / "inst/dog.png").unlink()
    with pytest.raises(ConvlensError, match="sha256 mismatch"):
        photos.ensure_photos(log=lambda _: None)


def test_a_deb_is_read_in_python_skipping_links_and_unlisted_files(tmp_path):
    deb = tmp_path / "x.deb"
    deb.write_bytes(DEB)
    wanted = {"./usr/share/fake/cat.png", "usr/share/fake/other.png", "./usr/share/fake/link.png", "./missing"}
    assert debian_packages.read_files(deb, wanted) == {
        "./usr/share/fake/cat.png": CAT,
        "usr/share/fake/other.png": OTHER,
    }
    (tmp_path / "bad.deb").write_bytes(b"PK\x03\x04 not an ar archive")
    with pytest.raises(ValueError, match="not an ar archive"):
        debian_packages.read_files(tmp_path / "bad.deb", wanted)


def test_a_qt_resource_bundle_gives_its_file_and_refuses_other_paths():
    bundle = rcc("pics", "blue.png", BUNDLED)
    assert qt_resources.read_resource(bundle, "pics/blue.png") == BUNDLED
    with pytest.raises(KeyError):
        qt_resources.read_resource(bundle, "pics/red.png")
    with pytest.raises(ValueError, match="truncated"):
        qt_resources.read_resource(bundle[:40], "pics/blue.png")


def test_without_apt_get_the_error_says_which_file_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setattr(debian_packages.shutil, "which", lambda _: None)
    with pytest.raises(ConvlensError, match=r"apt-get .* not found.*x_1\.0_amd64\.deb in /somewhere"):
        debian_packages.download("x=1.0", "x_1.0_amd64.deb", tmp_path, "or place x_1.0_amd64.deb in /somewhere")


def test_apt_get_asks_for_the_pinned_architecture_and_updates_its_lists_once_when_the_version_is_unknown(
    tmp_path, monkeypatch
):
    commands = []

    def run(command, cwd, **_) -> subprocess.CompletedProcess:
        commands.append(command[1:])
        if command[1] == "download" and ["update"] not in commands:
            return subprocess.CompletedProcess(command, 100, "", "E: Version '1.0' for 'x' was not found")
        if command[1] == "download":
            (Path(cwd) / "x_1.0_amd64.deb").write_bytes(b"deb")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(debian_packages.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(debian_packages.subprocess, "run", run)
    got = debian_packages.download("x=1.0", "x_1.0_amd64.deb", tmp_path, "or place it", log=lambda _: None)
    assert got.read_bytes() == b"deb"
    assert commands == [["download", "x:amd64=1.0"], ["update"], ["download", "x:amd64=1.0"]]


def test_the_split_is_stratified_by_label_keeps_groups_whole_and_ignores_input_order():
    items = [(f"cat{i}", "cat", f"cat{i}") for i in range(11)]
    items += [(f"tile{i}", "dog", "collage") for i in range(4)] + [(f"dog{i}", "dog", f"dog{i}") for i in range(5)]
    items += [(f"other{i}", "other", "series" if i < 3 else f"other{i}") for i in range(30)]
    split = photos.assign_splits(items)
    shuffled = items[:]
    random.Random(0).shuffle(shuffled)
    assert photos.assign_splits(shuffled) == split
    counts = Counter((label, split[name]) for name, label, _ in items)
    for label in ("cat", "dog", "other"):
        assert abs(counts[label, "dev"] - counts[label, "test"]) <= 1, counts
    assert len({split[f"tile{i}"] for i in range(4)}) == 1
    assert len({split[f"other{i}"] for i in range(3)}) == 1


def test_the_real_table_holds_enough_labelled_photos_in_a_fixed_even_split():
    every = photos.PHOTO_PINS.in_table_order()
    ids = [photo.id for _, photo in every]
    assert len(ids) == len(set(ids))
    assert {photo.label for _, photo in every} <= set(photos.PHOTO_LABELS)
    assert {photo.split for _, photo in every} <= set(photos.PHOTO_SPLITS)
    counts = Counter((photo.label, photo.split) for _, photo in every)
    assert counts["other", "dev"] + counts["other", "test"] >= 30
    assert dict(counts) == {  # the split is fixed: a change here is a decision, not an accident
        ("cat", "dev"): 22,
        ("cat", "test"): 10,
        ("dog", "dev"): 11,
        ("dog", "test"): 6,
        ("other", "dev"): 73,
        ("other", "test"): 72,
    }
    groups: dict[str, set[str]] = {}
    for _, photo in every:
        if photo.group:
            groups.setdefault(photo.group, set()).add(photo.split)
    assert groups and all(len(splits) == 1 for splits in groups.values())
    tiles = [photo for _, photo in every if photo.crop]
    assert len(tiles) >= 4 and all(p.group and p.description.startswith("tile ") for p in tiles)
    assert all(left < right and top < bottom for left, top, right, bottom in (p.crop for p in tiles))
    assert len({(archive.name, photo.member, photo.crop) for archive, photo in every}) == len(every)


def test_the_real_tables_archives_stay_small_enough_to_fetch():
    # about 440 MB since the dev set grew toward 40 cats and dogs (opencv-doc alone is 96 MB): a minute or two
    assert sum(archive.size for archive in photos.PHOTO_PINS.archives if not archive.installed) < 450e6


def test_plain_assets_leaves_the_photos_out_and_only_photos_fetches_only_them(monkeypatch):
    calls = []
    monkeypatch.setattr(assets, "ensure_assets", lambda names=None: calls.append(("assets", names)))
    monkeypatch.setattr(photos, "ensure_photos", lambda keep_archives=False: calls.append(("photos", keep_archives)))
    assert cli.main(["assets"]) == 0
    assert cli.main(["assets", "--only", "photos", "--keep"]) == 0
    assert cli.main(["assets", "--only", "mnist", "photos"]) == 0
    assert calls == [("assets", None), ("photos", True), ("assets", ["mnist"]), ("photos", False)]


def test_the_record_names_every_photo_with_its_sha256(registries):
    folder = photos.ensure_photos(log=lambda _: None)
    record = json.loads((folder / "photos.json").read_text())
    assert record["fake-deb/cat"]["sha256"] == sha256(CAT)
    assert record["fakewheel/dog"]["file"] == "fakewheel/dog.png"
    shutil.rmtree(folder)
    assert photos.ensure_photos(log=lambda _: None) == folder  # a removed cache is simply made again
