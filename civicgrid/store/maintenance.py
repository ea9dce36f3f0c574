"""Planner statistics: without them SQLite guesses which index serves a list, and guesses
badly at scale (one ANALYZE took the default list of a million cases from 0.7 s to 26 ms)."""

from __future__ import annotations

import sqlite3

from sqlalchemy import Engine

#: SQLite rows sampled per index by ANALYZE: approximate statistics in milliseconds, even
#: for millions of rows, and good enough for choosing an index.
ANALYSIS_LIMIT = 1000

#: From this version on, ``PRAGMA optimize=0x10002`` checks every table, not only those
#: the connection has queried, and analyses only where statistics are missing or stale.
OPTIMIZE_CHECKS_ALL_TABLES = (3, 46, 0)


def optimize(engine: Engine, *, after_bulk_load: bool = False) -> None:
    """Bring the planner's statistics up to date: at server start-up, and with
    ``after_bulk_load`` once many rows came in at once (the demo, imports).

    PostgreSQL's autovacuum analyses tables as they change, so there only a bulk load asks
    for an ``ANALYZE`` straight away.
    """
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            if after_bulk_load or sqlite3.sqlite_version_info < OPTIMIZE_CHECKS_ALL_TABLES:
                connection.exec_driver_sql("ANALYZE")
            else:
                connection.exec_driver_sql("PRAGMA optimize=0x10002")
        elif after_bulk_load:
            connection.exec_driver_sql("ANALYZE")
