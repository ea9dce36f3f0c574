"""open cases by place and by light

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 04:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

The map (一张图, the dashboard's map) asks for the open cases of a view: a handful of states
and a box of longitude and latitude. Through the index of points alone the database reads
every case ever stored in the view's band of latitude, open or not. Led by the state, this
index holds the open cases apart, each with its point, so a street's view reads that
street's open cases and no others; with the region and the clock (warning and deadline)
beside them, the counts per square of a wide view, and the dashboard's open cases by state
and light, are read from the index alone, without a single case row.

An index needs no table rebuild, so it is created directly rather than in batch mode
(which could copy the cases table and drop its triggers).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NAME = "ix_cases_state_lat_lng_region_id_warning_at_deadline_at"
COLUMNS = ["state", "lat", "lng", "region_id", "warning_at", "deadline_at"]


def upgrade() -> None:
    op.create_index(NAME, "cases", COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index(NAME, table_name="cases")
