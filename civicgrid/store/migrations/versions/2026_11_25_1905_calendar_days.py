"""calendar days

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 19:05:00

The holidays and adjusted workdays (调休) a centre loads itself, for the years the
chinesecalendar package does not know yet. A new table: nothing existing changes.

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicgrid.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("loaded_at", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_days")),
        sa.UniqueConstraint("day", name=op.f("uq_calendar_days_day")),
    )


def downgrade() -> None:
    op.drop_table("calendar_days")
