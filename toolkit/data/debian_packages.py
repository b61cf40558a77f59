"""Debian packages as archives to read files from: downloaded with `apt-get download`, never installed.

A .deb is an `ar` archive holding `debian-binary`, `control.tar.*` and `data.tar.*`; the files a
package installs are in the data tarball. It is read here member by member, in Python, so nothing
in the package runs (no maintainer scripts, no dpkg database) and nothing is written outside the
caller's hands.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from toolkit.core.errors import ConvlensError

AR_MAGIC = b"!<arch>\n"
AR_HEADER_BYTES = 60
MAX_MEMBER_BYTES = 256 << 20  # the largest file read out of a package (a Qt resource bundle is a few MB)


def apt_architecture(filename: str) -> str | None:
    """The architecture a .deb file name pins ("amd64"), or None for an architecture-independent one."""
    arch = filename.rsplit("_", 1)[-1].removesuffix(".deb")
    return None if arch == "all" else arch


def download(spec: str, filename: str, dest: Path, alternative: str, log: Callable[[str], None] = print) -> Path:
    """`apt-get download NAME=VERSION` into the folder `dest`; returns the .deb's path, unchecked.

    apt's package lists are refreshed once (`apt-get update`) when apt does not know the version.
    `alternative` ends the error messages: what the user can do instead (place the file by hand).
    """
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise ConvlensError(
            f"apt-get is needed to fetch the Debian package {spec} but was not found (this does not look "
            f"like a Debian-like system): fetch it on one with `apt-get download {spec}`, {alternative}."
        )
    name, _, version = spec.partition("=")
    arch = apt_architecture(filename)
    request = f"{name}:{arch}={version}" if arch else spec  # the pinned build, whatever this machine runs
    done = _run([apt_get, "download", request], dest, spec, alternative)
    if done.returncode != 0 and _apt_does_not_know(done.stderr):
        log("    apt does not know this version: refreshing its package lists (apt-get update) ...")
        _run([apt_get, "update"], dest, spec, alternative)
        done = _run([apt_get, "download", request], dest, spec, alternative)
    if done.returncode != 0:
        said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        tail = " | ".join(said[-3:]) or f"exit status {done.returncode}"
        raise ConvlensError(
            f"could not fetch the Debian package {spec} with apt-get (it said: {tail}). The archive may "
            f"no longer serve this version, or this machine's apt sources may not include it. Fetch it "
            f"elsewhere with `apt-get download {spec}`, {alternative}."
        )
    got = dest / filename
    if not got.exists():
        found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
        raise ConvlensError(f"apt-get fetched {found} instead of {filename} for {spec}; {alternative}.")
    return got


def _apt_does_not_know(stderr: str) -> bool:
    return any(sign in stderr for sign in ("Unable to locate package", "was not found", "Can't select"))


def _run(command: list[str], folder: Path, spec: str, alternative: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise ConvlensError(
            f"`{' '.join(command[:2])}` did not finish in 15 minutes while fetching {spec}: the package "
            f"archive is unreachable or very slow. Check your network or proxy, {alternative}."
        ) from None


def ar_members(handle: IO[bytes]) -> Iterator[tuple[str, int, int]]:
    """(name, offset of the data, size) of every member of an `ar` archive, without reading the data."""
    handle.seek(0)
    if handle.read(len(AR_MAGIC)) != AR_MAGIC:
        raise ValueError("not an ar archive (a .deb starts with '!<arch>')")
    offset = len(AR_MAGIC)
    while header := handle.read(AR_HEADER_BYTES):
        if len(header) < AR_HEADER_BYTES or header[58:60] != b"`\n":
            raise ValueError(f"damaged ar member header at byte {offset}")
        name = header[:16].decode("ascii", "replace").strip().removesuffix("/")
        size = int(header[48:58].decode("ascii").strip() or 0)
        start = offset + AR_HEADER_BYTES
        yield name, start, size
        offset = start + size + (size % 2)  # members are padded to an even length
        handle.seek(offset)


def _data_tarball(deb: Path) -> tuple[str, int, int]:
    with open(deb, "rb") as handle:
        for name, start, size in ar_members(handle):
            if name.startswith("data.tar"):
                return name, start, size
    raise ValueError(f"{deb.name} holds no data.tar member")


def _open_data_tar(deb: Path) -> tarfile.TarFile:
    """The package's data tarball, opened for reading member by member."""
    name, start, size = _data_tarball(deb)
    with open(deb, "rb") as handle:
        handle.seek(start)
        compressed = handle.read(size)
    if name in ("data.tar.xz", "data.tar.gz", "data.tar.bz2", "data.tar"):
        return tarfile.open(fileobj=io.BytesIO(compressed), mode="r|*")
    if name == "data.tar.zst":
        try:
            import zstandard
        except ImportError:
            return tarfile.open(fileobj=io.BytesIO(_dpkg_deb_tar(deb)), mode="r|")
        return tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(io.BytesIO(compressed)), mode="r|")
    raise ValueError(f"{deb.name}: unknown data member {name}")


def _dpkg_deb_tar(deb: Path) -> bytes:
    """The data tarball, decompressed by dpkg-deb (for zstd without the zstandard module); nothing is installed."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise ConvlensError(
            f"{deb.name} is compressed with zstd: install the Python module zstandard "
            f"(pip install zstandard) or dpkg-deb to read it."
        )
    done = subprocess.run([dpkg_deb, "--fsys-tarfile", str(deb)], capture_output=True, timeout=900)
    if done.returncode != 0:
        raise ValueError(f"dpkg-deb could not read {deb.name}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _normal(member: str) -> str:
    return member.removeprefix("./").lstrip("/")


def read_files(deb: Path, wanted: set[str]) -> dict[str, bytes]:
    """The contents of the regular files `wanted` (paths as in the package, "./usr/..." or "usr/...").

    Only these are read, into memory; links, devices and every other member are skipped. Missing ones
    are simply absent from the result.
    """
    targets = {_normal(path): path for path in wanted}
    found: dict[str, bytes] = {}
    with _open_data_tar(deb) as tar:
        for member in tar:
            asked = targets.get(_normal(member.name))
            if asked is None or not member.isreg():
                continue
            if member.size > MAX_MEMBER_BYTES:
                raise ValueError(f"{member.name} in {deb.name} is larger than {MAX_MEMBER_BYTES >> 20} MB")
            handle = tar.extractfile(member)
            if handle is not None:
                found[asked] = handle.read()
            if len(found) == len(targets):
                break
    return found
