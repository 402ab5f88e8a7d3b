"""The console's scorecards: the ledger's side is read at every view, so any change shows at
once (even one written with an older clock, as another process's may be); the conversion is
kept until a stream's state changes or one of its months becomes final. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.model import Stream
from daemon.console.cards import Scorecards
from daemon.store.observations import ObservationStore
from daemon.store.tables import violations
from tests.scorecard.support import NOVEMBER, POLICY, at, make_settings

NOW = at("2026-11-20 12:00")


async def test_every_change_shows_and_the_conversion_is_kept_while_it_holds(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, database_url)
    cards = Scorecards(engine)
    deadline = at("2026-11-10 10:00")
    async with engine.begin() as conn:
        await conn.execute(
            insert(violations),
            [
                {
                    "shop": "s",
                    "rule": "CS101",
                    "subject_type": "order",
                    "subject_id": "o-1",
                    "agent": "a1",
                    "deadline": deadline,
                    "detected_at": deadline,
                    "updated_at": NOW,
                    "points": 2,
                    "fine": "0",
                    "status": "open",
                    "final": True,
                    "source": "rule",
                    "evidence": {},
                }
            ],
        )
    card = await cards.get(settings, NOVEMBER, policy=POLICY, now=NOW)
    assert (card.agent("a1").score, card.agent("a2").score) == (78, 80)

    # Another process moves it to a2 with a clock a minute behind: same count, same points,
    # no newer change time. The next view shows it.
    async with engine.begin() as conn:
        await conn.execute(
            update(violations).values(agent="a2", updated_at=NOW - timedelta(minutes=1))
        )
    card = await cards.get(settings, NOVEMBER, policy=POLICY, now=NOW)
    assert (card.agent("a1").score, card.agent("a2").score) == (80, 78)

    kept = await cards.conversion(settings, NOVEMBER, policy=POLICY, now=NOW)
    assert await cards.conversion(settings, NOVEMBER, policy=POLICY, now=NOW) is kept
    assert not kept.final
    store = ObservationStore(engine)
    await store.start_stream("s", Stream.CHAT, NOW - timedelta(days=40), NOW)
    polled = await cards.conversion(settings, NOVEMBER, policy=POLICY, now=NOW)
    assert polled is not kept
    assert await cards.conversion(settings, NOVEMBER, policy=POLICY, now=NOW) is polled
    await store.advance_watermark("s", Stream.CHAT, NOW, NOW + timedelta(seconds=30))
    assert await cards.conversion(settings, NOVEMBER, policy=POLICY, now=NOW) is not polled

    # November is final once its last window has closed on complete data: the watermarks
    # are past it, and then the clock too.
    later = at("2026-12-03 00:00")
    await store.start_stream("s", Stream.ORDERS, NOW - timedelta(days=40), NOW)
    for stream in (Stream.CHAT, Stream.ORDERS):
        await store.advance_watermark("s", stream, later, NOW + timedelta(minutes=1))
    before = await cards.conversion(settings, NOVEMBER, policy=POLICY, now=at("2026-12-01 12:00"))
    assert before.final is False
    final = await cards.conversion(settings, NOVEMBER, policy=POLICY, now=later)
    assert final.final is True and final is not before
