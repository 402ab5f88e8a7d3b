"""the console: people who sign in (and their trail), closed months (and theirs)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00

SPEC §8: users with a role (agent, supervisor, lead) and an argon2 hash; SPEC §4: a closed
month's bounds and its scorecard frozen at closing, reopened only by a lead, with a reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The console's ledger page: a status or rule filter, the counts per status, and the
    # points sort, each read by an index whatever the ledger's size.
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_violations_status_deadline"), ["status", "deadline"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_violations_points_deadline"), ["points", "deadline"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_violations_rule_deadline"), ["rule", "deadline"], unique=False
        )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "user_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_events")),
    )
    with op.batch_alter_table("user_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "month_closes",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=128), nullable=False),
        sa.Column("scorecard", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_month_closes")),
    )
    with op.batch_alter_table("month_closes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_month_closes_starts_at"), ["starts_at"], unique=False)
    op.create_table(
        "month_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_events")),
    )
    with op.batch_alter_table("month_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_month_events_month"), ["month"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("month_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_month_events_month"))
    op.drop_table("month_events")
    with op.batch_alter_table("month_closes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_month_closes_starts_at"))
    op.drop_table("month_closes")
    with op.batch_alter_table("user_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_events_user_id"))
    op.drop_table("user_events")
    op.drop_table("users")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_violations_rule_deadline"))
        batch_op.drop_index(batch_op.f("ix_violations_points_deadline"))
        batch_op.drop_index(batch_op.f("ix_violations_status_deadline"))
