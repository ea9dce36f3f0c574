"""Engine and session factory: SQLite (one file, WAL) by default, PostgreSQL in production.

Services take a session and never commit; ``session_scope`` (CLI) and the API's request
dependency do, once per request, so one write is one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

#: Stable constraint names, so migrations can name what they change (and SQLite batch mode works).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Execution option marking an engine whose transactions only read (see ``make_session_factory``).
READ_ONLY = "civicgrid_read_only"


#: ``PRAGMA synchronous`` values a centre may choose (see ``make_engine``).
SYNCHRONOUS_MODES = ("FULL", "NORMAL")


def _sqlite_pragmas(busy_timeout_ms: int, synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # savepoints and transactional DDL work as on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while a write is under way; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL syncs the WAL at every commit, so an acknowledged write survives a power cut.
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def _lock_file(path: str, timeout_s: float) -> int | None:
    """Take the exclusive ``flock`` on ``path``: the descriptor that holds it (closing it lets
    go), or None when ``timeout_s`` passed first.

    A blocking ``flock`` sleeps in the kernel until the holder lets go, with no polling, but
    it has no timeout. So when the lock is taken, a helper thread does the blocking wait on
    its own descriptor while the writer waits for it with a timeout; a writer that gives up
    leaves the helper to close its descriptor as soon as the lock comes (a helper per
    contended wait costs far less than the write it waits for).
    """
    import fcntl  # POSIX only; make_engine asks for a lock file nowhere else

    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return descriptor
    except BlockingIOError:
        pass
    granted = threading.Event()
    guard = threading.Lock()
    gave_up = False

    def wait() -> None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except OSError:  # pragma: no cover - the writer times out and the 503 path follows
            os.close(descriptor)
            return
        with guard:
            if gave_up:
                os.close(descriptor)
            else:
                granted.set()

    threading.Thread(target=wait, name="civicgrid-writer-lock", daemon=True).start()
    if granted.wait(timeout_s):
        return descriptor
    with guard:
        if granted.is_set():  # pragma: no cover - granted between the timeout and the guard
            return descriptor
        gave_up = True
    return None


def _locked() -> OperationalError:
    locked = sqlite3.OperationalError("database is locked: other writers held it too long")
    return OperationalError("BEGIN IMMEDIATE", None, locked)


class _WriterQueue:
    """The writers of every process on one SQLite file, in line for its single write lock.

    SQLite's busy handler polls with growing sleeps, so under load a waiting writer can lose
    to newcomers again and again until its timeout. Writers therefore wait here first: a
    thread lock lines up the writers of this process, then an ``flock`` on
    ``<database>.writers.lock`` lines up the processes (several server workers, a CLI
    import). Both are held until the writer has committed and given its connection back, and
    the waiter next in line is woken at once. Only then does a writer take SQLite's lock
    (BEGIN IMMEDIATE), which is free unless a program that ignores the lock file is
    writing, and that case the busy timeout still covers.
    """

    #: Marks a pooled connection whose transaction holds the turn (its value: the lock file's
    #: descriptor, or None without a lock file).
    HOLDS_TURN = "civicgrid_writer_turn"

    def __init__(self, timeout_s: float, lock_path: str | None = None) -> None:
        self._turn = threading.Lock()
        self._timeout_s = timeout_s
        self._lock_path = lock_path

    def begin(self, connection: Any) -> None:
        # A reader's DEFERRED transaction reads a snapshot and never takes the write lock. A
        # writer's IMMEDIATE one takes the lock at the start, so a read never has to turn
        # into a write halfway (which SQLite may refuse outright).
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        info = connection.connection.info
        if self.HOLDS_TURN not in info:
            info[self.HOLDS_TURN] = self._take_turn()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._hand_on(info)
            raise

    def _take_turn(self) -> int | None:
        deadline = time.monotonic() + self._timeout_s
        if not self._turn.acquire(timeout=self._timeout_s):
            raise _locked()
        if self._lock_path is None:
            return None
        try:
            descriptor = _lock_file(self._lock_path, max(deadline - time.monotonic(), 0))
        except BaseException:
            self._turn.release()
            raise
        if descriptor is None:
            self._turn.release()
            raise _locked()
        return descriptor

    def end(self, _dbapi_connection: Any, record: Any, *_: Any) -> None:
        """Hand the turn on once the connection is back in the pool (after its commit or
        rollback), or gone."""
        if record is not None:
            self._hand_on(record.info)

    def _hand_on(self, info: dict[str, Any]) -> None:
        if self.HOLDS_TURN in info:
            descriptor = info.pop(self.HOLDS_TURN)
            if descriptor is not None:
                os.close(descriptor)  # lets go of the flock
            self._turn.release()


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database, which lives in one process only."""
    database = url.database
    return url.get_backend_name() == "sqlite" and (
        not database or database == ":memory:" or url.query.get("mode") == "memory"
    )


def writers_lock_path(url: URL) -> str | None:
    """The lock file that lines up the writer processes of a SQLite file: the database's
    path plus ``.writers.lock``; None for an in-memory database or where ``flock`` is
    missing (Windows)."""
    if sys.platform == "win32" or is_memory_sqlite(url):
        return None
    return f"{url.database}.writers.lock"


def make_engine(url: str, *, busy_timeout_ms: int = 5000, synchronous: str = "FULL") -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout (how long a
    writer waits for the write lock before giving up) and its ``synchronous`` level: FULL
    (a commit is on disk when acknowledged) or NORMAL (faster; a power cut may roll back
    the last commits, a crash of the program loses nothing)."""
    if url.startswith("sqlite"):
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}"
            )
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms, synchronous))
        writers = _WriterQueue(busy_timeout_ms / 1000, writers_lock_path(engine.url))
        event.listen(engine, "begin", writers.begin)
        for returned in ("checkin", "close", "invalidate"):
            event.listen(engine.pool, returned, writers.end)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` that keep objects readable after commit. ``read_only``
    sessions never take SQLite's write lock, and PostgreSQL refuses writes in them."""
    if read_only:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        engine = engine.execution_options(**options)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: Callable[[], Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
