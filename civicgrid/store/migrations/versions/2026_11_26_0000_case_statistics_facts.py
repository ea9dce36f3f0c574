"""case statistics facts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

What the statistics count of each case, read off its events and cached on the case row
(civicgrid.domain.facts). Cases stored before this revision get their facts from
``civicgrid stats-rebuild``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicgrid.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENTS = (
    "registered_at",
    "register_deadline_at",
    "voided_at",
    "suspended_at",
    "revisited_at",
    "verify_deadline_at",
    "verified_at",
    "dispatch_deadline_at",
    "dispatched_at",
    "handle_deadline_at",
    "handled_at",
    "check_deadline_at",
    "checked_at",
)
PEOPLE = ("reported_by_id", "registered_by_id", "verified_by_id", "dispatched_by_id", "checked_by_id")
#: The moments the common tables (departments, regions, dispatchers, trends) select by.
INDEXED = (
    "closed_at",
    "registered_at",
    "handle_deadline_at",
    "handled_at",
    "dispatch_deadline_at",
    "dispatched_at",
)


def upgrade() -> None:
    for name in MOMENTS:
        op.add_column(
            "cases", sa.Column(name, civicgrid.store.types.UTCDateTime(timezone=True), nullable=True)
        )
    for name in PEOPLE:
        op.add_column("cases", sa.Column(name, sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("rejection_count", sa.Integer(), nullable=False, server_default="0"))
    for name in INDEXED:
        op.create_index(op.f(f"ix_cases_{name}"), "cases", [name], unique=False)


def downgrade() -> None:
    for name in INDEXED:
        op.drop_index(op.f(f"ix_cases_{name}"), table_name="cases")
    for name in (*MOMENTS, *PEOPLE, "rejection_count"):
        op.drop_column("cases", name)
