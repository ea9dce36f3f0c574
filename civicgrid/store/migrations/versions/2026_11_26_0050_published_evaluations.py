"""published evaluations

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 00:50:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

A finished period's evaluation (考核结果) is published: stored as computed, with the
scheme it was computed under, who published it and when. Late events change the live
figures, never a published version; a re-computation is stored as the next version. Like
case_events, the table is append-only: the database refuses to change or delete a row,
whatever program connects to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicgrid.store.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "published_evaluations is append-only: publish a new version instead"


def upgrade() -> None:
    op.create_table(
        "published_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period_key", sa.String(length=10), nullable=False),
        sa.Column("period_start", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_label", sa.String(length=40), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scheme_name", sa.String(length=200), nullable=False),
        sa.Column("scheme_version", sa.String(length=40), nullable=False),
        sa.Column("scheme_digest", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.JSON(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=False),
        sa.Column("published_at", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["users.id"], name=op.f("fk_published_evaluations_published_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_published_evaluations_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_evaluations")),
        sa.UniqueConstraint(
            "kind", "period_key", "region_id", "version", name=op.f("uq_published_evaluations_kind")
        ),
    )
    op.create_index(
        "ix_published_evaluations_region_id_published_at",
        "published_evaluations",
        ["region_id", "published_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER published_evaluations_no_{verb.lower()} BEFORE {verb} "
                f"ON published_evaluations BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION published_evaluations_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER published_evaluations_append_only BEFORE UPDATE OR DELETE ON published_evaluations "
        "FOR EACH ROW EXECUTE FUNCTION published_evaluations_append_only()"
    )
    op.execute(
        "CREATE TRIGGER published_evaluations_no_truncate BEFORE TRUNCATE ON published_evaluations "
        "FOR EACH STATEMENT EXECUTE FUNCTION published_evaluations_append_only()"
    )


def downgrade() -> None:
    # Dropping the table drops its triggers with it (SQLite and PostgreSQL alike).
    op.drop_index("ix_published_evaluations_region_id_published_at", table_name="published_evaluations")
    op.drop_table("published_evaluations")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION published_evaluations_append_only()")
