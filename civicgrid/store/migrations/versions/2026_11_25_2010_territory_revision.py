"""territory revision

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 20:10:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

One row whose mark changes whenever grids are written, so that each process rebuilds its
cached grid index only when the territory changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "territory_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_territory_revision")),
    )
    op.bulk_insert(table, [{"id": 1, "mark": "initial"}])


def downgrade() -> None:
    op.drop_table("territory_revision")
