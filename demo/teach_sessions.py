"""Each browser session's teaching (its photos, features, model and files), held on the server under gradio's
session hash, and deleted when the page closes or after IDLE_SECONDS without an event.

Not gr.State(time_to_live=..., delete_callback=...): gradio 6.31 checks a State's time to live every second,
but once the page's heartbeat stops (tab closed, client gone) it marks the session closed and from then on
keeps the state for STATE_TTL_WHEN_CLOSED = 3600 s, whatever time_to_live says (gradio/state_holder.py;
gradio-app/gradio#8241). So the idle timeout is kept here: a bounded registry of sessions with their last use,
swept by its own thread, and the page's unload event ends a session at once.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from gradio import utils as gradio_utils

from toolkit.core.errors import ConvlensError
from toolkit.teach.taught_model import TaughtModel
from toolkit.teach.training import TrainingPhoto

IDLE_SECONDS = 30 * 60  # a session's photos and model are deleted after this long without an event
SWEEP_SECONDS = 60  # how often idle sessions are looked for
MAX_SESSIONS = 32  # sessions holding photos or a model at once (each up to ~250 photos' features and a 13 MB model)
FOLDER_PREFIX = "convlens-teach-"


@dataclass
class TeachSession:
    """One browser session's teaching: its folder, photos (featurised once), model and the files it was given.
    Every file the session gives gradio to serve carries its `token` in its name, so its cached copies are found."""

    token: str = field(default_factory=lambda: secrets.token_hex(12))
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX)))
    photos: list[TrainingPhoto] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    model: TaughtModel | None = None
    uploads: list[Path] = field(default_factory=list)
    busy: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Delete everything of this session: its folder, its uploads and gradio's served copies of its files."""
        shutil.rmtree(self.folder, ignore_errors=True)
        for path in self.uploads:
            path.unlink(missing_ok=True)
        for copy in Path(gradio_utils.get_upload_folder()).glob(f"*/*{self.token}*"):
            copy.unlink(missing_ok=True)
        self.photos, self.model, self.uploads = [], None, []


class TeachSessions:
    """The sessions of one app, by gradio session hash, with the time each was last used."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[TeachSession, float]] = {}
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None
        atexit.register(_end_all_if_alive, weakref.ref(self))  # a stopped server leaves no photos behind

    def of(self, session_hash: str | None) -> TeachSession:
        """This session's teaching (made on its first use), marked as used now."""
        if not session_hash:
            raise ConvlensError("this request belongs to no page session: reload the page.")
        self.sweep()
        with self._lock:
            held = self._held.get(session_hash)
            if held is None and len(self._held) >= MAX_SESSIONS:
                raise ConvlensError(f"{MAX_SESSIONS} other pages are teaching right now: try again in a few minutes.")
            session = held[0] if held else TeachSession()
            self._held[session_hash] = (session, time.monotonic())
        self._start_sweeper()
        return session

    def find(self, session_hash: str | None) -> TeachSession | None:
        """This session's teaching if it has one (marked as used now), else None."""
        with self._lock:
            held = self._held.get(session_hash or "")
            if held is not None:
                self._held[session_hash or ""] = (held[0], time.monotonic())
        return held[0] if held else None

    def end(self, session_hash: str | None) -> None:
        """Delete a session's teaching now (the page was closed)."""
        with self._lock:
            held = self._held.pop(session_hash or "", None)
        if held is not None:
            held[0].close()

    def end_all(self) -> None:
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for session, _ in held:
            session.close()

    def sweep(self) -> None:
        """Delete the sessions idle for longer than IDLE_SECONDS (not one that is training)."""
        oldest = time.monotonic() - IDLE_SECONDS
        with self._lock:
            idle = [key for key, (session, used) in self._held.items() if used < oldest and not session.busy.locked()]
            gone = [self._held.pop(key)[0] for key in idle]
        for session in gone:
            session.close()

    def __len__(self) -> int:
        return len(self._held)

    def _start_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = threading.Thread(target=_sweep_while_alive, args=(weakref.ref(self),), daemon=True)
        self._sweeper.start()


def _sweep_while_alive(registry: weakref.ref[TeachSessions]) -> None:
    """Sweep every SWEEP_SECONDS for as long as the registry exists (a weak reference: an app that is gone stops it)."""
    while True:
        time.sleep(SWEEP_SECONDS)
        sessions = registry()
        if sessions is None:
            return
        sessions.sweep()
        del sessions


def _end_all_if_alive(registry: weakref.ref[TeachSessions]) -> None:
    sessions = registry()
    if sessions is not None:
        sessions.end_all()
