"""Engine and session factory: SQLite (one file, WAL) by default, PostgreSQL in production.

Services take a session and never commit; ``session_scope`` (CLI) and the API's request
dependency do, once per request, so one write is one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
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


class _WriterQueue:
    """The writers of one process, in line for SQLite's single write lock.

    SQLite's busy handler polls with growing sleeps, so under load a waiting writer can lose
    to newcomers again and again until its timeout. This process's writers therefore wait
    here first, each woken as soon as the one before it has committed and given its
    connection back; only then do they take SQLite's lock (BEGIN IMMEDIATE), which is free
    unless another program is writing, and that case the busy timeout still covers.
    """

    #: Marks a pooled connection whose transaction holds this process's turn.
    HOLDS_TURN = "civicgrid_writer_turn"

    def __init__(self, timeout_s: float) -> None:
        self._turn = threading.Lock()
        self._timeout_s = timeout_s

    def begin(self, connection: Any) -> None:
        # A reader's DEFERRED transaction reads a snapshot and never takes the write lock. A
        # writer's IMMEDIATE one takes the lock at the start, so a read never has to turn
        # into a write halfway (which SQLite may refuse outright).
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        info = connection.connection.info
        if not info.get(self.HOLDS_TURN):
            if not self._turn.acquire(timeout=self._timeout_s):
                locked = sqlite3.OperationalError("database is locked: other writers held it too long")
                raise OperationalError("BEGIN IMMEDIATE", None, locked)
            info[self.HOLDS_TURN] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._hand_on(info)
            raise

    def end(self, _dbapi_connection: Any, record: Any, *_: Any) -> None:
        """Hand the turn on once the connection is back in the pool (after its commit or
        rollback), or gone."""
        if record is not None:
            self._hand_on(record.info)

    def _hand_on(self, info: dict[str, Any]) -> None:
        if info.pop(self.HOLDS_TURN, False):
            self._turn.release()


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
        writers = _WriterQueue(busy_timeout_ms / 1000)
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
