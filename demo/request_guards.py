"""How the demo meets strangers: the Sketchpad guarded, result files bounded, request bodies capped,
and sharing only with a password.

Gradio-facing, but free of layout: demo.gradio_app calls these while it builds and launches the app.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import gradio as gr
import numpy as np
from fastapi import HTTPException
from PIL import Image

from demo.limits import MAX_REQUEST_BYTES, RESULT_FILES_KEPT, SKETCH_MAX_LAYERS
from demo.uploads import BoundedBlobStore, RefusedInput, UploadGate, check_blob_post, check_sketch_image
from toolkit.core.atomic_files import write_atomically
from toolkit.core.errors import ConvlensError

if TYPE_CHECKING:
    from gradio.components.image_editor import EditorValue
    from starlette.types import Message

AUTH_ENV = "CONVLENS_DEMO_AUTH"  # USER:PASSWORD, instead of --auth on the command line
PUBLIC_ENV = "CONVLENS_DEMO_PUBLIC"  # 1: serve beyond this machine without a password, on purpose
SHARE_PROBE_SECONDS = 5.0


# ---------------------------------------------------------------- the Sketchpad


def guard_sketchpad(sketch: gr.Sketchpad, gate: UploadGate) -> gr.Sketchpad:
    """The sketchpad with every image reference checked, sizes read from headers, and its blob store bounded.

    Wrapped on the instance: a gr.Sketchpad subclass would make gradio write a .pyi stub beside this file.
    """
    store = BoundedBlobStore()
    sketch.blob_storage = store  # type: ignore[assignment]  # gradio only calls get, [] =, `in` and pop on it
    preprocess, accept_blobs = sketch.preprocess, sketch.accept_blobs

    def checked_preprocess(payload) -> EditorValue | None:
        if payload is None:
            return None
        blobs = store.get(payload.id) if payload.id is not None else None
        if blobs is not None:
            images = [blobs.background, blobs.composite, *(blobs.layers or [])]
        else:
            if payload.id is not None:  # a sketch id this server holds no blobs for (expired, or never sent)
                raise gr.Error("The drawing did not arrive (or expired): draw it again.", print_exception=False)
            images = [payload.background, payload.composite, *(payload.layers or [])]
        images = [image for image in images if image is not None]
        try:
            if len(images) > SKETCH_MAX_LAYERS:
                raise RefusedInput(
                    f"A sketch has at most {SKETCH_MAX_LAYERS} images (background, composite and "
                    f"layers); this one has {len(images)}."
                )
            for image in images:
                check_sketch_image(
                    bytes(image) if isinstance(image, (bytes, bytearray)) else gate.check(getattr(image, "path", None))
                )
            return preprocess(payload)
        except ConvlensError as error:
            store.pop(payload.id)
            raise gr.Error(str(error), print_exception=False) from None
        except (OSError, SyntaxError, ValueError) as error:
            store.pop(payload.id)
            raise gr.Error(
                f"The drawing could not be read as an image ({error}): clear the canvas and draw again, or send a PNG.",
                print_exception=False,
            ) from None

    def bounded_accept_blobs(data) -> None:
        blob = data.files[0][1] if data.files else None
        try:
            check_blob_post(data.data.get("type"), data.data.get("index"), blob)
        except RefusedInput as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return accept_blobs(data)

    bounded_accept_blobs._is_server_fn = True  # type: ignore[attr-defined]  # gradio serves only marked functions
    sketch.preprocess = checked_preprocess  # type: ignore[method-assign]  # wrapped on the instance (see above)
    sketch.accept_blobs = bounded_accept_blobs
    return sketch


# ---------------------------------------------------------------- result images


def result_image(label: str, elem_id: str, height: int) -> gr.Image:
    """An output image showing a `ResultFiles` PNG (not editable, served as the PNG it is)."""
    return gr.Image(label=label, interactive=False, height=height, format="png", elem_id=elem_id)


class ResultFiles:
    """PNG files of result images in one folder, named by content, written atomically, at most `keep` of them.

    Gradio writes returned arrays into its cache with a plain overwrite under a content-hash name,
    so two concurrent requests with the same result could stream a half-rewritten file (seen
    under load). The demo hands it files instead; Gradio copies each into its cache at once, so
    only the newest `keep` are kept here.
    """

    def __init__(self, folder: Path, keep: int = RESULT_FILES_KEPT) -> None:
        self.folder, self.keep = Path(folder), keep
        self._lock = threading.Lock()

    def write(self, image: np.ndarray) -> str:
        encoded = io.BytesIO()
        # zlib level 1: a 224 px map encodes 4x faster than at the default 6, for an 8% larger file
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(encoded, format="PNG", compress_level=1)
        data = encoded.getvalue()
        path = self.folder / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
        with self._lock:
            if path.exists():
                os.utime(path)
            else:
                write_atomically(path, data, durable=False)  # a result image need not survive a crash
                self._prune()  # only a new file can take the folder over `keep`
        return str(path)

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)


def remove_when_done(folder: Path) -> Callable[[], None]:
    """A callback that removes the demo's scratch folder (registered with atexit and the app's close)."""
    return lambda: shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- requests


def check_variant(variant: object, offered: list[str]) -> str:
    """The variant a request names, when the manifest offers it for serving (fp32 by default)."""
    chosen = variant or "fp32"
    if chosen not in offered:
        raise RefusedInput(f"The model variant {chosen!r} is not offered; choose one of {', '.join(offered)}.")
    return str(chosen)


class RequestBodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, before anything reads them."""

    def __init__(self, app, limit: int = MAX_REQUEST_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(send)
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(status_code=413, detail="request body too large")
            return message

        return await self.app(scope, counted_receive, send)

    async def _refuse(self, send) -> None:
        body = f"Request body over {self.limit // (1024 * 1024)} MB: refused.".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------- who may connect


def is_loopback(host: str) -> bool:
    """Whether `host` binds only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """USER:PASSWORD (from --auth, or the CONVLENS_DEMO_AUTH environment variable) as a pair."""
    value = value if value is not None else os.environ.get(AUTH_ENV)
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or len(password) < 8:
        raise ConvlensError(f"--auth (or ${AUTH_ENV}) must be USER:PASSWORD with a password of at least 8 characters.")
    return user, password


def public_opt_in(flag: bool = False) -> bool:
    """Whether the operator chose, knowingly, to serve without a password (--public or CONVLENS_DEMO_PUBLIC=1)."""
    return flag or os.environ.get(PUBLIC_ENV, "").strip().lower() in ("1", "yes", "true")


def check_exposure(host: str, share: bool, auth: tuple[str, str] | None, public: bool = False) -> None:
    """Refuse to serve beyond this machine without a password (unless the operator opted in), and say why."""
    if (share or not is_loopback(host)) and auth is None and not public:
        where = "a public share link" if share else f"{host} (reachable from other machines)"
        raise ConvlensError(
            f"serving on {where} lets strangers use this demo: pass --auth USER:PASSWORD (or set "
            f"${AUTH_ENV}) so that only people with the password can, or serve on 127.0.0.1. To serve it "
            f"to everyone on purpose (a public Space), pass --public or set {PUBLIC_ENV}=1."
        )


def check_share_reachable(timeout: float = SHARE_PROBE_SECONDS) -> None:
    """Fail within seconds when Gradio's share service cannot be reached (offline machines)."""
    from gradio import networking

    server = urlparse(getattr(networking, "GRADIO_API_SERVER", "") or "")
    if not server.hostname:
        return  # this gradio has no such constant: let it try
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            socket.create_connection((server.hostname, server.port or 443), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(error)

    worker = threading.Thread(target=probe, daemon=True)  # name resolution has no timeout of its own
    started = time.monotonic()
    worker.start()
    worker.join(timeout)
    if not outcome or outcome[0] is not None:
        reason = f"{outcome[0]}" if outcome else f"no answer in {time.monotonic() - started:.0f} s"
        raise ConvlensError(
            f"--share needs Gradio's share service on the internet, which this machine cannot "
            f"reach ({reason}). Serve on your network instead: --host 0.0.0.0 --auth USER:PASSWORD."
        )


# ---------------------------------------------------------------- the running server


def before_serving() -> None:
    """What must be in place before Gradio configures its server: slow connections get closed."""
    from demo.connection_limits import install_connection_limits

    install_connection_limits()


def harden_running_app(app: gr.Blocks) -> None:
    """Around the started app: the HTTP guard outside Gradio's own middleware, and per-client queue caps."""
    from demo.fair_queue import install_fair_queue
    from demo.http_guard import install_http_guard

    install_http_guard(app.server_app)
    install_fair_queue(app)
