"""case overlay grids

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 19:10:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

A case belongs to one grid (a dedicated grid before the comprehensive one around it) and
also counts in the overlay grids its point lies in ("20+25": self-governance grids laid over
the base cover); this table records the latter.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_overlay_grids",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_overlay_grids_case_id_cases")),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_case_overlay_grids_grid_id_grids")),
        sa.PrimaryKeyConstraint("case_id", "grid_id", name=op.f("pk_case_overlay_grids")),
    )
    with op.batch_alter_table("case_overlay_grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_overlay_grids_grid_id"), ["grid_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_overlay_grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_overlay_grids_grid_id"))
    op.drop_table("case_overlay_grids")
