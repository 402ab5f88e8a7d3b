"""records refused one by one: which order or conversation lacks a version

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:00:00

A connector now refuses a malformed record alone (an order with a status it does not know)
and keeps the rest of its page, so the watermark moves on without that record. The order (or
the conversation, on a chat stream) it belonged to is remembered here, so that no rule decides
against the buyer on the versions that are left: the judge counts such a breach undecidable
(record_rejected).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_records",
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("record_key", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "shop", "stream", "record_key", name=op.f("pk_rejected_records")
        ),
    )
    with op.batch_alter_table("rejected_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_records_shop_last_seen_at"), ["shop", "last_seen_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("rejected_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_records_shop_last_seen_at"))
    op.drop_table("rejected_records")
