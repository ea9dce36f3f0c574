"""when a case was first supervised (督办)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26 07:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

One more statistics fact on the case row, ``supervised_at`` (the first 督办 event), for the
count 督办超期数. Nullable, no index: the count selects its rows by the handling moments.
Cases stored before this revision get it from ``civicgrid stats-rebuild --apply``. Going
down drops the column, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.store.types import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("supervised_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "supervised_at")
