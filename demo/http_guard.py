"""The demo's outermost HTTP layer: what Gradio's own routes and middleware get wrong for strangers.

- Cross-origin: only the page's own origin gets CORS headers (Gradio answers any origin, with
  credentials, once the host is not localhost); a foreign origin's preflight is refused.
- Cookies: `SameSite=None` becomes `SameSite=Lax`.
- With a password: every route but the login page and its assets needs the login cookie (Gradio
  leaves heartbeat, cancel, reset, runs and monitoring open), and wrong passwords from one address
  are answered with a growing delay.
- `/monitoring` answers 404 (Gradio turns it on by default).
- A 206 (Range) answer carries only the headers a file response needs (Gradio's echoes the request's,
  the auth cookie included).
- An upload Gradio fails on (an empty filename) is answered 400 with a message, not 500 and a traceback.
- Uploaded files are kept up to UPLOAD_CACHE_MAX_BYTES; the oldest are deleted first.

Installed around Gradio's whole middleware stack (Gradio adds its CORS middleware outside any the
app is created with), right after the server starts.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from demo.limits import LOGIN_FIRST_DELAY_S, LOGIN_FREE_ATTEMPTS, LOGIN_MAX_DELAY_S, UPLOAD_CACHE_MAX_BYTES

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

MONITORING_ENV = "CONVLENS_DEMO_MONITORING"  # 1: leave Gradio's /monitoring routes on
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")  # the login page's own files
PUBLIC_PATHS = frozenset(
    {
        "/",
        "/login",
        "/login/",
        "/logout",
        "/config",  # Gradio answers "login required" there itself
        "/config/",
        "/gradio_api/login_check",
        "/gradio_api/login_check/",
        "/favicon.ico",
        "/theme.css",
        "/gradio_api/theme.css",
        "/robots.txt",
        "/manifest.json",
    }
)
RANGE_HEADERS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"content-range",
        b"accept-ranges",
        b"content-disposition",
        b"etag",
        b"last-modified",
        b"cache-control",
        b"vary",
        b"date",
        b"server",
    }
)
UPLOAD_PATH = "/gradio_api/upload"
UPLOAD_REFUSED = "The upload could not be read (does the file have a name?): send it again."
LOGIN_PATHS = ("/login", "/login/")
MAX_TRACKED_ADDRESSES = 10_000


class LoginThrottle:
    """Wrong passwords per address: after LOGIN_FREE_ATTEMPTS, each one closes the door for a doubling delay."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # address -> (failures, open again at)
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> float:
        with self._lock:
            _, opens = self._failures.get(address, (0, 0.0))
            return max(0.0, opens - self._clock())

    def failed(self, address: str) -> None:
        with self._lock:
            failures = self._failures.pop(address, (0, 0.0))[0] + 1
            delay = 0.0
            if failures >= LOGIN_FREE_ATTEMPTS:
                delay = min(LOGIN_MAX_DELAY_S, LOGIN_FIRST_DELAY_S * 2 ** (failures - LOGIN_FREE_ATTEMPTS))
            self._failures[address] = (failures, self._clock() + delay)
            while len(self._failures) > MAX_TRACKED_ADDRESSES:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


class HttpGuard:
    """ASGI middleware around Gradio's stack; see the module doc for what it does."""

    def __init__(self, app: ASGIApp, monitoring: bool | None = None) -> None:
        self.app = app
        self.monitoring = monitoring if monitoring is not None else os.environ.get(MONITORING_ENV) == "1"
        self.logins = LoginThrottle()
        self._prune_lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, gradio = scope["path"], scope.get("app")
        connection = HTTPConnection(scope)
        address = connection.client.host if connection.client else "unknown"
        if "monitoring" in path.split("/")[1:3] and not self.monitoring:
            return await _answer(send, 404, "Not found.")
        if getattr(gradio, "auth", None) is not None and not _public(path) and not _logged_in(gradio, connection):
            return await _answer(send, 401, "Log in first.")
        own = _own_origin(scope, connection)
        origin = connection.headers.get("origin")
        foreign = origin is not None and origin.rstrip("/") != own
        if foreign and scope["method"] == "OPTIONS" and "access-control-request-method" in connection.headers:
            return await _answer(send, 403, "Cross-origin requests are not allowed.")
        login = path in LOGIN_PATHS and scope["method"] == "POST"
        if login:
            wait = self.logins.wait_seconds(address)
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))  # a little of the wait now; the rest is told
                return await _answer(send, 429, f"Too many wrong passwords: try again in {wait:.0f} s.")
        upload = path == UPLOAD_PATH and scope["method"] == "POST"
        state = {"status": 0, "replaced": False}

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if upload and message["status"] >= 500:
                    state["replaced"] = True
                    return await _answer(send, 400, UPLOAD_REFUSED)
                headers = _clean_headers(message.get("headers") or [], foreign, message["status"])
                message = {**message, "headers": headers}
            elif state["replaced"]:
                return None
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            if not state["replaced"]:
                raise  # a genuine server error: let the server log it
        if login:
            if state["status"] == 200:
                self.logins.succeeded(address)
            elif state["status"] in (400, 401):
                self.logins.failed(address)
        if upload and state["status"] == 200 and gradio is not None:
            self._prune_uploads(gradio)

    def _prune_uploads(self, gradio) -> None:
        """Delete the oldest uploaded files until those Gradio keeps fit UPLOAD_CACHE_MAX_BYTES."""
        uploaded = gradio.get_blocks().upload_file_set
        with self._prune_lock:
            files = []
            for name in list(uploaded):
                try:
                    info = os.stat(name)
                except OSError:
                    uploaded.discard(name)
                    continue
                files.append((info.st_mtime, info.st_size, name))
            total = sum(size for _, size, _ in files)
            for _, size, name in sorted(files):
                if total <= UPLOAD_CACHE_MAX_BYTES:
                    break
                try:
                    os.unlink(name)
                except OSError:
                    pass
                uploaded.discard(name)
                total -= size


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _logged_in(gradio, connection: HTTPConnection) -> bool:
    cookie_id = getattr(gradio, "cookie_id", "")
    token = connection.cookies.get(f"access-token-{cookie_id}") or connection.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    return token is not None and token in getattr(gradio, "tokens", {})


def _own_origin(scope: Scope, connection: HTTPConnection) -> str:
    host = connection.headers.get("host", "")
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{host}" if urlsplit(f"//{host}").hostname else ""


def _clean_headers(headers, foreign: bool, status: int) -> list[tuple[bytes, bytes]]:
    cleaned = []
    for name, value in headers:
        lowered = name.lower()
        if foreign and lowered.startswith(b"access-control-"):
            continue
        if status == 206 and lowered not in RANGE_HEADERS:
            continue
        if lowered == b"set-cookie":
            value = _same_site_lax(value)
        cleaned.append((name, value))
    return cleaned


def _same_site_lax(cookie: bytes) -> bytes:
    parts = [part.strip() for part in cookie.split(b";")]
    kept = [part for part in parts if not part.lower().startswith(b"samesite")]
    return b"; ".join([*kept, b"SameSite=Lax"])


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_http_guard(server_app, monitoring: bool | None = None) -> HttpGuard:
    """Put the guard around the running app's whole middleware stack (built now if it is not yet)."""
    stack = server_app.middleware_stack or server_app.build_middleware_stack()
    guard = HttpGuard(stack, monitoring)
    server_app.middleware_stack = guard
    return guard
