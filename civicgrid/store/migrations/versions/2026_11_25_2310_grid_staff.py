"""grid staff, retired territory, a case's inspector

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 23:10:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

A territory file names each grid's inspectors and leader, and one person may serve several
grids: ``grid_staff`` holds who serves which grid in which duty. It starts with every
inspector's own grid (``users.grid_id``). Regions and grids that cases refer to are retired
rather than deleted (``retired_at``); overlay grids carry their layer (``overlay_group``); a
case records the inspector of its grid when it was placed (``cases.inspector_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grid_staff",
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "duty",
            sa.Enum(
                "inspector", "leader", name="gridduty", native_enum=False, create_constraint=True, length=9
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_grid_staff_grid_id_grids")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_grid_staff_user_id_users")),
        sa.PrimaryKeyConstraint("grid_id", "user_id", "duty", name=op.f("pk_grid_staff")),
    )
    with op.batch_alter_table("grid_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grid_staff_user_id"), ["user_id"], unique=False)
    op.execute(
        "INSERT INTO grid_staff (grid_id, user_id, duty) "
        "SELECT grid_id, id, 'inspector' FROM users WHERE grid_id IS NOT NULL AND role = 'inspector'"
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overlay_group", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("retired_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", UTCDateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # Inline, so that SQLite does not copy the (large) cases table and lose its triggers.
        # The way down leaves the column (see downgrade), so it may be there already.
        if "inspector_id" not in {
            column["name"] for column in sa.inspect(op.get_bind()).get_columns("cases")
        }:
            op.execute(
                "ALTER TABLE cases ADD COLUMN inspector_id INTEGER "
                "CONSTRAINT fk_cases_inspector_id_users REFERENCES users (id)"
            )
    else:
        op.add_column("cases", sa.Column("inspector_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_cases_inspector_id_users"), "cases", "users", ["inspector_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Plain drops: a batch copy of these tables fails on the rows that refer to them.
        # SQLite cannot drop a column with a foreign key without copying the table: the
        # unused cases.inspector_id stays, and the way up takes it again.
        for table, column in [
            ("regions", "retired_at"),
            ("grids", "retired_at"),
            ("grids", "overlay_group"),
        ]:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_constraint(op.f("fk_cases_inspector_id_users"), "cases", type_="foreignkey")
        op.drop_column("cases", "inspector_id")
        op.drop_column("regions", "retired_at")
        op.drop_column("grids", "retired_at")
        op.drop_column("grids", "overlay_group")
    with op.batch_alter_table("grid_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grid_staff_user_id"))
    op.drop_table("grid_staff")
