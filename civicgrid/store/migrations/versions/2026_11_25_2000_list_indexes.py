"""list indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 20:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

The case list shows the newest first and pages by (created_at, id). Composite indexes led by
the filters people use (none, region, state, department) give a page's rows in that order;
each replaces the single-column index it starts with. Indexes need no table rebuild, so
they are created directly rather than in batch mode (which could copy the cases table and
drop its triggers).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (new composite index, its columns, the single-column index it replaces)
INDEXES = [
    ("ix_cases_created_at_id", ["created_at", "id"], "ix_cases_created_at", "created_at"),
    (
        "ix_cases_region_id_created_at_id",
        ["region_id", "created_at", "id"],
        "ix_cases_region_id",
        "region_id",
    ),
    ("ix_cases_state_created_at_id", ["state", "created_at", "id"], "ix_cases_state", "state"),
    (
        "ix_cases_department_id_created_at_id",
        ["department_id", "created_at", "id"],
        "ix_cases_department_id",
        "department_id",
    ),
]


def upgrade() -> None:
    for name, columns, old, _column in INDEXES:
        op.create_index(name, "cases", columns, unique=False)
        op.drop_index(old, table_name="cases")


def downgrade() -> None:
    for name, _columns, old, column in INDEXES:
        op.create_index(old, "cases", [column], unique=False)
        op.drop_index(name, table_name="cases")
