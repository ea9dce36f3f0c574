"""case events partitioned by month on PostgreSQL

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 00:20:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

On PostgreSQL case_events becomes a table partitioned by RANGE of ``at``, one partition per
month (``civicgrid/store/partitions.py``) and a DEFAULT partition. The rows are copied
into it with their ids (the id sequence carries on); the plain table is then dropped. A
partitioned table's keys must include ``at``: the primary key becomes (id, at), the unique
(case_id, seq) goes (the case's row lock keeps seq unique), and the foreign keys from
case_tasks and attachments to case_events.id go. The append-only triggers of 0002 and 0003
are created again, the TRUNCATE one on every partition too. SQLite keeps its plain table.

Downgrade copies the rows back into a plain table with the keys, foreign keys and triggers
of 0011; months archived with ``civicgrid archive-events`` must be restored first, or
their tasks' and attachments' foreign keys cannot be created.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from civicgrid.store.partitions import (
    MONTHS_AHEAD,
    add_months,
    create_default_partition,
    create_partition,
    month_of,
)

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The indexes (and index-backed constraints) each form of the table has, renamed out of the
#: way while both forms exist.
PARTITIONED_INDEXES = ("pk_case_events", "ix_case_events_at", "ix_case_events_case_id")
PLAIN_INDEXES = (*PARTITIONED_INDEXES, "uq_case_events_case_id")
#: (table, constraint) of the foreign keys that point at case_events.id on a plain table.
EVENT_REFERENCES = (
    ("attachments", "fk_attachments_event_id_case_events"),
    ("case_tasks", "fk_case_tasks_event_id_case_events"),
)


def _set_aside(old_name: str, indexes: Sequence[str]) -> None:
    op.execute(f"ALTER TABLE case_events RENAME TO {old_name}")
    for index in indexes:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_{old_name}")
    # The id sequence outlives the old table and numbers the new one.
    op.execute("ALTER SEQUENCE case_events_id_seq OWNED BY NONE")


def _finish(old_name: str, keys: Sequence[str]) -> None:
    op.execute(f"INSERT INTO case_events SELECT * FROM {old_name}")
    op.execute(f"DROP TABLE {old_name}")
    # Keys and indexes after the copy: each built once rather than row by row.
    for key in keys:
        op.execute(f"ALTER TABLE case_events ADD CONSTRAINT {key}")
    op.execute("ALTER SEQUENCE case_events_id_seq OWNED BY case_events.id")
    op.execute("CREATE INDEX ix_case_events_at ON case_events (at)")
    op.execute("CREATE INDEX ix_case_events_case_id ON case_events (case_id)")
    op.execute(
        "ALTER TABLE case_events ADD CONSTRAINT fk_case_events_case_id_cases "
        "FOREIGN KEY (case_id) REFERENCES cases (id)"
    )
    op.execute(
        "ALTER TABLE case_events ADD CONSTRAINT fk_case_events_actor_id_users "
        "FOREIGN KEY (actor_id) REFERENCES users (id)"
    )
    op.execute(
        "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
        "FOR EACH ROW EXECUTE FUNCTION case_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only()"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, constraint in EVENT_REFERENCES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    _set_aside("case_events_plain", PLAIN_INDEXES)
    op.execute(
        "CREATE TABLE case_events (LIKE case_events_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        "PARTITION BY RANGE (at)"
    )
    connection = op.get_bind()
    oldest = connection.execute(text("SELECT min(at) FROM case_events_plain")).scalar()
    current = month_of(datetime.now(UTC))
    month = min(month_of(oldest), current) if oldest is not None else current
    while month <= add_months(current, MONTHS_AHEAD):
        create_partition(connection, month)
        month = add_months(month, 1)
    create_default_partition(connection)
    _finish("case_events_plain", ["pk_case_events PRIMARY KEY (id, at)"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("case_events_partitioned", PARTITIONED_INDEXES)
    op.execute(
        "CREATE TABLE case_events (LIKE case_events_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    _finish(
        "case_events_partitioned",
        ["pk_case_events PRIMARY KEY (id)", "uq_case_events_case_id UNIQUE (case_id, seq)"],
    )
    for table, constraint in EVENT_REFERENCES:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY (event_id) REFERENCES case_events (id)"
        )
