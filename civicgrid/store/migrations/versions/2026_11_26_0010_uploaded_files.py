"""uploaded files and the duplicate hint

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 00:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

Attachments may be files in the centre's own store (no ``uri``), with a thumbnail and a
purpose (before / after the handling). For the duplicate hint at intake, cases get an index
on their coordinate (the box around a point), and the category index grows into
(category_id, created_at, id): a category's cases of the last days are one short range,
and the case list filtered by a small class gets its page in order, as the other filters do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = ("before", "after", "other")


def upgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("uri", existing_type=sa.String(length=500), nullable=True)
        batch_op.add_column(sa.Column("thumbnail_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "purpose",
                sa.Enum(*PURPOSES, name="attachmentpurpose", native_enum=False, create_constraint=True),
                nullable=True,
            )
        )
    # Directly, not in batch mode, which could copy the cases table and drop its triggers.
    op.create_index("ix_cases_lat_lng", "cases", ["lat", "lng"], unique=False)
    op.create_index(
        "ix_cases_category_id_created_at_id", "cases", ["category_id", "created_at", "id"], unique=False
    )
    op.drop_index("ix_cases_category_id", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_category_id", "cases", ["category_id"], unique=False)
    op.drop_index("ix_cases_category_id_created_at_id", table_name="cases")
    op.drop_index("ix_cases_lat_lng", table_name="cases")
    # Uploaded files have no link: their rows cannot go back to a table that demands one.
    op.execute("DELETE FROM attachments WHERE uri IS NULL")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_attachments_attachmentpurpose"), type_="check")
        batch_op.drop_column("purpose")
        batch_op.drop_column("thumbnail_sha256")
        batch_op.alter_column("uri", existing_type=sa.String(length=500), nullable=False)
