"""The database itself keeps the history: no DELETE or TRUNCATE removes a case or its
events, on either backend, whatever program connects; SQLite enforces foreign keys on every
connection civicgrid opens, Alembic's included."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from civicgrid.services.cases import CentreRules
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import alembic_config, upgrade
from civicgrid.store.models import Case, CaseEvent
from tests.factories import World, build_world, new_case

PG_TRIGGERS = {
    "case_events_append_only",
    "case_events_no_truncate",
    "cases_no_delete",
    "cases_no_truncate",
}


def test_deleting_a_case_is_refused_with_a_clear_message(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now)
    session.commit()
    for statement in (f"DELETE FROM cases WHERE id = {case.id}", "DELETE FROM cases"):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="cases are never deleted: void the case instead"):
            session.execute(text(statement))
        nested.rollback()
    session.expire_all()
    assert session.get(Case, case.id) is not None
    assert [e.case_id for e in session.query(CaseEvent).filter_by(case_id=case.id)] == [case.id]


@pytest.mark.parametrize(
    "statement, message",
    [
        ("TRUNCATE case_events CASCADE", "case_events is append-only"),
        ("TRUNCATE case_events, case_tasks, attachments", "case_events is append-only"),
        ("TRUNCATE cases CASCADE", "cases are never deleted"),
        (
            "TRUNCATE cases, case_events, case_tasks, attachments, case_overlay_grids, partner_orders, "
            "notifications",
            "cases are never deleted",
        ),
    ],
)
def test_postgresql_refuses_to_truncate_the_history(
    postgresql_engine: Engine, statement: str, message: str
) -> None:
    with postgresql_engine.connect() as connection:
        outer = connection.begin()
        with pytest.raises(DBAPIError, match=message):
            connection.execute(text(statement))
        outer.rollback()


def _database_with_a_case(path: Path, rules: CentreRules, now: datetime) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        new_case(session, build_world(session), rules, now)
    engine.dispose()


def test_no_program_can_orphan_events_by_deleting_their_case_on_sqlite(
    tmp_path: Path, rules: CentreRules, now: datetime
) -> None:
    path = tmp_path / "centre.db"
    _database_with_a_case(path, rules, now)
    # Any other program (the sqlite3 shell, a script) connects with foreign keys off.
    other = sqlite3.connect(path)
    assert other.execute("PRAGMA foreign_keys").fetchone() == (0,)
    with pytest.raises(sqlite3.IntegrityError, match="cases are never deleted"):
        other.execute("DELETE FROM cases")
    assert other.execute("SELECT count(*) FROM cases").fetchone() == (1,)
    assert other.execute("SELECT count(*) FROM case_events").fetchone() == (1,)
    assert other.execute("PRAGMA foreign_key_check").fetchall() == []
    other.close()


def test_foreign_keys_are_on_for_every_sqlite_connection_alembic_included(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    states: list[int] = []

    def record(connection: Any, *_: Any) -> None:
        if connection.dialect.name == "sqlite":
            cursor = connection.connection.dbapi_connection.cursor()
            states.append(cursor.execute("PRAGMA foreign_keys").fetchone()[0])
            cursor.close()  # an open statement would keep a read lock

    event.listen(Engine, "before_cursor_execute", record)
    try:
        engine = make_engine(url)
        # Alembic on a connection handed over (init-db, serve) ...
        upgrade(engine, "0002")
        migrated_on_a_connection = len(states)
        # ... and on an engine of its own, from a URL (the alembic command line).
        config = alembic_config()
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        # Several pooled connections at once.
        pooled = [engine.raw_connection() for _ in range(3)]
        for connection in pooled:
            states.append(connection.execute("PRAGMA foreign_keys").fetchone()[0])
            connection.close()
        engine.dispose()
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert 0 < migrated_on_a_connection < len(states) - len(pooled)
    assert set(states) == {1}


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        return set(connection.execute(text(query)).scalars())


def test_the_guards_migration_goes_down_and_up_again(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    guards = {"cases_no_delete"} if empty_engine.dialect.name == "sqlite" else PG_TRIGGERS
    assert guards <= _triggers(empty_engine)
    config = alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    left = _triggers(empty_engine)
    assert not {"cases_no_delete", "cases_no_truncate", "case_events_no_truncate"} & left
    assert left  # 0002's triggers stay
    upgrade(empty_engine)
    assert guards <= _triggers(empty_engine)
