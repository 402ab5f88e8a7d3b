"""scorecard: bonuses, supervisor adjustments and their audit trail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bonuses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonuses")),
    )
    with op.batch_alter_table("bonuses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bonuses_month_agent"), ["month", "agent"], unique=False
        )

    op.create_table(
        "score_adjustments",
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent", "month", name=op.f("pk_score_adjustments")),
    )

    op.create_table(
        "scorecard_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("bonus_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bonus_id"],
            ["bonuses.id"],
            name=op.f("fk_scorecard_events_bonus_id_bonuses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_events")),
    )
    with op.batch_alter_table("scorecard_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scorecard_events_month_agent"), ["month", "agent"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("scorecard_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scorecard_events_month_agent"))
    op.drop_table("scorecard_events")
    op.drop_table("score_adjustments")
    with op.batch_alter_table("bonuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bonuses_month_agent"))
    op.drop_table("bonuses")
