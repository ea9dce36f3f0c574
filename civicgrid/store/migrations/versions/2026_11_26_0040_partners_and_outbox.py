"""partners, their work orders, the outbox; a case's partner and external deadline

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 00:40:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

Partners (the 12345 platform, upper centres) push work orders down (``partner_orders``, one
per partner and order number) and hear back through the ``outbox``, which also carries SMS
and e-mail. A case records its partner and the partner's deadline.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.store.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
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
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(*CHANNELS, name="channel", native_enum=False, create_constraint=True, length=13),
            nullable=False,
        ),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("category_map", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_partners_region_id_regions")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_partners_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("code", name=op.f("uq_partners_code")),
    )
    op.create_table(
        "partner_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("called_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_partner_orders_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_orders_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_orders")),
        sa.UniqueConstraint("partner_id", "order_number", name=op.f("uq_partner_orders_partner_id")),
    )
    op.create_index(op.f("ix_partner_orders_case_id"), "partner_orders", ["case_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("stream", sa.String(length=60), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_outbox_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index(
        "ix_outbox_delivered_at_stream_id", "outbox", ["delivered_at", "stream", "id"], unique=False
    )
    if op.get_bind().dialect.name == "sqlite":
        # Inline, so that SQLite does not copy the (large) cases table and lose its triggers.
        op.execute(
            "ALTER TABLE cases ADD COLUMN partner_id INTEGER "
            "CONSTRAINT fk_cases_partner_id_partners REFERENCES partners (id)"
        )
        op.execute("ALTER TABLE cases ADD COLUMN external_deadline_at DATETIME")
    else:
        op.add_column("cases", sa.Column("partner_id", sa.Integer(), nullable=True))
        op.add_column("cases", sa.Column("external_deadline_at", UTCDateTime(), nullable=True))
        op.create_foreign_key(
            op.f("fk_cases_partner_id_partners"), "cases", "partners", ["partner_id"], ["id"]
        )


def downgrade() -> None:
    op.drop_index("ix_outbox_delivered_at_stream_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_partner_orders_case_id"), table_name="partner_orders")
    op.drop_table("partner_orders")
    if op.get_bind().dialect.name == "sqlite":
        # Plain drops, never a batch copy of cases (it would lose the triggers, and dropping
        # the old table fails on the events that refer to it).
        op.execute("ALTER TABLE cases DROP COLUMN external_deadline_at")
        op.execute("ALTER TABLE cases DROP COLUMN partner_id")
    else:
        op.drop_constraint(op.f("fk_cases_partner_id_partners"), "cases", type_="foreignkey")
        op.drop_column("cases", "external_deadline_at")
        op.drop_column("cases", "partner_id")
    op.drop_table("partners")
