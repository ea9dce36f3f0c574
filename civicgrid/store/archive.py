"""Archiving old months of the case history on PostgreSQL.

A month's events live in their own partition (``civicgrid.store.partitions``), so taking a
month out of the live database costs no scan and rewrites no row: the partition is dumped
with ``pg_dump -Fc``, then detached and dropped in one short transaction. ``pg_restore``
of the dump into the database attaches it again. A month is archived only when every case
with an event in it is finished (archived, voided or merged), so no open case loses a step
of its timeline; the cases themselves stay, with their later events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, text

from civicgrid.domain.vocabulary import CaseState
from civicgrid.store.backup import BackupError, dump_postgresql
from civicgrid.store.partitions import PARENT, month_of, monthly_partitions, partition_name

#: A case in one of these states takes no further step: its events may leave the live store.
FINISHED = (CaseState.ARCHIVED, CaseState.VOIDED, CaseState.MERGED)


@dataclass(frozen=True)
class ArchivedMonth:
    """A month taken out of the live history: how many events, and the dump that holds them."""

    month: date
    events: int
    dump: Path


def _unfinished_cases(connection: Connection, partition: str) -> int:
    return int(
        connection.execute(
            text(
                f"SELECT count(DISTINCT c.id) FROM {partition} e JOIN cases c ON c.id = e.case_id "
                "WHERE c.state NOT IN :finished"
            ).bindparams(bindparam("finished", [state.value for state in FINISHED], expanding=True)),
        ).scalar_one()
    )


def _events(connection: Connection, partition: str) -> int:
    return int(connection.execute(text(f"SELECT count(*) FROM {partition}")).scalar_one())


def archive_months(
    engine: Engine, before: date, folder: Path, now: datetime | None = None
) -> list[ArchivedMonth]:
    """Dump, detach and drop the partition of every month before ``before``, oldest first;
    stop with BackupError at the first month that cannot go (nothing of it changed)."""
    if engine.dialect.name != "postgresql":
        raise BackupError("archive-events works on PostgreSQL, whose history is partitioned by month")
    current = month_of(now or datetime.now(UTC))
    if before > current:
        raise BackupError(f"only past months can be archived: --before may be {current:%Y-%m} at the latest")
    with engine.connect() as connection:
        months = [month for month in monthly_partitions(connection) if month < before]
    archived = []
    for month in months:
        name = partition_name(month)
        dump = folder / f"{name}.dump"
        with engine.connect() as connection:
            unfinished = _unfinished_cases(connection, name)
            if unfinished:
                raise BackupError(
                    f"{month:%Y-%m}: {unfinished} cases with events in this month are not finished "
                    "(archived, voided or merged); it stays in the live history"
                )
            events = _events(connection, name)
        # Events are written at the time they happen, so a past month gets no new rows
        # between the dump and the drop; the count is checked again under the lock anyway.
        dump_postgresql(engine.url.render_as_string(hide_password=False), dump, tables=[name])
        with engine.begin() as connection:
            connection.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
            if _events(connection, name) != events:
                raise BackupError(f"{month:%Y-%m}: events were written while it was dumped; run it again")
            connection.exec_driver_sql(f"DROP TABLE {name}")
        archived.append(ArchivedMonth(month, events, dump))
    return archived
