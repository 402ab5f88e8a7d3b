"""people on shift: supervisor-approved leaves, the handover book, and their audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00

SPEC §6 ``POST /api/leaves`` and ``POST /api/handovers``: shopwatch's own records, which CS108
(handover not written), CS109 (away from the post) and CS111 (late for the shift) read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leaves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leaves")),
    )
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leaves_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_leaves_agent_ends_at"), ["agent", "ends_at"], unique=False
        )

    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shift", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handovers")),
    )
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handovers_day_shift"), ["day", "shift"], unique=False)

    op.create_table(
        "people_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people_events")),
    )
    with op.batch_alter_table("people_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_people_events_entity_entity_id"), ["entity", "entity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("people_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_events_entity_entity_id"))
    op.drop_table("people_events")
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handovers_day_shift"))
    op.drop_table("handovers")
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leaves_agent_ends_at"))
        batch_op.drop_index(batch_op.f("ix_leaves_ends_at"))
    op.drop_table("leaves")
