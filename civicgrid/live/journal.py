"""The live journal: changes are recorded during a transaction and written to
``live_changes`` as it commits, in the same transaction; nothing is published for a write
that is rolled back.

- During the transaction, services only note what changed (``record_case``, ``record``);
  no statement runs.
- Just before the commit (``before_commit``), the notes become rows: one INSERT … SELECT
  for the changed cases (their codes, place, scope and clock copied as committed), one INSERT
  for alerts and the like. On PostgreSQL the same transaction then calls ``pg_notify`` with
  each row as JSON: PostgreSQL delivers a notification only if, and when, the transaction
  commits, to every listening process (``civicgrid.live.feed``).
- After the commit, this process's journal readers are woken (SQLite, which has no NOTIFY).

Ids follow the commit order, so a reader that has seen id N has seen every change up to N and
a reconnecting client's Last-Event-ID is a complete cursor. SQLite has one writer at a time,
so its ids do so by themselves; on PostgreSQL each writing transaction takes a transaction
advisory lock right before its journal INSERT, so ids are taken and committed one
transaction after another (only that last step is serialised; NOTIFY serialises commits
that notify anyway).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, String, bindparam, cast, delete, event, func, insert, literal, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import aggregate_strings

from civicgrid.live.changes import CASE, Change
from civicgrid.store.models import Case, CaseTask, Category, Department, Grid, LiveChange, Region
from civicgrid.store.types import UTCDateTime

#: The NOTIFY channel on PostgreSQL.
CHANNEL = "civicgrid_live"
#: The transaction advisory lock that orders journal ids by commit ("jour" in ASCII).
ORDER_LOCK_KEY = 0x6A6F7572

_CASES = "civicgrid.live.cases"
_ROWS = "civicgrid.live.rows"
_WROTE = "civicgrid.live.wrote"

#: Events set after each commit that wrote the journal: this process's SQLite readers.
_wakeups: set[threading.Event] = set()
_wakeups_guard = threading.Lock()


T = TypeVar("T")


def chunks(items: list[T], size: int) -> list[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def record_case(session: Session, case: Case, now: datetime) -> None:
    """Note that ``case`` was created or changed at ``now``: its journal entry is written as
    the transaction commits (once per case and transaction, with the case as committed)."""
    _note(session, ("object", id(case)), case, now)


def record_case_ids(session: Session, ids: Iterable[int], now: datetime) -> None:
    """``record_case`` for stored cases known by id (the minute job's)."""
    for ident in ids:
        _note(session, ("id", ident), ident, now)


def _note(session: Session, key: tuple[str, int], case: Case | int, now: datetime) -> None:
    pending: dict[tuple[str, int], tuple[Case | int, datetime]] = session.info.setdefault(_CASES, {})
    known = pending.get(key)
    pending[key] = (case, max(now, known[1]) if known else now)


def record(session: Session, kind: str, user_id: int, now: datetime, data: dict[str, Any]) -> None:
    """Note a journal entry for one user (an alert, an unread count, a sign-out), written as
    the transaction commits."""
    session.info.setdefault(_ROWS, []).append({"kind": kind, "user_id": user_id, "at": now, "data": data})


def _department_ids() -> Any:
    """ ",3,7,": the case's department, then its joint-handling departments."""
    tasks = (
        select(aggregate_strings(cast(CaseTask.department_id, String), ","))
        .where(CaseTask.case_id == Case.id)
        .correlate(Case)
        .scalar_subquery()
    )
    return (
        literal(",")
        + func.coalesce(cast(Case.department_id, String) + ",", "")
        + func.coalesce(tasks + ",", "")
    )


#: The columns a case entry copies, in the order of ``_case_rows``'s SELECT.
_CASE_COLUMNS = [
    "kind", "at", "case_id", "number", "state", "lng", "lat", "region_code", "region_path",
    "grid_code", "category_code", "department_code", "department_ids", "reporter_user_id",
    "warning_at", "deadline_at",
]  # fmt: skip


@cache
def _case_rows(returning: bool) -> Any:
    """INSERT … SELECT: the journal entries of the cases ``:ids`` as they stand, at ``:at``
    (with the new entries' ids if ``returning``). Built once: every write runs it."""
    rows = (
        select(
            literal(CASE),
            bindparam("at", type_=UTCDateTime()),
            Case.id,
            Case.number,
            Case.state,
            Case.lng,
            Case.lat,
            Region.code,
            Region.path,
            Grid.code,
            Category.code,
            Department.code,
            _department_ids(),
            Case.reporter_user_id,
            Case.warning_at,
            Case.deadline_at,
        )
        .join(Region, Region.id == Case.region_id)
        .join(Category, Category.id == Case.category_id)
        .outerjoin(Grid, Grid.id == Case.grid_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(Case.id.in_(bindparam("ids", expanding=True)))
        .order_by(Case.id)
    )
    statement = insert(LiveChange).from_select(_CASE_COLUMNS, rows)
    return statement.returning(LiveChange.id) if returning else statement


#: PostgreSQL: one notification per new entry, in id order (the subquery sorts before the
#: calls; OFFSET 0 keeps the planner from merging it away).
_NOTIFY = text(
    "SELECT pg_notify(:channel, row_to_json(entry)::text) FROM "
    "(SELECT * FROM live_changes WHERE id = ANY(:ids) ORDER BY id OFFSET 0) AS entry"
)


@event.listens_for(Session, "before_commit")
def _write_journal(session: Session) -> None:
    cases: dict[tuple[str, int], tuple[Case | int, datetime]] = session.info.pop(_CASES, {})
    rows: list[dict[str, Any]] = session.info.pop(_ROWS, [])
    if not cases and not rows:
        return
    session.flush()  # the cases' last changes are written before they are copied
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        connection.execute(select(func.pg_advisory_xact_lock(ORDER_LOCK_KEY)))
    written: list[int] = []
    if cases:
        ids = sorted({case if isinstance(case, int) else case.id for case, _ in cases.values()})
        at = max(moment for _, moment in cases.values())
        for chunk in chunks(ids, 5000):
            found = connection.execute(_case_rows(postgresql), {"ids": chunk, "at": at})
            if postgresql:
                written += found.scalars().all()
    if rows:
        table = LiveChange.__table__
        if postgresql:
            written += connection.execute(insert(table).returning(table.c.id), rows).scalars().all()
        else:
            connection.execute(insert(table), rows)
    if postgresql and written:
        connection.execute(_NOTIFY, {"channel": CHANNEL, "ids": written})
    session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _wake_readers(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        with _wakeups_guard:
            readers = list(_wakeups)
        for reader in readers:
            reader.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for key in (_CASES, _ROWS, _WROTE):
        session.info.pop(key, None)


def wake_on_commit(reader: threading.Event) -> None:
    """Set ``reader`` after every commit in this process that wrote the journal."""
    with _wakeups_guard:
        _wakeups.add(reader)


def stop_waking(reader: threading.Event) -> None:
    """Undo ``wake_on_commit``."""
    with _wakeups_guard:
        _wakeups.discard(reader)


# --- reading -----------------------------------------------------------------------------


def read_after(
    connection: Connection | Session, after: int, limit: int, upto: int | None = None
) -> list[Change]:
    """The entries after id ``after`` (up to ``upto``), oldest first, at most ``limit``."""
    table = LiveChange.__table__
    query = select(table).where(table.c.id > after).order_by(table.c.id).limit(limit)
    if upto is not None:
        query = query.where(table.c.id <= upto)
    found = connection.execute(query)
    return [Change.from_row(row) for row in found.mappings()]


def read_all_after(connection: Connection, after: int, batch: int = 1000) -> Iterator[list[Change]]:
    """Every entry after id ``after``, in batches, oldest first."""
    while True:
        changes = read_after(connection, after, batch)
        if changes:
            yield changes
            after = changes[-1].id
        if len(changes) < batch:
            return


def bounds(connection: Connection | Session) -> tuple[int | None, int | None]:
    """The oldest and newest ids in the journal (None, None when it is empty)."""
    low, high = connection.execute(select(func.min(LiveChange.id), func.max(LiveChange.id))).one()
    return low, high


def prune(session: Session, before: datetime) -> int:
    """Delete the entries older than ``before``; how many. A client away longer than that
    is told to reload (``reset``)."""
    result = session.execute(
        delete(LiveChange).where(LiveChange.at < before), execution_options={"synchronize_session": False}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DELETE gives a CursorResult
