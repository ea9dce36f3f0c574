"""briefings: schedules and stored documents

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 01:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

A briefing schedule (日报 each morning, 周报 each Monday, 月报 on the 1st) makes one stored
briefing per period: the unique (schedule_id, period_start) is what keeps two workers from
storing it twice. Each stored briefing has a file per format, kept in the centre's file store
by its SHA-256 like an uploaded photo. New tables only, so going down is three plain drops.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicgrid.store.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("daily", "weekly", "monthly")
FORMATS = ("pdf", "xlsx", "html")


def _kind() -> sa.Enum:
    return sa.Enum(*KINDS, name="briefingkind", native_enum=False, create_constraint=True)


def upgrade() -> None:
    op.create_table(
        "briefing_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_briefing_schedules_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_briefing_schedules_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing_schedules")),
    )
    op.create_index(
        op.f("ix_briefing_schedules_region_id"), "briefing_schedules", ["region_id"], unique=False
    )

    op.create_table(
        "briefings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("period_start", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_label", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_briefings_region_id_regions")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["briefing_schedules.id"],
            name=op.f("fk_briefings_schedule_id_briefing_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefings")),
        sa.UniqueConstraint("schedule_id", "period_start", name=op.f("uq_briefings_schedule_id")),
    )
    op.create_index(op.f("ix_briefings_created_at"), "briefings", ["created_at"], unique=False)
    op.create_index(op.f("ix_briefings_region_id"), "briefings", ["region_id"], unique=False)

    op.create_table(
        "briefing_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("briefing_id", sa.Integer(), nullable=False),
        sa.Column(
            "format",
            sa.Enum(*FORMATS, name="briefingformat", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["briefing_id"], ["briefings.id"], name=op.f("fk_briefing_files_briefing_id_briefings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing_files")),
        sa.UniqueConstraint("briefing_id", "format", name=op.f("uq_briefing_files_briefing_id")),
    )


def downgrade() -> None:
    # New tables only: dropping a table drops its indexes and constraints with it.
    op.drop_table("briefing_files")
    op.drop_table("briefings")
    op.drop_table("briefing_schedules")
