"""Debian's chromium as the browser tests and the README's screenshot launch it: headless, offline, as root."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # `make browser` installs it
CHROMIUM_ARGS = [  # no sandbox as root; no background traffic, which this machine's closed network refuses
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
