"""the ledger's order indexes carry the columns its filters, counts and scorecard read

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:00:00

At 100k violations, with the evidence (about a kilobyte a row) in the same table, every
row a query had to fetch from the table to test a filter or read a status cost a page read:
the console's month page read two months of rows to compute the scorecard (0.6 s), and a
ledger filtered by shop, or by several columns at once, fetched the whole filtered set to
count it or sort it. The three order indexes (by deadline, by points, by status) now also
hold the columns the filters test (status, agent, rule, shop) and the scorecard sums
(points, fine), with the id right after the order so a page's tie-break needs no sort:
such a read walks an index and fetches only the rows it shows.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WIDE = {
    "ix_violations_deadline": (
        "ix_violations_ledger_deadline",
        ["deadline", "id", "status", "agent", "rule", "shop", "points", "fine"],
    ),
    "ix_violations_points_deadline": (
        "ix_violations_ledger_points",
        ["points", "deadline", "id", "status", "agent", "rule", "shop"],
    ),
    "ix_violations_status_deadline": (
        "ix_violations_ledger_status",
        ["status", "deadline", "id", "agent", "rule", "shop"],
    ),
}
NARROW = {
    "ix_violations_deadline": ["deadline"],
    "ix_violations_points_deadline": ["points", "deadline"],
    "ix_violations_status_deadline": ["status", "deadline"],
}


def upgrade() -> None:
    with op.batch_alter_table("violations", schema=None) as batch_op:
        for old, (new, columns) in WIDE.items():
            batch_op.drop_index(old)
            batch_op.create_index(new, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("violations", schema=None) as batch_op:
        for old, (new, _) in WIDE.items():
            batch_op.drop_index(new)
            batch_op.create_index(old, NARROW[old], unique=False)
