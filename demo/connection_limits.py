"""Slow connections closed: a request's headers must arrive within HEADER_SECONDS, and its body may
not stall for BODY_IDLE_SECONDS.

uvicorn closes idle keep-alive connections, but waits forever for a half-sent request (a
slowloris holds a connection with a byte every few seconds). This is uvicorn's own HTTP protocol
with one timer a connection; Gradio builds its uvicorn server itself, so `install_connection_limits`
makes this the protocol uvicorn picks for "auto" before the server starts.
"""

from __future__ import annotations

import importlib.util
import time

from demo.limits import BODY_IDLE_SECONDS, HEADER_SECONDS

if importlib.util.find_spec("httptools") is not None:  # what uvicorn's "auto" picks
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Protocol
else:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Protocol  # type: ignore[assignment]

CHECK_EVERY_S = 1.0
PROTOCOL = "demo.connection_limits:BoundedHttpProtocol"


class BoundedHttpProtocol(_Protocol):
    """uvicorn's HTTP protocol, closing connections whose request headers or body arrive too slowly."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._waiting_since = time.monotonic()  # for headers
        self._last_bytes = self._waiting_since
        self._check = self.loop.call_later(CHECK_EVERY_S, self._enforce)

    def data_received(self, data: bytes) -> None:
        self._last_bytes = time.monotonic()
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._waiting_since = time.monotonic()  # the next request's headers start now

    def connection_lost(self, exc) -> None:
        self._check.cancel()
        super().connection_lost(exc)

    def _enforce(self) -> None:
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed, or upgraded to a websocket (which has its own pings)
        now = time.monotonic()
        cycle = self.cycle
        waiting_for_headers = cycle is None or cycle.response_complete
        if waiting_for_headers and now - self._waiting_since > HEADER_SECONDS:
            self.transport.close()
            return
        receiving_body = cycle is not None and cycle.more_body and not cycle.response_started
        if receiving_body and now - self._last_bytes > BODY_IDLE_SECONDS:
            self.transport.close()
            return
        self._check = self.loop.call_later(CHECK_EVERY_S, self._enforce)


def install_connection_limits() -> None:
    """Make uvicorn's "auto" HTTP protocol this one (for servers configured from now on, in this process)."""
    from uvicorn import config

    config.HTTP_PROTOCOLS["auto"] = PROTOCOL
