"""The event history partitioned by month on PostgreSQL.

``case_events`` is a table partitioned by RANGE of ``at``: one partition per calendar month
(UTC), named ``case_events_YYYY_MM``, and a DEFAULT partition that takes any event whose
month has no partition yet, so that a write never fails for want of one. The app creates
the coming months ahead whenever it migrates (``init-db``, ``serve``) and in
``civicgrid maintain`` (monthly from cron); rows that fell into the default partition move
into their month's partition then. An old month is archived by detaching its partition
and dumping it (``civicgrid archive-events``): no row of the live history is rewritten or
deleted, and nothing is scanned but that month.

SQLite keeps a plain table; every function here does nothing there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

PARENT = "case_events"
DEFAULT_PARTITION = "case_events_default"
#: Months created ahead of the current one (a server restarted or ``maintain`` run at least
#: this often never writes into the default partition).
MONTHS_AHEAD = 3
#: ``pg_advisory_xact_lock`` key that lines up the processes creating partitions.
LOCK_KEY = 0x63677061  # "cgpa"
MONTHLY = re.compile(r"^case_events_(\d{4})_(\d{2})$")

#: Where the schema on PostgreSQL differs from the models on purpose: a partitioned table's
#: unique constraints must include the partition key, so ``(case_id, seq)`` cannot be unique
#: across months (the case's row lock and version keep ``seq`` unique: each event is written
#: with one UPDATE of its case), and ``case_events.id`` alone cannot be referenced by a
#: foreign key (tasks and attachments keep the event's id; an archived month can go
#: without leaving them pointing at nothing the database would check).
POSTGRESQL_ONLY_IN_MODELS = frozenset(
    {
        "uq_case_events_case_id",
        "fk_attachments_event_id_case_events",
        "fk_case_tasks_event_id_case_events",
    }
)


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s month in UTC."""
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month`` (before, if negative)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    """The partition that holds ``month``'s events: ``case_events_2026_11``."""
    return f"{PARENT}_{month:%Y_%m}"


def parse_month(value: str) -> date:
    """``YYYY-MM`` → its first day; ValueError with the reason otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{value!r} is not a month: write YYYY-MM, e.g. 2025-01")
    return date(int(match.group(1)), int(match.group(2)), 1)


def is_partitioned(connection: Connection) -> bool:
    """Whether ``case_events`` is the partitioned table (PostgreSQL from revision 0012)."""
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:name)"), {"name": PARENT}
    ).scalar()
    return kind == "p"


def monthly_partitions(connection: Connection) -> list[date]:
    """The months that have a partition attached to ``case_events``, oldest first."""
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:name)"
        ),
        {"name": PARENT},
    ).scalars()
    months = []
    for name in names:
        match = MONTHLY.match(name)
        if match:
            months.append(date(int(match.group(1)), int(match.group(2)), 1))
    return sorted(months)


def _bound(month: date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def _guard_truncate(connection: Connection, table: str) -> None:
    # Row triggers of the parent reach every partition, its TRUNCATE trigger does not: a
    # partition truncated by name would lose a month of history without it.
    connection.exec_driver_sql(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only()"
    )


def create_partition(connection: Connection, month: date) -> None:
    """Attach a new, empty partition for ``month`` (its TRUNCATE guarded like the parent)."""
    name = partition_name(month)
    connection.exec_driver_sql(
        f"CREATE TABLE {name} PARTITION OF {PARENT} "
        f"FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(add_months(month, 1))}')"
    )
    _guard_truncate(connection, name)


def create_default_partition(connection: Connection) -> None:
    """Attach the DEFAULT partition, which takes events of months without a partition."""
    connection.exec_driver_sql(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT")
    _guard_truncate(connection, DEFAULT_PARTITION)


@dataclass(frozen=True)
class Maintenance:
    """What ``ensure_partitions`` did: the partitions it created, the events it moved out of
    the default partition."""

    created: list[str]
    moved: int


def ensure_partitions(
    connection: Connection, now: datetime, months_ahead: int = MONTHS_AHEAD, since: date | None = None
) -> Maintenance:
    """Create the partitions of ``now``'s month and ``months_ahead`` months after it (and of
    every month from ``since``, to bring archived months back), and move events that fell
    into the default partition into partitions of their own months.

    Cheap when there is nothing to do (one catalogue query and one probe of the default
    partition); safe to run from several processes at once (they take turns).
    """
    if not is_partitioned(connection):
        return Maintenance([], 0)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    existing = set(monthly_partitions(connection))
    current = month_of(now)
    wanted = {add_months(current, ahead) for ahead in range(months_ahead + 1)}
    month = since
    while month is not None and month < current:
        wanted.add(month)
        month = add_months(month, 1)
    stray: set[date] = set()
    if connection.execute(text(f"SELECT EXISTS (SELECT FROM {DEFAULT_PARTITION})")).scalar():
        stray = {
            month_of(moment)
            for moment in connection.execute(
                text(f"SELECT DISTINCT date_trunc('month', at, 'UTC') FROM {DEFAULT_PARTITION}")
            ).scalars()
        }
    missing = sorted((wanted | stray) - existing)
    moved = 0
    if stray:
        # A partition cannot be created while the default one holds rows of its range. The
        # default is detached, the months created, and its rows copied back through the
        # parent (same ids) before the old default is dropped: one transaction, no row of
        # the history updated or deleted.
        connection.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT_PARTITION}")
        connection.exec_driver_sql(f"ALTER TABLE {DEFAULT_PARTITION} RENAME TO {DEFAULT_PARTITION}_moving")
    for month in missing:
        create_partition(connection, month)
    if stray:
        create_default_partition(connection)
        moved = connection.exec_driver_sql(
            f"INSERT INTO {PARENT} SELECT * FROM {DEFAULT_PARTITION}_moving"
        ).rowcount
        connection.exec_driver_sql(f"DROP TABLE {DEFAULT_PARTITION}_moving")
    return Maintenance([partition_name(month) for month in missing], moved)


def maintain(engine: Engine, now: datetime | None = None, since: date | None = None) -> Maintenance:
    """``ensure_partitions`` in a transaction of its own (start-up, ``civicgrid maintain``);
    on SQLite nothing, not even a transaction (which would take the write lock)."""
    if engine.dialect.name != "postgresql":
        return Maintenance([], 0)
    with engine.begin() as connection:
        return ensure_partitions(connection, now or datetime.now(UTC), since=since)


def include_object(item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's filter on PostgreSQL: the partitions are not tables of the models, and the
    constraints partitioning rules out (``POSTGRESQL_ONLY_IN_MODELS``) are not missing."""
    if type_ == "table" and reflected and name is not None and name.startswith(f"{PARENT}_"):
        return compare_to is not None
    return not (name in POSTGRESQL_ONLY_IN_MODELS and not reflected)
