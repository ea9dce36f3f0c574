"""Read replicas on PostgreSQL: reads go to a streaming replica when it is up and close
enough behind the primary; writes, and reads that the replica could answer wrongly, go to
the primary.

A read session asks each replica in turn (round robin) how far it has replayed the
primary's write-ahead log (WAL). A replica is used only if it is not behind by more than
``max_lag_seconds`` and has replayed at least ``min_lsn``: the primary's WAL position just
after the reader's own last write (read-your-writes). A replica that cannot be reached is
skipped for ``retry_after_seconds``. When no replica fits, the primary answers.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.store.db import make_session_factory

#: A WAL position as PostgreSQL prints it (``pg_lsn``): two hexadecimal halves.
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")

#: Seconds a replica's connection attempt may take before it counts as down.
CONNECT_TIMEOUT_SECONDS = 2

#: How far the replica has replayed, and how old what it has not yet replayed is: 0 when it
#: has replayed all it received (an idle primary does not make it look behind).
_PROBE = text(
    "SELECT pg_last_wal_replay_lsn()::text, "
    "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 'Infinity') END"
)


def parse_lsn(value: str | None) -> int | None:
    """``value`` (e.g. ``'0/3000060'``) as a number that orders like the WAL, or None."""
    match = _LSN.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    return (int(match[1], 16) << 32) | int(match[2], 16)


def format_lsn(lsn: int) -> str:
    """``lsn`` as PostgreSQL prints it."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def current_lsn(primary: Engine) -> int:
    """The primary's WAL position now: once a replica has replayed this far, it shows every
    transaction committed before."""
    with primary.connect() as connection:
        value = connection.scalar(text("SELECT pg_current_wal_lsn()::text"))
    lsn = parse_lsn(value)
    assert lsn is not None, value
    return lsn


class LastWrites:
    """The primary's WAL position after each client's last write, by a key naming the client
    (its token), in this process; the oldest are forgotten beyond ``capacity``."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._lsns: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def note(self, key: str, lsn: int) -> None:
        """Remember that ``key`` wrote up to ``lsn``."""
        with self._lock:
            self._lsns[key] = max(lsn, self._lsns.pop(key, 0))
            while len(self._lsns) > self._capacity:
                self._lsns.popitem(last=False)

    def get(self, key: str) -> int:
        """The position ``key`` last wrote up to, or 0."""
        with self._lock:
            return self._lsns.get(key, 0)


@dataclass
class _Replica:
    """One replica: its engine, read-only sessions on it, and until when it counts as down."""

    engine: Engine
    sessions: sessionmaker[Session]
    down_until: float = 0.0


class ReplicaRouter:
    """Chooses where a read session runs: a fitting replica, else the primary."""

    def __init__(
        self,
        primary: Engine,
        replica_urls: list[str],
        *,
        max_lag_seconds: float = 5.0,
        retry_after_seconds: float = 10.0,
    ) -> None:
        self.primary = primary
        self.primary_reads = make_session_factory(primary, read_only=True)
        self.replicas = [_replica(url) for url in replica_urls]
        self.max_lag_seconds = max_lag_seconds
        self.retry_after_seconds = retry_after_seconds
        self.last_writes = LastWrites()
        self._turn = itertools.count()

    def read_session(self, min_lsn: int = 0) -> Session:
        """A read-only session on the next replica (round robin) that is up, at most
        ``max_lag_seconds`` behind and has replayed ``min_lsn``; else on the primary."""
        start = next(self._turn)
        count = len(self.replicas)
        for offset in range(count):
            replica = self.replicas[(start + offset) % count]
            if replica.down_until > time.monotonic():
                continue
            session = replica.sessions()
            try:
                row = session.execute(_PROBE).one()
            except DBAPIError:
                session.close()
                # Unreachable or failing: leave it alone for a while, do not fail the request.
                replica.down_until = time.monotonic() + self.retry_after_seconds
                continue
            replayed = parse_lsn(row[0])
            if replayed is not None and replayed >= min_lsn and float(row[1]) <= self.max_lag_seconds:
                return session
            session.close()
        return self.primary_reads()

    def dispose(self) -> None:
        """Close the replicas' pooled connections."""
        for replica in self.replicas:
            replica.engine.dispose()


def _replica(url: str) -> _Replica:
    engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    return _Replica(engine=engine, sessions=make_session_factory(engine, read_only=True))
