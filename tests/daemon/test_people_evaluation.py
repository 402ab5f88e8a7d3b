"""The rules about people at their posts through the daemon's evaluator (SPEC §3 "Presence",
CS108–CS112; §6 metrics), from presence and leaves as the store holds them: CS109–CS112 are
recorded with their shop and CS108 with none (the metric label ``shop`` empty); who is online
per shift and whether presence is known are exported; a shop whose connector reports no
presence is counted undecidable ``no_presence`` once per rule, across evaluations and
restarts. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.model import PresenceEvent, PresenceStatus, Stream
from daemon.config.settings import Settings
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore
from daemon.store.people import PeopleBook
from daemon.store.presence import PresenceStore
from daemon.watch.evaluator import ShopEvaluator
from daemon.watch.metrics import Metrics
from tests.conftest import FakeClock
from tests.scorecard.support import at, make_settings

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
NOW = at("2026-11-02 12:00")  # Monday noon; the history begins Sunday noon
HISTORY = NOW - timedelta(days=1)
WATERMARK = NOW - timedelta(minutes=1)


async def polled(store: ObservationStore) -> dict[Stream, Any]:
    """Both streams read up to a minute ago, as pollers would leave them."""
    pollers: dict[Stream, Any] = {}
    for stream in Stream:
        await store.start_stream("s", stream, HISTORY, NOW)
        await store.advance_watermark("s", stream, WATERMARK, NOW)
        state = await store.stream_state("s", stream)
        pollers[stream] = type("Polled", (), {"state": state})()
    return pollers


async def evaluator_for(
    engine: AsyncEngine, settings: Settings, clock: FakeClock
) -> tuple[ShopEvaluator, Metrics]:
    store = ObservationStore(engine)
    metrics = Metrics(version="test", roster=settings.roster)
    evaluator = ShopEvaluator(
        shop="s",
        settings=settings,
        store=store,
        ledger=Ledger(engine),
        metrics=metrics,
        clock=clock,
        pollers=await polled(store),
    )
    return evaluator, metrics


def event(n: int, agent: str, status: PresenceStatus, when: str) -> PresenceEvent:
    return PresenceEvent(id=f"e{n}", agent_id=agent, status=status, at=at(when))


async def test_the_rules_about_people_are_recorded_with_their_shop_and_the_team_with_none(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "sqlite://", people_rules=True)
    presence = PresenceStore(engine)
    await presence.save_events(
        "s",
        [
            event(1, "a3", ONLINE, "2026-11-01 11:00"),  # before the history: known from it
            event(2, "a1", OFFLINE, "2026-11-01 11:00"),
            event(3, "a2", OFFLINE, "2026-11-01 11:00"),
            event(4, "a3", OFFLINE, "2026-11-02 00:00"),
            event(5, "a1", ONLINE, "2026-11-02 08:20"),
            event(6, "a2", ONLINE, "2026-11-02 08:50"),  # 20 minutes late: CS111 tier 2
            event(7, "a1", AWAY, "2026-11-02 10:00"),  # away 10 minutes: CS109
            event(8, "a1", ONLINE, "2026-11-02 10:10"),
        ],
        NOW,
    )
    await presence.extend_known("s", "events", HISTORY, WATERMARK, end_included=False)
    await presence.set_source("s", "events", NOW)
    people = PeopleBook(engine)
    await people.add_leave(
        agent="a2",
        start=at("2026-11-02 11:30").isoformat(),
        end=at("2026-11-02 13:00").isoformat(),
        by="Chen",
        reason="dentist",
        now=NOW,
        roster=settings.roster,
    )
    clock = FakeClock(NOW)
    evaluator, metrics = await evaluator_for(engine, settings, clock)
    await evaluator.tick()

    ledger = Ledger(engine)
    (handover,) = await ledger.find(rule="CS108", agent="a3")
    assert handover["subject"]["id"] == "night@2026-11-01"
    assert handover["shop"] is None  # the team's, not the shop's
    (away,) = await ledger.find(rule="CS109")
    assert (away["shop"], away["agent"], away["subject"]["id"]) == (
        "s",
        "a1",
        "a1@2026-11-02T02:00:00Z",
    )
    (late,) = await ledger.find(rule="CS111", agent="a2")
    assert (late["shop"], late["tier"], late["points"]) == ("s", 2, 5)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    def totals() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for m in metrics.registry.collect()
            if m.name in ("shopwatch_violations", "shopwatch_undecidable")
            for s in m.samples
            if s.name.endswith("_total")
        }

    totals()  # a first scrape shows a new violation series at 0 (see the metrics module)
    assert value("shopwatch_violations_total", shop="", rule="CS108", agent="a3") == 1
    assert value("shopwatch_violations_total", shop="s", rule="CS109", agent="a1") == 1
    assert value("shopwatch_presence_known", shop="s") == 1
    # a2 is on leave: not expected, and not counted online although online
    assert value("shopwatch_agents_on_duty", shop="s", shift="day") == 1
    assert value("shopwatch_agents_online", shop="s", shift="day") == 1
    assert value("shopwatch_agents_online", shop="s", shift="night") == 0

    # a minute later with nothing new read: nothing is recorded or counted again
    before = totals()
    clock.advance(timedelta(minutes=1))
    await evaluator.tick()
    assert before and totals() == before
    # presence read two minutes ago and no more (2 × poll_interval + settle = 2 min): not
    # known now, and nobody is counted online
    assert value("shopwatch_presence_known", shop="s") == 1
    clock.advance(timedelta(seconds=1))
    evaluator.shop_judged = None
    await evaluator.tick()
    assert value("shopwatch_presence_known", shop="s") == 0
    assert value("shopwatch_agents_online", shop="s", shift="day") == 0
    assert value("shopwatch_agents_on_duty", shop="s", shift="day") == 1


async def test_a_shop_without_presence_is_counted_once_per_rule(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "sqlite://", people_rules=True)
    await PresenceStore(engine).set_source("s", "none", NOW)
    clock = FakeClock(NOW)
    for process in range(2):  # a second process (a restart) finds it in the store
        evaluator, metrics = await evaluator_for(engine, settings, clock)
        await evaluator.tick()
        clock.advance(timedelta(minutes=1))
        await evaluator.tick()
        counted = {
            code: metrics.registry.get_sample_value(
                "shopwatch_undecidable_total",
                {"shop": "s", "rule": code, "reason": "no_presence"},
            )
            for code in ("CS109", "CS110", "CS111", "CS112")
        }
        if process == 0:
            assert counted == dict.fromkeys(counted, 1)
        else:
            assert not any(counted.values()), counted  # counted by the first process only
        assert metrics.registry.get_sample_value("shopwatch_presence_known", {"shop": "s"}) == 0
    assert await Ledger(engine).find(rule="CS109") == []
