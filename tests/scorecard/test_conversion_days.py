"""Conversion from the store, a week at a time, with final days kept (SPEC §4's conversion,
read as the score job and the console read it): the same figures as the pure computation
over every reply and payment at once, while a later computation reads only the days still
open — not three months of messages every few minutes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.model import Direction, Message, Order, OrderStatus, Stream
from daemon.config.settings import Settings
from daemon.scoring import records
from daemon.scoring.conversion import (
    AgentReply,
    MonthConversion,
    Payment,
    award_top,
    monthly_conversion,
)
from daemon.scoring.policy import ConversionPolicy
from daemon.scoring.records import ConversionDays, load_conversion, read_replies
from daemon.simulator.world import new_message, new_order
from daemon.store.observations import ObservationStore

from .support import NOVEMBER, POLICY, TZ, at, make_settings

RULES = POLICY.conversion
START = at("2026-08-25 00:00")
"""The history: from before the award streak's first month (September) to mid-December."""
DAYS = 110


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@dataclass
class History:
    """Random replies (some automatic, buyers shared between agents) and payments, many of
    them near the end of a window; stored as the platform shows them by a given time."""

    messages: list[Message] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)

    def replies(self, until: datetime) -> list[AgentReply]:
        return [
            AgentReply(shop="s", buyer_id=m.buyer_id, agent=m.agent_id or "", sent_at=m.sent_at)
            for m in self.messages
            if not m.is_auto and m.sent_at <= until
        ]

    def payments(self, until: datetime) -> list[Payment]:
        return [
            Payment(
                shop="s", buyer_id=o.buyer_id, order_id=o.id, paid_at=o.paid_at, amount=o.amount
            )
            for o in self.orders
            if o.paid_at is not None and o.updated_at <= until
        ]

    async def store(self, store: ObservationStore, until: datetime) -> None:
        """What the platform showed by ``until`` (a later poll adds what came after)."""
        await store.save_messages("s", [m for m in self.messages if m.sent_at <= until], until)
        await store.save_orders("s", [o for o in self.orders if o.updated_at <= until], until)


def history(seed: int) -> History:
    rng = random.Random(seed)
    found = History()
    for n in range(900):
        buyer = f"b{rng.randrange(40)}"
        agent = rng.choice(["a1", "a2", "a3"])
        when = START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        found.messages.append(
            new_message(
                message_id=f"m{n}",
                buyer_id=buyer,
                at=when,
                direction=Direction.AGENT,
                agent_id=agent,
                is_auto=rng.random() < 0.1,
                text="亲",
            )
        )
        if rng.random() < 0.5:  # the buyer pays within about a window, or just after one
            paid_at = when + timedelta(minutes=rng.choice([0, 5, 600, 1439, 1440, 1441, 2000]))
            amount = Decimal(rng.randrange(10, 500))
            order = new_order(order_id=f"o{n}", buyer_id=buyer, at=when, amount=amount)
            paid = replace(
                order,
                status=OrderStatus.PAID,
                paid_at=paid_at,
                updated_at=paid_at + timedelta(seconds=rng.randrange(3600)),
            )
            found.orders += [order, paid]
    return found


async def stored_history(store: ObservationStore, seed: int, now: datetime) -> History:
    """A history stored up to ``now``, both streams read up to it."""
    found = history(seed)
    await found.store(store, now)
    for stream in Stream:
        await store.start_stream("s", stream, START, START)
        await store.advance_watermark("s", stream, now, now)
    return found


def reference(
    replies: list[AgentReply],
    payments: list[Payment],
    complete_until: datetime,
    rules: ConversionPolicy = RULES,
) -> MonthConversion:
    """November's conversion and award from every reply and payment at once."""
    months = [NOVEMBER.plus(-back) for back in reversed(range(len(rules.top_awards)))]
    return award_top(
        [
            monthly_conversion(
                month=month,
                timezone=TZ,
                replies=replies,
                payments=payments,
                policy=rules,
                complete_until=complete_until,
            )
            for month in months
        ],
        rules,
    )


class ReplyReads:
    """The spans of replies a computation reads (a spy on the module's reader)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spans: list[tuple[datetime, datetime]] = []
        read = records.read_replies

        async def spied(
            engine: AsyncEngine, start: datetime, end: datetime, shops: Sequence[str]
        ) -> list[AgentReply]:
            self.spans.append((start, end))
            return await read(engine, start, end, shops)

        monkeypatch.setattr(records, "read_replies", spied)


@pytest.mark.parametrize("seed", [1, 2])
async def test_a_week_at_a_time_with_final_days_kept_is_the_whole_computation(
    engine: AsyncEngine, settings: Settings, seed: int
) -> None:
    store = ObservationStore(engine)
    shop = history(seed)
    for stream in Stream:
        await store.start_stream("s", stream, START, START)
    days = ConversionDays()
    # The month as it goes, the data arriving with it: mid-month, its last day, the window
    # after it, long after.
    for now in ("2026-11-16 09:30", "2026-11-30 23:59", "2026-12-01 23:59", "2026-12-10 12:00"):
        watermark = at(now) - timedelta(minutes=2)
        await shop.store(store, watermark)
        for stream in Stream:
            await store.advance_watermark("s", stream, watermark, at(now))
        kept = await load_conversion(engine, settings, NOVEMBER, RULES, now=at(now), days=days)
        afresh = await load_conversion(engine, settings, NOVEMBER, RULES, now=at(now))
        expected = reference(shop.replies(watermark), shop.payments(watermark), watermark)
        assert kept.agents == expected.agents, now
        assert afresh.agents == expected.agents, now
        assert kept.final is afresh.final is expected.final
    assert expected.final and sum(e.inquiries for e in expected.agents.values()) > 100
    assert any(e.top for e in expected.agents.values())


async def test_a_later_computation_reads_only_the_days_still_open(
    engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = at("2026-11-16 09:30")
    await stored_history(ObservationStore(engine), 3, now)
    days = ConversionDays()
    reads = ReplyReads(monkeypatch)
    first = await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    assert len(reads.spans) == 13, "September to November (91 days), a week at a time"
    assert max(end - start for start, end in reads.spans) == timedelta(days=8)
    reads.spans.clear()
    again = await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    assert again.agents == first.agents
    # Open: the 15th (its window reaches past the watermark) and every day after it.
    assert len(reads.spans) == 3  # 16 days, a week at a time
    assert min(start for start, _ in reads.spans) == at("2026-11-15 00:00")


async def test_when_every_day_is_final_nothing_is_read_again(
    engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = at("2026-12-10 12:00")
    await stored_history(ObservationStore(engine), 4, now)
    days = ConversionDays()
    first = await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    reads = ReplyReads(monkeypatch)
    again = await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    assert reads.spans == [] and again.agents == first.agents and again.final


async def test_a_changed_window_starts_afresh(engine: AsyncEngine, settings: Settings) -> None:
    now = at("2026-12-10 12:00")
    shop = await stored_history(ObservationStore(engine), 5, now)
    days = ConversionDays()
    await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    shorter = replace(RULES, window=timedelta(hours=2))
    found = await load_conversion(engine, settings, NOVEMBER, shorter, now=now, days=days)
    expected = reference(shop.replies(now), shop.payments(now), now, shorter)
    assert found.agents == expected.agents


async def test_the_replies_are_read_through_the_shop_and_time_index(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by its statistics, which an empty table does not have
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await read_replies(engine, at("2026-11-01 00:00"), at("2026-11-02 00:00"), ["s", "t"])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    (statement, parameters), *_ = captured
    async with engine.connect() as conn:
        plan = " | ".join(
            str(row[3])
            for row in await conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, tuple(parameters)
            )
        )
    assert "INDEX" in plan and "shop=? AND sent_at>? AND sent_at<?" in plan, plan


async def test_a_shop_new_to_the_store_starts_afresh(
    engine: AsyncEngine, settings: Settings
) -> None:
    """A shop added to the config back-fills days that were final without it: they are
    computed again with its history, not taken from what was kept."""
    now = at("2026-12-10 12:00")
    store = ObservationStore(engine)
    await stored_history(store, 6, now)
    days = ConversionDays()
    before = await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    late = new_message(
        message_id="t-1",
        buyer_id="b-t",
        at=at("2026-11-20 10:00"),
        direction=Direction.AGENT,
        agent_id="a9",
        text="亲",
    )
    await store.save_messages("t", [late], now)
    for stream in Stream:
        await store.start_stream("t", stream, START, START)
        await store.advance_watermark("t", stream, now, now)
    after = await load_conversion(engine, settings, NOVEMBER, RULES, now=now, days=days)
    assert "a9" not in before.agents and after.agents["a9"].inquiries == 1
    assert {a: e for a, e in after.agents.items() if a != "a9"} == before.agents


async def test_a_payment_reported_by_a_version_updated_up_to_a_day_earlier_counts(
    engine: AsyncEngine, settings: Settings
) -> None:
    """Payments are looked up by their version's update time (the (shop, updated_at) index):
    a payment updates the order, and a day of slack covers platform clocks that disagree.
    The week read that holds this inquiry starts at Nov 17's midnight (weeks from Sep 1),
    after the version's update."""
    now = at("2026-12-10 12:00")
    store = ObservationStore(engine)
    answer = new_message(
        message_id="m-1",
        buyer_id="b1",
        at=at("2026-11-17 00:30"),
        direction=Direction.AGENT,
        agent_id="a1",
        text="亲",
    )
    order = new_order(order_id="o-1", buyer_id="b1", at=at("2026-11-16 09:00"))
    skewed = replace(
        order,
        status=OrderStatus.PAID,
        paid_at=at("2026-11-17 01:00"),
        updated_at=at("2026-11-16 12:00"),  # 13 hours before the payment it reports
    )
    await store.save_messages("s", [answer], now)
    await store.save_orders("s", [order, skewed], now)
    for stream in Stream:
        await store.start_stream("s", stream, START, START)
        await store.advance_watermark("s", stream, now, now)
    found = await load_conversion(engine, settings, NOVEMBER, RULES, now=now)
    assert (found.agents["a1"].inquiries, found.agents["a1"].converted) == (1, 1)
