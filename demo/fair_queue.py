"""One client's flood delays only that client: a cap on each client's queued and running events.

Gradio's queue has one bound for everyone (QUEUE_MAX), so one session could fill it and every
other visitor got "Queue is full". This wraps the queue's `push` on the app's instance: a new
event is refused, with a message, when its session (or its IP address) already has the cap of
events waiting or running on the same endpoint. The renderer has its own, smaller caps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from demo.limits import ADDRESS_EVENTS_PER_ENDPOINT, ADDRESS_RENDERS, CLIENT_EVENTS_PER_ENDPOINT, CLIENT_RENDERS

if TYPE_CHECKING:
    import gradio as gr

RENDER_CONCURRENCY_ID = "render"


def _caps(concurrency_id: str | None) -> tuple[int, int]:
    """(per session, per address) for an endpoint's concurrency group."""
    if concurrency_id == RENDER_CONCURRENCY_ID:
        return CLIENT_RENDERS, ADDRESS_RENDERS
    return CLIENT_EVENTS_PER_ENDPOINT, ADDRESS_EVENTS_PER_ENDPOINT


def _address(request) -> str | None:
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def install_fair_queue(app: gr.Blocks) -> None:
    """Make `app`'s queue refuse a client's event beyond the per-session and per-address caps."""
    queue = app._queue
    push = queue.push

    def in_flight(fn) -> list:
        events = []
        for waiting in queue.event_queue_per_concurrency_id.values():
            events += [event for event in waiting.queue if event.fn is fn]
        for running in queue.active_jobs:
            events += [event for event in running or [] if event.fn is fn]
        return events

    async def fair_push(body, request, username) -> tuple:
        fn = app.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is not None and body.session_hash is not None:
            per_session, per_address = _caps(fn.concurrency_id)
            events = in_flight(fn)
            address = _address(request)
            mine = sum(event.session_hash == body.session_hash for event in events)
            ours = sum(address is not None and _address(event.request) == address for event in events)
            if mine >= per_session or ours >= per_address:
                what = "live render" if fn.concurrency_id == RENDER_CONCURRENCY_ID else "request"
                return (
                    False,
                    f"You already have {max(mine, ours)} {what}s of this kind waiting or running: wait for "
                    f"them to finish, then try again.",
                    "queue_full",
                )
        return await push(body, request, username)

    queue.push = fair_push  # type: ignore[method-assign]  # on this app's queue only
