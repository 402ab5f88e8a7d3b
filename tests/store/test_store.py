"""The store on SQLite and PostgreSQL: de-duplication, watermarks, the ledger's keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.evidence_record import GenericEvidence
from checks.subject import Breach, Subject, Undecidable
from connectors.model import AgentPresence, Direction, OrderStatus, PresenceStatus, Stream
from daemon.errors import Refused
from daemon.simulator.world import new_message, new_order
from daemon.store import migrate
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def breach(
    subject_id: str = "o-1",
    *,
    tier: int | None = None,
    points: int = 2,
    final: bool = True,
    agent: str | None = "a1",
) -> Breach:
    return Breach(
        subject=Subject(
            rule="CS102" if tier else "CS101", type="order", id=subject_id, buyer_id="b-1"
        ),
        deadline=T0,
        agent=agent,
        shift="day",
        tier=tier,
        points=points,
        fine=Decimal("5"),
        final=final,
        evidence=GenericEvidence(raw={"order": {"id": subject_id}}),
    )


async def test_migrations_reach_head(engine: AsyncEngine) -> None:
    assert await migrate.current_revision(engine) == migrate.head_revision()
    await migrate.upgrade(engine)  # idempotent
    assert await migrate.current_revision(engine) == migrate.head_revision()


async def test_order_versions_are_deduplicated_by_id_and_updated_at(engine: AsyncEngine) -> None:
    store = ObservationStore(engine)
    first = new_order(order_id="o-1", buyer_id="b-1", at=T0)
    new = await store.save_orders("s", [first, first], T0)
    assert new == [first]
    assert await store.save_orders("s", [first], T0) == []
    paid = replace(
        first,
        updated_at=T0 + timedelta(minutes=5),
        status=OrderStatus.PAID,
        paid_at=T0 + timedelta(minutes=5),
    )
    assert await store.save_orders("s", [first, paid], T0) == [paid]
    histories = await store.buyer_histories("s", ["b-1"], T0 - timedelta(days=1))
    assert [o.status for o in histories["b-1"].orders] == [
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.PAID,
    ]
    assert histories["b-1"].orders[1].amount == Decimal("99.00")
    assert histories["b-1"].orders[1].paid_at == T0 + timedelta(minutes=5)


async def test_same_ids_in_two_shops_do_not_collide(engine: AsyncEngine) -> None:
    store = ObservationStore(engine)
    order = new_order(order_id="o-1", buyer_id="b-1", at=T0)
    assert await store.save_orders("shop-a", [order], T0) == [order]
    assert await store.save_orders("shop-b", [order], T0) == [order]


async def test_messages_are_deduplicated_by_id(engine: AsyncEngine) -> None:
    store = ObservationStore(engine)
    msg = new_message(
        message_id="m-1", buyer_id="b-1", at=T0, direction=Direction.BUYER, text="还有货吗？"
    )
    assert await store.save_messages("s", [msg], T0) == [msg]
    assert await store.save_messages("s", [msg, msg], T0) == []
    histories = await store.buyer_histories("s", ["b-1", "b-2"], T0 - timedelta(hours=1))
    assert histories["b-1"].messages == [msg]
    assert histories["b-2"].messages == []
    assert await store.active_buyers("s", T0 - timedelta(hours=1)) == {"b-1"}


async def test_stream_state_starts_once_and_watermark_only_moves_forward(
    engine: AsyncEngine,
) -> None:
    store = ObservationStore(engine)
    start = T0 - timedelta(hours=24)
    state = await store.start_stream("s", Stream.ORDERS, start, T0)
    assert state.watermark == state.history_start == start
    again = await store.start_stream("s", Stream.ORDERS, T0, T0)  # a later start keeps it
    assert again.history_start == start
    await store.advance_watermark("s", Stream.ORDERS, T0, T0)
    await store.advance_watermark("s", Stream.ORDERS, T0 - timedelta(hours=1), T0)
    state = await store.stream_state("s", Stream.ORDERS)
    assert state is not None and state.watermark == T0 and state.last_success_at == T0


async def test_presence_keeps_the_state_before_the_window(engine: AsyncEngine) -> None:
    store = ObservationStore(engine)
    samples = [
        AgentPresence(agent_id="a1", status=PresenceStatus.ONLINE, since=T0 - timedelta(days=2)),
        AgentPresence(agent_id="a1", status=PresenceStatus.AWAY, since=T0 + timedelta(hours=1)),
    ]
    assert await store.save_presence("s", samples, T0) == 2
    assert await store.save_presence("s", samples, T0) == 0
    seen = await store.presence_since("s", T0)
    assert sorted(s.status for s in seen) == [PresenceStatus.AWAY, PresenceStatus.ONLINE]


async def test_a_violation_is_recorded_once(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    first = await ledger.record("s", breach(), T0)
    again = await ledger.record("s", breach(), T0 + timedelta(minutes=1))
    assert first.new and not again.new and again.violation_id == first.violation_id
    rows = await ledger.find()
    assert len(rows) == 1
    assert rows[0]["subject"] == {"type": "order", "id": "o-1"}
    assert rows[0]["fine"] == 5 and rows[0]["status"] == "open"
    assert await ledger.totals() == [("s", "CS101", "a1", 1, 2)]


async def test_escalation_raises_tier_in_place_and_is_audited(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    await ledger.record("s", breach("m-1", tier=1, points=5, final=False), T0)
    lower = await ledger.record("s", breach("m-1", tier=1, points=5, final=False), T0)
    assert not lower.escalated
    up = await ledger.record("s", breach("m-1", tier=2, points=10, final=False), T0)
    assert up.escalated and up.points_delta == 5
    top = await ledger.record("s", breach("m-1", tier=3, points=20, final=True), T0)
    assert top.escalated and top.points_delta == 10
    after_final = await ledger.record("s", breach("m-1", tier=3, points=20, final=True), T0)
    assert not after_final.escalated
    shown = await ledger.get(top.violation_id)
    assert shown["tier"] == 3 and shown["points"] == 20 and shown["final"] is True
    assert [e["action"] for e in shown["audit"]] == ["recorded", "escalated", "escalated"]


async def test_undecidable_is_remembered_once(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    outcome = Undecidable(
        subject=Subject(rule="CS103", type="order", id="o-9", buyer_id="b-9"),
        deadline=T0,
        reason="no_version_before_deadline",
    )
    assert await ledger.record_undecidable("s", outcome, T0) is True
    assert await ledger.record_undecidable("s", outcome, T0) is False


async def test_waive_needs_who_and_why_and_keeps_the_trail(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    recorded = await ledger.record("s", breach(), T0)
    with pytest.raises(Refused, match="reason"):
        await ledger.set_status(recorded.violation_id, "waived", by="Chen", reason=" ", now=T0)
    with pytest.raises(Refused, match="by"):
        await ledger.set_status(recorded.violation_id, "waived", by="", reason="x", now=T0)
    waived = await ledger.set_status(
        recorded.violation_id, "waived", by="Chen", reason="buyer paid by bank transfer", now=T0
    )
    assert waived["status"] == "waived"
    assert waived["audit"][-1] == {
        "at": T0.isoformat(),
        "action": "waived",
        "by": "Chen",
        "reason": "buyer paid by bank transfer",
        "details": {"from": "open"},
    }
    with pytest.raises(Refused, match="already waived"):
        await ledger.set_status(recorded.violation_id, "confirmed", by="Chen", reason="", now=T0)
    assert [v["id"] for v in await ledger.find(status="waived")] == [recorded.violation_id]
    assert await ledger.find(status="open") == []


async def test_the_migrations_create_every_table_as_declared(engine: AsyncEngine) -> None:
    """Migrations and tables.py never drift apart (types, indexes, keys)."""
    from typing import Any

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from daemon.store.tables import metadata

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": migrate.compare_type}
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_a_url_without_a_driver_gets_the_asyncio_one(tmp_path: Path) -> None:
    from daemon.store.engine import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert engine.url.drivername == "sqlite+aiosqlite"
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def test_a_batch_mixing_new_recorded_and_escalating_breaches(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    first = await ledger.record_many(
        "s", [breach("o-1"), breach("m-1", tier=1, points=5, final=False)], T0
    )
    again = await ledger.record_many(
        "s",
        [breach("o-1"), breach("m-1", tier=2, points=10, final=False), breach("o-2")],
        T0 + timedelta(minutes=15),
    )
    assert [r.new for r in first] == [True, True]
    assert [(r.new, r.escalated, r.points_delta) for r in again] == [
        (False, False, 0),
        (False, True, 5),
        (True, False, 2),
    ]
    assert again[0].violation_id == first[0].violation_id
    assert again[1].violation_id == first[1].violation_id
    assert len(await ledger.find()) == 3
