"""Planner statistics are written at start-up and after bulk loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from civicgrid.store import maintenance
from civicgrid.store.db import make_engine
from civicgrid.store.maintenance import optimize
from civicgrid.store.migrate import upgrade


@pytest.fixture
def fresh(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    return engine


def _statements_of_optimize(engine: Engine, *, after_bulk_load: bool) -> list[str]:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        optimize(engine, after_bulk_load=after_bulk_load)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


@pytest.mark.parametrize("after_bulk_load", [True, False])
def test_sqlite_statistics_are_written(
    fresh: Engine, monkeypatch: pytest.MonkeyPatch, after_bulk_load: bool
) -> None:
    # Start-up on a SQLite older than 3.46 analyses outright; a bulk load does on any.
    monkeypatch.setattr(maintenance.sqlite3, "sqlite_version_info", (3, 40, 1))
    optimize(fresh, after_bulk_load=after_bulk_load)
    with fresh.connect() as connection:
        # ANALYZE creates the statistics table (an empty table gets no rows in it).
        assert connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")) == 1
    fresh.dispose()


def test_a_recent_sqlite_optimizes_at_start_up(fresh: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintenance.sqlite3, "sqlite_version_info", (3, 46, 0))
    statements = _statements_of_optimize(fresh, after_bulk_load=False)
    assert "PRAGMA optimize=0x10002" in statements and "ANALYZE" not in statements
    fresh.dispose()


def test_postgresql_analyses_after_a_bulk_load_only(postgresql_engine: Engine) -> None:
    # At start-up autovacuum keeps the statistics; a bulk load asks for them at once.
    assert "ANALYZE" not in _statements_of_optimize(postgresql_engine, after_bulk_load=False)
    assert "ANALYZE" in _statements_of_optimize(postgresql_engine, after_bulk_load=True)
