"""rejected_records: the buyer a refused record belongs to

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 16:20:00

A refused order whose first version never reached the store (it might be the payment of a
sibling order) is in no buyer's stored history, so its id alone spared nobody. The buyer,
read as leniently as the id, ties it to the evidence it is missing from. Rows refused before
this migration have no buyer (NULL) and still spare by their key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rejected_records", sa.Column("buyer_id", sa.String(128)))


def downgrade() -> None:
    op.drop_column("rejected_records", "buyer_id")
