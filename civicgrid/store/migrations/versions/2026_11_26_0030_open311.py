"""API keys, category questions and their answers, public notes

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 00:30:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

Outside systems report through Open311 with an API key (``api_keys``: hashed, named,
scoped to a region, acting through a system user of its own). A category carries the
questions a report answers (``categories.questions``), a case the answers and a media link
(``cases.answers``, ``cases.media_url``). An event's note is private unless the acting user
made it public (``case_events.note_is_public``). Columns are added with plain ADD COLUMN,
never by copying a table (which would lose the triggers of ``cases`` and ``case_events``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.store.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = (
    "hotline_12345",
    "hotline_local",
    "inspector",
    "video",
    "web",
    "wechat",
    "upper_level",
    "police_110",
    "media",
    "deputy",
    "third_party",
)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(*CHANNELS, name="channel", native_enum=False, create_constraint=True, length=13),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_api_keys_region_id_regions")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
        sa.UniqueConstraint("user_id", name=op.f("uq_api_keys_user_id")),
    )
    op.add_column("categories", sa.Column("questions", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("cases", sa.Column("answers", sa.JSON(), nullable=True))
    op.add_column("cases", sa.Column("media_url", sa.String(length=500), nullable=True))
    op.add_column(
        "case_events",
        sa.Column("note_is_public", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("case_events", "note_is_public")
    op.drop_column("cases", "media_url")
    op.drop_column("cases", "answers")
    op.drop_column("categories", "questions")
    op.drop_table("api_keys")
