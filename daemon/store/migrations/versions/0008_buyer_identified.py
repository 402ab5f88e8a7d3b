"""order versions remember whether the platform identified the buyer

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:30:00

Shopify withholds e-mail, phone and name without protected customer data access; such an
order's buyer_id is a per-order stand-in that never pairs with the chat side, and CS101
counts it undecidable (buyer_unidentified) instead of a violation. Rows written before this
revision were identified as far as anyone knew: they default to true.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "buyer_identified", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("order_versions", schema=None) as batch_op:
        batch_op.drop_column("buyer_identified")
