"""sign-in attempts, token expiry index, password change time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 19:00:00

Rules for a civicgrid migration (reviewed like any code):
- name the file YYYY_MM_DD_HHMM_<slug>.py (alembic.ini's file_template does it);
- name every constraint through the metadata's naming convention; use batch_alter_table
  for SQLite;
- never rewrite or delete rows of case_events: history is append-only;
- data backfills are separate CLI commands that default to a dry run, not migrations.

sign_in_attempts is the audit of sign-ins and what the sign-in throttle counts (by username
and by address, within a time window: hence the two indexes). Tokens long expired are
purged by expires_at. users.password_changed_at lets an admin's new password end a lock.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicgrid.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", civicgrid.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "succeeded",
                "failed",
                "locked",
                name="signinoutcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_attempts_at"), ["at"], unique=False)
        batch_op.create_index("ix_sign_in_attempts_username_at", ["username", "at"], unique=False)
        batch_op.create_index("ix_sign_in_attempts_address_at", ["address", "at"], unique=False)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_changed_at", civicgrid.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # A plain ALTER TABLE DROP COLUMN (SQLite 3.35+): copying users, as batch mode would,
    # means dropping a table that tokens and cases refer to, which foreign keys refuse.
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("password_changed_at")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_expires_at"))

    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempts_address_at")
        batch_op.drop_index("ix_sign_in_attempts_username_at")
        batch_op.drop_index(batch_op.f("ix_sign_in_attempts_at"))

    op.drop_table("sign_in_attempts")
