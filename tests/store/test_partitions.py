"""The case history by month on PostgreSQL: the migration converts a store with events in
several months and goes back, months are created ahead, an event of a month without a
partition is kept (default partition) and moved later, old months are archived whole, and
the append-only guards hold on every partition. SQLite keeps its plain table."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.domain.vocabulary import Action
from civicgrid.schemas import AttachmentIn, TransitionRequest
from civicgrid.services import attachments as attachment_service
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import get_settings
from civicgrid.store.archive import archive_months
from civicgrid.store.backup import BackupError
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.migrate import alembic_config, upgrade
from civicgrid.store.models import Case, User
from civicgrid.store.partitions import (
    DEFAULT_PARTITION,
    MONTHS_AHEAD,
    add_months,
    ensure_partitions,
    maintain,
    month_of,
    monthly_partitions,
    parse_month,
    partition_name,
)
from tests.conftest import SHANGHAI
from tests.factories import World, build_world, new_case
from tests.store.test_case_service import LOOP, walk

postgresql_only = pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
runner = CliRunner()


def history(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("SELECT id, case_id, seq, action, to_state, at, note FROM case_events ORDER BY id")
            )
        ]


def where_events_are(engine: Engine) -> dict[str, int]:
    """Events per partition."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM case_events GROUP BY 1")
        )
        return {name: count for name, count in rows}


def table_kind(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(text("SELECT relkind FROM pg_class WHERE relname = 'case_events'")).scalar()
        )


def stored_world(session: Session) -> World:
    """The users of a world committed earlier, in ``session``."""
    return World(users={user.username: user for user in session.scalars(select(User))})


def cases_at(
    engine: Engine, rules: CentreRules, moments: Sequence[datetime], *, steps: int = len(LOOP)
) -> World:
    """One case registered at each of ``moments`` and taken ``steps`` steps of the loop."""
    with session_scope(make_session_factory(engine)) as session:
        world = build_world(session)
        for moment in moments:
            case = walk(session, world, rules, new_case(session, world, rules, moment), LOOP[:steps], moment)
            attachment_service.add_link(
                session, world.users["operator"], case.number, AttachmentIn(**PHOTO, event_seq=1), moment
            )
    return world


#: The revision before case events were partitioned.
PARTITIONS_REVISION_BEFORE = "0011"

PHOTO = {
    "filename": "井盖.jpg",
    "content_type": "image/jpeg",
    "size_bytes": 1024,
    "sha256": "a" * 64,
    "uri": "https://files.example/井盖.jpg",
}

#: Three months with events (and one between them without).
MONTHS = [
    datetime(2025, 11, 20, 10, tzinfo=SHANGHAI),
    datetime(2026, 1, 5, 10, tzinfo=SHANGHAI),
    datetime(2026, 2, 26, 15, tzinfo=SHANGHAI),
]


def refused(engine: Engine, statement: str) -> None:
    with engine.connect() as connection, pytest.raises(DBAPIError, match="case_events is append-only"):
        connection.execute(text(statement))


def test_the_migration_partitions_a_store_with_history_and_goes_back(
    empty_engine: Engine, rules: CentreRules
) -> None:
    upgrade(empty_engine)
    cases_at(empty_engine, rules, MONTHS)
    before = history(empty_engine)
    assert len(before) == 3 * (len(LOOP) + 1)

    # Down to the revision before the partitions: a plain table with its keys, the history whole.
    config = alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, PARTITIONS_REVISION_BEFORE)
    assert history(empty_engine) == before
    if empty_engine.dialect.name == "sqlite":
        upgrade(empty_engine)
        assert history(empty_engine) == before
        assert maintain(empty_engine).created == []  # a plain table: nothing to do
        return
    assert table_kind(empty_engine) == "r"
    inspector = inspect(empty_engine)
    assert {"fk_attachments_event_id_case_events"} <= {
        fk["name"] for fk in inspector.get_foreign_keys("attachments")
    }
    assert {"fk_case_tasks_event_id_case_events"} <= {
        fk["name"] for fk in inspector.get_foreign_keys("case_tasks")
    }
    assert inspector.get_pk_constraint("case_events")["constrained_columns"] == ["id"]
    assert [u["column_names"] for u in inspector.get_unique_constraints("case_events")] == [
        ["case_id", "seq"]
    ]
    refused(empty_engine, "TRUNCATE case_events CASCADE")
    refused(empty_engine, "DELETE FROM case_events")
    assert not {name for name in inspector.get_table_names() if name.startswith("case_events_")}

    # And up again: a partition per month, the rows in their months.
    upgrade(empty_engine)
    assert history(empty_engine) == before
    assert table_kind(empty_engine) == "p"
    per_month = len(LOOP) + 1
    assert where_events_are(empty_engine) == {
        "case_events_2025_11": per_month,
        "case_events_2026_01": per_month,
        "case_events_2026_02": per_month,
    }
    with empty_engine.connect() as connection:
        months = monthly_partitions(connection)
    current = month_of(datetime.now(UTC))
    assert months[0] == date(2025, 11, 1) and months[-1] == add_months(current, MONTHS_AHEAD)
    assert len(months) == len(set(months)) == (months[-1].year - 2025) * 12 + months[-1].month - 11 + 1

    # The id sequence carries on, and a new event lands in its month's partition.
    with session_scope(make_session_factory(empty_engine)) as session:
        new_case(session, stored_world(session), rules, datetime.now(UTC))
    newest = history(empty_engine)[-1]
    assert newest[0] > before[-1][0]
    assert where_events_are(empty_engine)[partition_name(current)] == 1

    # The guards hold on the parent and on each partition by name.
    for table in ("case_events", "case_events_2026_01"):
        refused(empty_engine, f"UPDATE {table} SET note = 'x'")
        refused(empty_engine, f"DELETE FROM {table}")
    for table in ("case_events", "case_events_2026_01", "case_events_2025_12", DEFAULT_PARTITION):
        refused(empty_engine, f"TRUNCATE {table}")


@postgresql_only
def test_an_event_of_a_month_without_partition_is_kept_and_moved_later(
    empty_engine: Engine, rules: CentreRules
) -> None:
    upgrade(empty_engine)
    now = datetime.now(UTC)
    past, future = now - timedelta(days=800), now + timedelta(days=200)
    cases_at(empty_engine, rules, [past, future], steps=2)
    assert where_events_are(empty_engine) == {DEFAULT_PARTITION: 6}
    before = history(empty_engine)

    done = maintain(empty_engine, now)
    assert sorted(done.created) == sorted({partition_name(month_of(past)), partition_name(month_of(future))})
    assert done.moved == 6
    assert history(empty_engine) == before
    assert where_events_are(empty_engine) == {
        partition_name(month_of(past)): 3,
        partition_name(month_of(future)): 3,
    }
    refused(empty_engine, f"TRUNCATE {partition_name(month_of(past))}")
    refused(empty_engine, f"TRUNCATE {DEFAULT_PARTITION}")

    # Later months are created as time goes on; nothing to do twice.
    later = maintain(empty_engine, now + timedelta(days=62))
    assert later.moved == 0 and len(later.created) <= 2
    assert maintain(empty_engine, now + timedelta(days=62)).created == []


@postgresql_only
def test_old_months_are_archived_whole_and_come_back_with_pg_restore(
    empty_engine: Engine, rules: CentreRules, tmp_path: Path
) -> None:
    upgrade(empty_engine)
    january, february = datetime(2025, 1, 10, 10, tzinfo=UTC), datetime(2025, 2, 10, 10, tzinfo=UTC)
    cases_at(empty_engine, rules, [january])  # taken to 归档
    with session_scope(make_session_factory(empty_engine)) as session:
        new_case(session, stored_world(session), rules, february)
    maintain(empty_engine)
    everything = history(empty_engine)

    archived = archive_months(empty_engine, date(2025, 2, 1), tmp_path)
    assert [(item.month, item.events) for item in archived] == [(date(2025, 1, 1), len(LOOP) + 1)]
    dump = tmp_path / "case_events_2025_01.dump"
    assert archived[0].dump == dump and dump.read_bytes()[:5] == b"PGDMP"
    with empty_engine.connect() as connection:
        assert date(2025, 1, 1) not in monthly_partitions(connection)
        assert connection.execute(text("SELECT count(*) FROM cases")).scalar() == 2
    assert history(empty_engine) == everything[len(LOOP) + 1 :]

    # February holds an open case: refused, and nothing of it changes.
    with pytest.raises(BackupError, match="2025-02: 1 cases with events in this month are not finished"):
        archive_months(empty_engine, date(2025, 3, 1), tmp_path)
    assert history(empty_engine) == everything[len(LOOP) + 1 :]
    assert archive_months(empty_engine, date(2025, 1, 1), tmp_path) == []
    with pytest.raises(BackupError, match="only past months can be archived: --before may be 2025-03 at"):
        archive_months(empty_engine, date(2025, 4, 1), tmp_path, now=datetime(2025, 3, 31, tzinfo=UTC))

    # The month comes back: its partition created again, then its rows from the dump.
    assert "case_events_2025_01" in maintain(empty_engine, since=date(2025, 1, 1)).created
    url = empty_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--data-only", f"--dbname={url}", str(dump)], check=True)
    assert history(empty_engine) == everything
    refused(empty_engine, "TRUNCATE case_events_2025_01")


def test_archiving_is_refused_on_sqlite(fresh_engine: Engine, tmp_path: Path) -> None:
    if fresh_engine.dialect.name == "sqlite":
        with pytest.raises(BackupError, match="archive-events works on PostgreSQL"):
            archive_months(fresh_engine, date(2025, 1, 1), tmp_path)
    else:
        assert archive_months(fresh_engine, date(2000, 1, 1), tmp_path) == []


@pytest.mark.parametrize("value", ["2025-13", "2025-1", "January", ""])
def test_a_month_is_written_yyyy_mm(value: str) -> None:
    with pytest.raises(ValueError, match="is not a month: write YYYY-MM"):
        parse_month(value)
    assert parse_month("2025-01") == date(2025, 1, 1)


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def set_url(url: str) -> None:
        monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
        get_settings.cache_clear()

    yield set_url
    get_settings.cache_clear()


def test_maintain_and_archive_events_on_the_command_line(
    empty_engine: Engine,
    tmp_path: Path,
    use,  # type: ignore[no-untyped-def]
) -> None:
    use(empty_engine.url.render_as_string(hide_password=False))
    result = runner.invoke(app, ["maintain"])
    assert result.exit_code == 0, result.output
    assert "planner statistics refreshed" in result.stdout
    archive = runner.invoke(app, ["archive-events", "--before", "2024-06", "--to", str(tmp_path)])
    bad = runner.invoke(app, ["archive-events", "--before", "2024-6", "--to", str(tmp_path)])
    assert bad.exit_code == 1 and "error: --before: '2024-6' is not a month" in bad.stderr
    if empty_engine.dialect.name == "sqlite":
        assert "history partitions" not in result.stdout
        assert archive.exit_code == 1 and "archive-events works on PostgreSQL" in archive.stderr
        return
    assert "history partitions created: none" in result.stdout  # the migration made them
    assert archive.exit_code == 0 and "no month before 2024-06 left to archive" in archive.stdout
    with empty_engine.begin() as connection:
        ensure_partitions(connection, datetime(2024, 3, 1, tzinfo=UTC), months_ahead=0)
    archive = runner.invoke(app, ["archive-events", "--before", "2024-06", "--to", str(tmp_path)])
    assert archive.exit_code == 0, archive.output
    assert f"2024-03: 0 events archived to {tmp_path / 'case_events_2024_03.dump'}" in archive.stdout


def test_a_case_of_a_month_without_partition_takes_its_next_step_in_this_month(
    empty_engine: Engine, rules: CentreRules
) -> None:
    """Its first events wait in the default partition; the next one goes to this month's."""
    upgrade(empty_engine)
    start = datetime.now(UTC) - timedelta(days=40)
    cases_at(empty_engine, rules, [start], steps=1)
    with session_scope(make_session_factory(empty_engine)) as session:
        case = session.scalars(select(Case)).one()
        case_service.transition(
            session, stored_world(session).users["operator"], case.number, Action.REGISTER,
            TransitionRequest(), rules, datetime.now(UTC),
        )  # fmt: skip
    assert [row[2] for row in history(empty_engine)] == [1, 2, 3]
    if empty_engine.dialect.name == "postgresql":
        current = partition_name(month_of(datetime.now(UTC)))
        assert where_events_are(empty_engine) == {DEFAULT_PARTITION: 2, current: 1}
