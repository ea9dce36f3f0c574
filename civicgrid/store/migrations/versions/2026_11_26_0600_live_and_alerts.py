"""the live journal, notifications, notification settings, job marks

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 03:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

New tables only: ``live_changes`` (the journal the live stream sends and replays),
``notifications`` (alerts per user, unique per user, kind, case and occasion),
``notification_settings`` (SMS / e-mail while signed out) and ``job_marks`` (how far the
minute job got). The cases table is not touched: the light job reads its existing indexes
on ``warning_at`` and ``deadline_at``. Going down drops the four tables, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.store.types import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALERT_KINDS = ("yellow", "red", "extension_requested", "supervision")


def upgrade() -> None:
    op.create_table(
        "live_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("region_path", sa.String(length=400), nullable=True),
        sa.Column("grid_code", sa.String(length=40), nullable=True),
        sa.Column("category_code", sa.String(length=20), nullable=True),
        sa.Column("department_code", sa.String(length=40), nullable=True),
        sa.Column("department_ids", sa.String(length=400), nullable=True),
        sa.Column("reporter_user_id", sa.Integer(), nullable=True),
        sa.Column("warning_at", UTCDateTime(), nullable=True),
        sa.Column("deadline_at", UTCDateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_changes")),
        # SQLite: ids are never reused, even after every entry was pruned (a client's cursor).
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_live_changes_at"), "live_changes", ["at"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*ALERT_KINDS, name="alertkind", native_enum=False, create_constraint=True, length=19),
            nullable=False,
        ),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("occasion", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("sent_by", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_notifications_case_id_cases")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "kind", "case_id", "occasion", name=op.f("uq_notifications_user_id")),
    )
    op.create_index(op.f("ix_notifications_case_id"), "notifications", ["case_id"], unique=False)
    op.create_index(
        "ix_notifications_user_id_read_at_id", "notifications", ["user_id", "read_at", "id"], unique=False
    )
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sms_phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "job_marks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("done_until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_marks")),
    )


def downgrade() -> None:
    # Plain drops on both databases: no table but these four is touched.
    op.drop_table("job_marks")
    op.drop_table("notification_settings")
    op.drop_index("ix_notifications_user_id_read_at_id", table_name="notifications")
    op.drop_index(op.f("ix_notifications_case_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_live_changes_at"), table_name="live_changes")
    op.drop_table("live_changes")
