"""Migration 0010 swaps the ledger's three order indexes for wide ones and back, over a
ledger that has rows, on SQLite and PostgreSQL; and a month's scorecard totals read the
deadline index alone (SQLite's plan says so)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from alembic.script import ScriptDirectory
from sqlalchemy import event, insert, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.scoring.month import Month
from daemon.scoring.records import read_violation_totals
from daemon.store import migrate
from daemon.store.tables import violations
from tests.conftest import move_schema

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
WIDE = {
    "ix_violations_ledger_deadline",
    "ix_violations_ledger_points",
    "ix_violations_ledger_status",
}
NARROW = {
    "ix_violations_deadline",
    "ix_violations_points_deadline",
    "ix_violations_status_deadline",
}


def _indexes(connection: Connection) -> set[str]:
    return {str(i["name"]) for i in inspect(connection).get_indexes("violations")}


async def test_the_wide_indexes_come_and_go(engine: AsyncEngine) -> None:
    before = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0010")
    assert before is not None
    previous = str(before.down_revision)
    row: dict[str, Any] = {
        "shop": "s",
        "rule": "CS101",
        "subject_type": "order",
        "subject_id": "o-1",
        "agent": "a1",
        "deadline": T0,
        "detected_at": T0,
        "updated_at": T0,
        "points": 2,
        "fine": "5",
        "status": "open",
        "final": True,
        "source": "rule",
        "evidence": {},
    }
    async with engine.begin() as conn:
        await conn.execute(insert(violations), [row])
        assert await conn.run_sync(_indexes) >= WIDE
        await conn.run_sync(move_schema, previous, True)
        found = await conn.run_sync(_indexes)
        assert found >= NARROW and not WIDE & found
        await conn.run_sync(move_schema, "head", False)
        found = await conn.run_sync(_indexes)
        assert found >= WIDE and not NARROW & found
        assert (await conn.execute(text("SELECT count(*) FROM violations"))).scalar() == 1
    totals = await read_violation_totals(engine, ZoneInfo("UTC"), Month(2026, 11))
    assert [(t.agent, t.count, t.points, t.fine) for t in totals] == [("a1", 1, 2, 5)]


async def test_a_months_totals_read_the_deadline_index_alone(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by its statistics, which an empty table does not have
    captured: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        captured.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await read_violation_totals(engine, ZoneInfo("UTC"), Month(2026, 11))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    (statement,) = captured
    month = Month(2026, 11)
    bounds = [
        b.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        for b in (month.start(ZoneInfo("UTC")), month.end(ZoneInfo("UTC")))
    ]
    async with engine.connect() as conn:
        plan = " | ".join(
            str(r[3])
            for r in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, tuple(bounds))
        )
    assert "COVERING INDEX ix_violations_ledger_deadline" in plan, plan
