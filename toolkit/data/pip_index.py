"""Downloading one pinned file from the package indexes pip is configured with, without running pip.

`pip download` prepares an sdist's metadata by running its setup.py, before anyone has checked
the file's sha256. Here nothing is built: the file is found by its exact name on the index's
simple page (PEP 503) or in a find-links folder, and downloaded with urllib. The caller checks
its sha256 before keeping it. The indexes are pip's own settings (`pip config list`: its
configuration files and PIP_* variables), else pip's default index; `file://` indexes work too.
"""

from __future__ import annotations

import ast
import base64
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.request import BaseHandler, HTTPSHandler, ProxyHandler, Request, build_opener, url2pathname

from toolkit.core.errors import ConvlensError

MAX_PAGE_BYTES = 16 << 20  # a project's simple page; PyPI's largest are a few MB
MAX_FILE_BYTES = 512 << 20  # the pinned archives are at most 40 MB
SECTIONS = ("global", "download", ":env:")  # pip's precedence for `pip download`: later ones win
DEFAULT_TIMEOUT_S = 60
DEFAULT_RETRIES = 3


def pip_settings() -> dict[str, str]:
    """pip's settings for `pip download` (files and PIP_* variables), as `pip config list` reports them."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0:
        raise ConvlensError(
            f"pip is needed to read the package index settings, but `{sys.executable} -m pip` does "
            f"not work: install pip (python -m ensurepip)."
        )
    found: dict[str, dict[str, str]] = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"(:env:|[\w-]+)\.([\w-]+)=(.*)", line.strip())
        if match:
            section, key, value = match.groups()
            try:
                found.setdefault(section, {})[key] = str(ast.literal_eval(value))
            except (ValueError, SyntaxError):
                found.setdefault(section, {})[key] = value.strip("'\"")
    settings: dict[str, str] = {}
    for section in SECTIONS:
        settings.update(found.get(section, {}))
    return settings


def default_index_url() -> str:
    """The index pip uses when none is configured, as pip itself names it."""
    from pip._internal.models.index import PyPI  # pip's own constant, so no host is spelled here

    return PyPI.simple_url


def _enabled(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def locations(settings: dict[str, str]) -> tuple[list[str], list[str]]:
    """(index URLs, find-links entries) to search, in pip's terms."""
    indexes = (
        []
        if _enabled(settings.get("no-index"))
        else [settings.get("index-url") or default_index_url(), *settings.get("extra-index-url", "").split()]
    )
    return indexes, settings.get("find-links", "").split()


class _Links(HTMLParser):
    """The href of every <a> on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def redacted(url: str) -> str:
    """A URL without its user and password, for messages."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url


class _Fetcher:
    """Reads file:// and http(s) URLs with pip's timeout, retries, proxy and certificate settings."""

    def __init__(self, settings: dict[str, str]) -> None:
        self.timeout = float(settings.get("timeout") or settings.get("default-timeout") or DEFAULT_TIMEOUT_S)
        self.retries = int(settings.get("retries") or DEFAULT_RETRIES)
        handlers: list[BaseHandler] = [
            HTTPSHandler(context=ssl.create_default_context(cafile=settings.get("cert") or None))
        ]
        if settings.get("proxy"):
            handlers.append(ProxyHandler({"http": settings["proxy"], "https": settings["proxy"]}))
        self.opener = build_opener(*handlers)

    def open(self, url: str) -> BinaryIO:
        """A readable response for `url` (file paths are opened directly; folders read their index.html)."""
        parts = urlsplit(url)
        if parts.scheme == "file":
            path = Path(url2pathname(unquote(parts.path)))
            return open(path / "index.html" if path.is_dir() else path, "rb")
        if parts.scheme not in ("http", "https"):
            raise URLError(f"unsupported URL scheme {parts.scheme!r}")
        headers = {"Accept": "text/html", "User-Agent": "convlens"}
        if "@" in parts.netloc:  # credentials in the index URL, as pip accepts them
            user = unquote(parts.netloc.rpartition("@")[0])
            headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
            url = redacted(url)
        for attempt in range(self.retries + 1):
            try:
                return self.opener.open(Request(url, headers=headers), timeout=self.timeout)
            except HTTPError:
                raise
            except (URLError, TimeoutError, ConnectionError):
                if attempt == self.retries:
                    raise
                time.sleep(min(2**attempt, 10))
        # only with a negative retries setting, which makes no attempt at all
        raise URLError(f"pip's retries setting is {self.retries}, so {url} was not read: set it to 0 or more")

    def read(self, url: str, limit: int) -> bytes:
        with self.open(url) as response:
            data = response.read(limit + 1)
        if len(data) > limit:
            raise ConvlensError(f"{redacted(url)} is larger than {limit >> 20} MB; refusing to read it.")
        return data


def _link_to(fetcher: _Fetcher, page_url: str, filename: str) -> str | None:
    """The URL of `filename` among the links of a simple (or find-links) page, or None."""
    parser = _Links()
    parser.feed(fetcher.read(page_url, MAX_PAGE_BYTES).decode("utf-8", errors="replace"))
    for href in parser.hrefs:
        url = urljoin(page_url, href)
        if unquote(urlsplit(url).path.rsplit("/", 1)[-1]) == filename:
            return url.split("#", 1)[0]
    return None


def find_file(project: str, filename: str, settings: dict[str, str]) -> tuple[str | None, list[str]]:
    """(URL of `filename`, or None; why each place searched could not be read)."""
    fetcher = _Fetcher(settings)
    indexes, find_links = locations(settings)
    unreachable: list[str] = []
    for entry in find_links:
        if "://" not in entry or entry.startswith("file:"):  # a local folder of archives
            folder = Path(url2pathname(unquote(urlsplit(entry).path))) if "://" in entry else Path(entry).expanduser()
            if (folder / filename).is_file():
                return (folder / filename).resolve().as_uri(), unreachable
            continue
        try:
            if url := _link_to(fetcher, entry, filename):
                return url, unreachable
        except (OSError, URLError, ValueError) as error:
            unreachable.append(f"{redacted(entry)}: {_reason(error)}")
    normalized = re.sub(r"[-_.]+", "-", project).lower()
    for index in indexes:
        page = urljoin(index.rstrip("/") + "/", f"{normalized}/")
        try:
            if url := _link_to(fetcher, page, filename):
                return url, unreachable
        except HTTPError as error:
            if error.code != 404:  # 404: the index does not have the project
                unreachable.append(f"{redacted(page)}: {_reason(error)}")
        except (OSError, URLError, ValueError) as error:
            if not isinstance(error, FileNotFoundError):  # a local index without the project
                unreachable.append(f"{redacted(page)}: {_reason(error)}")
    return None, unreachable


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or error)


def download(project: str, filename: str, dest: Path, alternative: str, log: Callable[[str], None] = print) -> Path:
    """Download `filename` of `project` into the folder `dest` (nothing is built or run); returns its path.

    `alternative` ends the error messages: what the user can do instead (place the file by hand).
    """
    settings = pip_settings()
    url, unreachable = find_file(project, filename, settings)
    if url is None:
        if unreachable:
            raise ConvlensError(
                f"could not fetch {filename}: the package registry could not be reached "
                f"({'; '.join(unreachable[-3:])}). Check your network, proxy or index settings, "
                f"{alternative}."
            )
        searched = ", ".join(redacted(place) for place in sum(locations(settings), [])) or "nothing (--no-index)"
        raise ConvlensError(
            f"could not fetch {filename}: no package index pip is configured with lists it "
            f"(searched {searched}). Check your index settings, {alternative}."
        )
    log(f"    from {redacted(url)}")
    target = Path(dest) / filename
    try:
        with _Fetcher(settings).open(url) as response, open(target, "wb") as out:
            copied = _copy_bounded(response, out, MAX_FILE_BYTES)
    except (OSError, URLError) as error:
        target.unlink(missing_ok=True)
        if getattr(error, "errno", None) == 28:  # ENOSPC
            raise ConvlensError(f"the disk is full: {filename} could not be written to {dest}.") from None
        raise ConvlensError(
            f"could not fetch {filename}: the package registry could not be reached or broke off "
            f"({_reason(error)}). Check your network, proxy or index settings, {alternative}."
        ) from None
    if copied > MAX_FILE_BYTES:
        target.unlink()
        raise ConvlensError(f"{redacted(url)} is larger than {MAX_FILE_BYTES >> 20} MB; refusing it.")
    return target


def _copy_bounded(source, target, limit: int) -> int:
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            break
        target.write(chunk)
    return copied
