"""Fetching a pinned pip package never runs code from it: found on the index, downloaded, checked, kept.

The index here is a `file://` simple index in the test's folder, holding an sdist whose setup.py
creates a marker file; `pip download` is shown to run it, `convlens`'s fetch is shown not to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import tarfile

import pytest

from toolkit.core.errors import ConvlensError
from toolkit.data import assets, pip_index
from toolkit.data.pinning import PinnedArchive

SETUP_PY = """import pathlib
pathlib.Path({marker!r}).touch()
from setuptools import setup
setup(name="evilpkg", version="1.0")
"""


@pytest.fixture
def evil_index(tmp_path, monkeypatch):
    """(archive pinned to the sdist's real sha256, marker path): a file:// index is pip's only source."""
    marker = tmp_path / "setup-py-ran"
    source = tmp_path / "src" / "evilpkg-1.0"
    source.mkdir(parents=True)
    (source / "setup.py").write_text(SETUP_PY.format(marker=str(marker)))
    (source / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: evilpkg\nVersion: 1.0\n")
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    archive = files / "evilpkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="evilpkg-1.0")
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    page = tmp_path / "index" / "simple" / "evilpkg"
    page.mkdir(parents=True)
    (page / "index.html").write_text(f'<a href="../../files/{archive.name}#sha256={sha256}">{archive.name}</a>')
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # this machine's pip.conf files are ignored
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "index" / "simple").as_uri())
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # pip's spelling of "off": setup.py runs with no isolation
    monkeypatch.setenv("CONVLENS_HOME", str(tmp_path / "home"))
    pinned = PinnedArchive(
        name="evilpkg",
        registry="pip",
        spec="evilpkg==1.0",
        filename=archive.name,
        sha256=sha256,
        size=archive.stat().st_size,
        license="test",
    )
    return pinned, marker


def test_pip_download_would_run_the_fixtures_setup_py(evil_index, tmp_path):
    package, marker = evil_index
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path / "pip-dl"), package.spec],
        capture_output=True,
        check=True,
        timeout=300,
    )
    assert marker.exists()


def test_a_pinned_sdist_is_fetched_and_verified_without_running_its_setup_py(evil_index, monkeypatch):
    package, marker = evil_index
    commands = []
    real_run = subprocess.run
    monkeypatch.setattr(
        subprocess, "run", lambda command, *a, **k: (commands.append(command), real_run(command, *a, **k))[1]
    )
    lines = []
    archive = assets.fetch_archive(package, log=lines.append)
    assert archive == assets.downloads_dir() / package.filename
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == package.sha256
    assert not marker.exists()
    assert not any("download" in command or "install" in command for command in commands)
    assert any("evilpkg-1.0.tar.gz" in line for line in lines)


def test_a_download_with_the_wrong_sha256_is_refused_and_nothing_is_kept(evil_index):
    package, marker = evil_index
    wrong = dataclasses.replace(package, sha256="0" * 64)
    with pytest.raises(ConvlensError, match="sha256 mismatch for evilpkg-1.0.tar.gz.*was removed"):
        assets.fetch_archive(wrong, log=lambda _: None)
    assert list(assets.downloads_dir().iterdir()) == []
    assert not marker.exists()


def test_a_file_no_index_lists_is_reported_with_what_was_searched(evil_index):
    package, _ = evil_index
    missing = dataclasses.replace(package, spec="evilpkg==2.0", filename="evilpkg-2.0.tar.gz", sha256="0" * 64)
    with pytest.raises(
        ConvlensError,
        match=r"no package index .* lists it \(searched file://.*place "
        r"evilpkg-2.0.tar.gz in",
    ):
        assets.fetch_archive(missing, log=lambda _: None)
    assert list(assets.downloads_dir().iterdir()) == []


def test_find_links_folders_are_searched_and_extra_indexes_come_after_the_main_one(evil_index, tmp_path, monkeypatch):
    package, _ = evil_index
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index" / "files"))
    assert assets.fetch_archive(package, log=lambda _: None).exists()
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///nowhere/simple")
    indexes, links = pip_index.locations(pip_index.pip_settings())
    assert indexes == [(tmp_path / "index" / "simple").as_uri(), "file:///nowhere/simple"]
    assert links == [str(tmp_path / "index" / "files")]
    monkeypatch.delenv("PIP_INDEX_URL")
    assert pip_index.locations(pip_index.pip_settings())[0][0] == pip_index.default_index_url()


def test_credentials_in_an_index_url_stay_out_of_messages():
    assert pip_index.redacted("https://user:secret@mirror.invalid/simple") == "https://mirror.invalid/simple"
