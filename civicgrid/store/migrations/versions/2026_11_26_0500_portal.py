"""citizens' portal: phone verification codes, failed lookups, cases by reporter phone

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 02:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

The portal sends verification codes by SMS (``phone_codes``: keyed hashes, what the code
throttle counts per phone and per address) and throttles lookups by case number and phone
(``portal_lookup_failures``). A verified phone lists its own cases: an index on the cases'
reporter phone. Nothing here copies the cases table (an index is created and dropped in
place on SQLite too).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.store.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_codes")),
    )
    op.create_index(op.f("ix_phone_codes_created_at"), "phone_codes", ["created_at"], unique=False)
    op.create_index("ix_phone_codes_phone_created_at", "phone_codes", ["phone", "created_at"], unique=False)
    op.create_index(
        "ix_phone_codes_address_created_at", "phone_codes", ["address", "created_at"], unique=False
    )
    op.create_table(
        "portal_lookup_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_lookup_failures")),
    )
    op.create_index(op.f("ix_portal_lookup_failures_at"), "portal_lookup_failures", ["at"], unique=False)
    op.create_index(
        "ix_portal_lookup_failures_address_at", "portal_lookup_failures", ["address", "at"], unique=False
    )
    op.create_index(
        "ix_portal_lookup_failures_number_at", "portal_lookup_failures", ["number", "at"], unique=False
    )
    op.create_index(
        "ix_cases_reporter_phone_created_at", "cases", ["reporter_phone", "created_at"], unique=False
    )


def downgrade() -> None:
    # Plain drops: an index goes without copying the cases table (no batch mode here).
    op.drop_index("ix_cases_reporter_phone_created_at", table_name="cases")
    op.drop_index("ix_portal_lookup_failures_number_at", table_name="portal_lookup_failures")
    op.drop_index("ix_portal_lookup_failures_address_at", table_name="portal_lookup_failures")
    op.drop_index(op.f("ix_portal_lookup_failures_at"), table_name="portal_lookup_failures")
    op.drop_table("portal_lookup_failures")
    op.drop_index("ix_phone_codes_address_created_at", table_name="phone_codes")
    op.drop_index("ix_phone_codes_phone_created_at", table_name="phone_codes")
    op.drop_index(op.f("ix_phone_codes_created_at"), table_name="phone_codes")
    op.drop_table("phone_codes")
