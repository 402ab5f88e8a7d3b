"""presence as evidence: the presence event stream, where presence is known, and how each
shop reports it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 10:00:00

SPEC §3 "Presence" and §5 ``/presence``: CS109–CS112 need to know not only each agent's
status but where it is known, so that an unknown stretch is undecidable, never a violation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presence_events",
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop", "event_id", name=op.f("pk_presence_events")),
    )
    with op.batch_alter_table("presence_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_presence_events_shop_at"), ["shop", "at"])
        batch_op.create_index(
            batch_op.f("ix_presence_events_shop_agent_id_at"), ["shop", "agent_id", "at"]
        )

    op.create_table(
        "presence_known",
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_included", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("shop", "kind", "start", name=op.f("pk_presence_known")),
    )

    op.create_table(
        "presence_sources",
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("last_sample_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop", name=op.f("pk_presence_sources")),
    )


def downgrade() -> None:
    op.drop_table("presence_sources")
    op.drop_table("presence_known")
    with op.batch_alter_table("presence_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presence_events_shop_agent_id_at"))
        batch_op.drop_index(batch_op.f("ix_presence_events_shop_at"))
    op.drop_table("presence_events")
