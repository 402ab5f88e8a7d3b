"""users: when each last signed in, and whether their password is a one-time one

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:00:00

The console's user page (a lead's, SPEC §8) lists when each person last signed in, so a lead
sees the accounts nobody uses; and a password a lead had generated for someone is good for
one sign-in only, after which its owner chooses their own. Existing users signed in at an
unknown time (NULL) and chose their passwords themselves (false).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("last_signed_in_at", sa.DateTime(timezone=True)))
    op.add_column(
        "users",
        sa.Column("password_temporary", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    # Not in batch mode: on SQLite that copies the table, and dropping the old one breaks
    # user_events' foreign key (foreign_keys is on). SQLite drops a column in place (3.35+).
    op.drop_column("users", "password_temporary")
    op.drop_column("users", "last_signed_in_at")
