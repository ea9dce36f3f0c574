"""history cannot be truncated; cases are never deleted

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:50:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

0002 refused UPDATE and DELETE of case_events row by row. Two ways around it remained:
TRUNCATE (PostgreSQL fires no row triggers for it) and deleting the case itself (a program
connecting to SQLite without foreign keys would leave its events orphaned). A case that
should not exist is voided, never deleted, so the database refuses both, whatever program
connects to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "cases are never deleted: void the case instead (its history is kept)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite has no TRUNCATE; a DELETE without WHERE fires the row triggers.
        op.execute(
            f"CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        return
    # TRUNCATE triggers are statement-level; 0002's function raises the same way at either level.
    op.execute(
        "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only()"
    )
    op.execute(
        "CREATE FUNCTION cases_never_deleted() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases FOR EACH ROW EXECUTE FUNCTION cases_never_deleted()"
    )
    op.execute(
        "CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases "
        "FOR EACH STATEMENT EXECUTE FUNCTION cases_never_deleted()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER cases_no_delete")
        return
    op.execute("DROP TRIGGER cases_no_truncate ON cases")
    op.execute("DROP TRIGGER cases_no_delete ON cases")
    op.execute("DROP FUNCTION cases_never_deleted()")
    op.execute("DROP TRIGGER case_events_no_truncate ON case_events")
