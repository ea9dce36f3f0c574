"""One holder at a time across processes, for a background job: the outbox sender, the
minute job. SQLite: an ``flock`` on ``<database>.<name>.lock``; PostgreSQL: a session
advisory lock. Both are let go by the operating system or the server when the holder dies,
so a standby takes over."""

from __future__ import annotations

import os
import threading
from contextlib import suppress

from sqlalchemy import Connection, Engine, text

from civicgrid.store.db import is_memory_sqlite

#: The sender's advisory lock key on PostgreSQL ("civi" in ASCII).
ADVISORY_KEY = 0x63697669
#: In-memory SQLite lives in one process: a lock per process (and job) is enough there.
_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


def _memory_lock(name: str) -> threading.Lock:
    with _memory_guard:
        return _memory_locks.setdefault(name, threading.Lock())


class ProcessLock:
    """Try to become the one active holder of the job ``name`` (advisory ``key`` on
    PostgreSQL); ``release`` lets go."""

    def __init__(self, engine: Engine, name: str, key: int) -> None:
        self.engine = engine
        self.name = name
        self.key = key
        self._descriptor: int | None = None
        self._connection: Connection | None = None
        self._memory = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it."""
        if self.held:
            return True
        url = self.engine.url
        if url.get_backend_name() == "postgresql":
            connection = self.engine.connect()
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            connection.commit()
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        if is_memory_sqlite(url):
            self._memory = _memory_lock(self.name).acquire(blocking=False)
            return self._memory
        import fcntl

        descriptor = os.open(f"{url.database}.{self.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._descriptor is not None or self._connection is not None or self._memory

    def release(self) -> None:
        """Let go of the lock (a standby may take it)."""
        if self._connection is not None:
            # If the server went away, the lock went with it.
            with suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            # Closed for good, not handed back to the pool holding a session-level lock.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
        if self._memory:
            _memory_lock(self.name).release()
            self._memory = False


class SenderLock(ProcessLock):
    """Try to become the one active outbox sender."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, "sender", ADVISORY_KEY)
