"""Sessions for reading requests: on PostgreSQL the database itself refuses a write in them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import InternalError

from civicgrid.store.db import make_session_factory


def test_a_read_only_session_cannot_write_on_postgresql(postgresql_engine: Engine) -> None:
    with make_session_factory(postgresql_engine, read_only=True)() as session:
        assert session.execute(text("SELECT count(*) FROM cases")).scalar_one() >= 0
        with pytest.raises(InternalError, match="read-only transaction"):
            session.execute(text("DELETE FROM case_number_counters"))
    with make_session_factory(postgresql_engine)() as session:
        session.execute(text("DELETE FROM case_number_counters WHERE prefix = 'NONE'"))
        session.rollback()
