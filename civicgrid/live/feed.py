"""The feed: brings every committed journal entry into this server process, in id order, for
the hub to hand on. One thread per process, whatever the number of connections.

- PostgreSQL: LISTEN on the journal's channel (a connection of its own, psycopg's
  ``notifies``); each notification carries its entry as JSON, so delivery needs no query.
  Every server process listens, so every process sees every change whichever wrote it. On
  (re)connecting, the entries written meanwhile are read from the journal first.
- SQLite: read the journal after every commit in this process that wrote to it (woken at
  once), and every ``CIVICGRID_LIVE_POLL_SECONDS`` otherwise, which brings the changes that
  other processes on the same file (``serve --workers N``, ``civicgrid worker``) wrote.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from civicgrid.live import journal
from civicgrid.live.changes import Change
from civicgrid.store.db import READ_ONLY

log = logging.getLogger("civicgrid.live")

Deliver = Callable[[list[Change]], None]


class Feed:
    """Reads the journal of ``engine`` into ``deliver`` from a daemon thread."""

    def __init__(self, engine: Engine, deliver: Deliver, poll_seconds: float) -> None:
        self.engine = engine
        # Reads only: on SQLite they never wait for (or take) the write lock.
        self._reads = engine.execution_options(**{READ_ONLY: True})
        self.deliver = deliver
        self.poll_seconds = poll_seconds
        self.last_id = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def start(self) -> int:
        """Start from the newest entry now in the journal; its id (0 for an empty journal)."""
        with self._reads.connect() as connection:
            self.last_id = journal.bounds(connection)[1] or 0
        target = self._listen if self.postgresql else self._poll
        if not self.postgresql:
            journal.wake_on_commit(self._wake)
        self._thread = threading.Thread(target=target, name="civicgrid-live-feed", daemon=True)
        self._thread.start()
        return self.last_id

    def stop(self) -> None:
        """Stop the thread (within a second or so)."""
        self._stop.set()
        self._wake.set()
        journal.stop_waking(self._wake)
        if self._thread is not None:
            self._thread.join(5)

    def _hand_on(self, changes: list[Change]) -> None:
        if changes:
            self.last_id = max(self.last_id, changes[-1].id)
            self.deliver(changes)

    def catch_up(self) -> None:
        """Hand on every entry after the last one handed on."""
        with self._reads.connect() as connection:
            for changes in journal.read_all_after(connection, self.last_id):
                self._hand_on(changes)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.catch_up()
            except SQLAlchemyError:  # the file busy or away for a moment: the next round reads it
                log.exception("reading the live journal failed")

    def _conninfo(self) -> str:
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _listen(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True) as connection:
                    connection.execute(f"LISTEN {journal.CHANNEL}")
                    # Entries committed while nobody listened (a restart, a dropped connection).
                    self.catch_up()
                    self.listening.set()
                    pause = 0.5
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            self._hand_on([Change.from_json(notice.payload)])
            except (psycopg.Error, SQLAlchemyError):
                self.listening.clear()
                log.exception("the live feed lost its connection; listening again in %.1f s", pause)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
