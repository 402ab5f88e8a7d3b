"""alert notices: what was sent to Alertmanager and the direct webhooks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 21:00:00

One row per (receiver, kind, shop, rule, subject): a restart reads it back so firing alerts
keep their startsAt, resolved ones are not announced again, and webhooks never repeat a
message. See daemon/alerts/state.py.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_notices",
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "receiver", "kind", "shop", "rule", "subject_id", name=op.f("pk_alert_notices")
        ),
    )
    with op.batch_alter_table("alert_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_notices_closed_at"), ["closed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_notices_closed_at"))
    op.drop_table("alert_notices")
