"""shop leases: which process watches which shop when several share one PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00

One row per shop (its holder and the lease's expiry on the database's clock) and one per
running process (its heartbeat), see daemon/store/leases.py. SQLite creates them too but
never uses them: with SQLite one process watches every shop.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_leases",
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shop", name=op.f("pk_shop_leases")),
    )
    op.create_table(
        "daemon_instances",
        sa.Column("instance", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_daemon_instances")),
    )
    with op.batch_alter_table("daemon_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_daemon_instances_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("daemon_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_daemon_instances_expires_at"))
    op.drop_table("daemon_instances")
    op.drop_table("shop_leases")
