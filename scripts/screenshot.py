"""Remake docs/images/photo-tab.png: the demo serving the real export on 127.0.0.1, in Debian's chromium at
1400 x 1000, answering a real photo (the export's first example photo, scikit-image's Chelsea).

`make screenshot` runs it, after `make export` (the models and example photos) and `make browser` (chromium).
Nothing leaves 127.0.0.1: chromium runs without its background services and any other request is refused.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image

from demo.gradio_app import launch, prepare
from demo.showcase import example_photos
from toolkit.core.chromium import CHROMIUM, CHROMIUM_ARGS
from toolkit.core.errors import ConvlensError
from toolkit.core.paths import REPO_ROOT, exported_dir

SCREENSHOT = REPO_ROOT / "docs" / "images" / "photo-tab.png"
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 60_000
MAX_BYTES = 400_000  # a README image: above this the PNG is saved with a 256-colour palette
VERDICT_SHOWN = """() => { const h = document.querySelector('#photo-label h2, #photo-label .output-class');
                           return h !== null && /^(cat|dog|neither)$/.test(h.innerText.trim()); }"""


def only_local(route) -> None:
    """Let requests to this machine through; refuse any other."""
    if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


def answered_photo_png(url: str, photo: Path) -> bytes:
    """The photo tab at `url` after answering `photo`: its instruction, the photo and the answer, as a PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.route("**/*", only_local)
            page.goto(url)
            page.set_input_files("#photo-input input[type=file]", str(photo))
            page.wait_for_function(VERDICT_SHOWN)
            page.locator("#photo-map img").wait_for()
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(500)  # the images' fade-in
            top = page.locator("#photo-instruction").bounding_box()
            bottom = page.locator("#photo-map-legend + .convlens-note").bounding_box()  # the map's legend, last
            tab = page.locator("#tab-photo").bounding_box()
            if not (top and bottom and tab):
                raise ConvlensError("the photo tab did not show its answer: is the demo's layout changed?")
            margin = 12
            clip = {
                "x": max(tab["x"] - margin, 0),
                "y": max(top["y"] - margin, 0),
                "width": min(tab["width"] + 2 * margin, VIEWPORT["width"]),
                "height": bottom["y"] + bottom["height"] - top["y"] + 2 * margin,
            }
            return page.screenshot(clip=clip, full_page=True)
        finally:
            browser.close()


def small_png(png: bytes) -> bytes:
    """The PNG as it is, or with a 256-colour palette when it is larger than a README image should be."""
    if len(png) <= MAX_BYTES:
        return png
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exported", type=Path, default=None, help="the export to serve (default: exported/)")
    parser.add_argument("--photo", type=Path, default=None, help="the photo (default: the export's first example)")
    parser.add_argument("--out", type=Path, default=SCREENSHOT, help=f"where to save it (default: {SCREENSHOT})")
    args = parser.parse_args(argv)
    exported = args.exported or exported_dir()
    photos = [args.photo] if args.photo else example_photos(exported)
    if not photos:
        raise SystemExit(f"{exported} has no example photos: run `make export` first, or pass --photo")
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="convlens-screenshot-") as scratch:
        app, allowed = prepare(exported, runs=Path(scratch) / "runs", scratch=Path(scratch))
        try:
            png = small_png(answered_photo_png(launch(app, allowed), photos[0]))
        finally:
            app.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    print(f"{args.out}: {len(png) // 1000} KB, the photo tab answering {photos[0].name}")


if __name__ == "__main__":
    main()
