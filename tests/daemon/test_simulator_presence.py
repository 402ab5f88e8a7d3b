"""The demo's people at their posts: the simulated shop serves ``/presence`` (SPEC §5) with
agents logging in late, stepping away, a stretch with nobody online and a skipped lunch;
the demo approves the lunch breaks as leaves and writes every handover note but one. So each
of CS108–CS112 finds something in the back-filled history at the first evaluation."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.business_time import BusinessCalendar
from checks.evidence import StreamBounds, Watermarks
from checks.presence import KnownSpan, PresenceSource, PresenceTimeline
from checks.registry import BY_CODE
from checks.shop_evidence import HandoverNote, Leave, ShopEvidence
from checks.subject import Breach
from connectors.model import AgentPresence
from daemon.config.settings import Settings, load
from daemon.demo import PeopleBooks, write_demo_config
from daemon.simulator.app import make_simulator_app
from daemon.simulator.scenario import PRESENCE_HISTORY, Scenario
from daemon.simulator.world import World
from daemon.store.people import PeopleBook
from tests.conftest import FakeClock

NOWS = [
    datetime(2026, 11, 4, 6, 0, tzinfo=UTC),  # Wednesday 14:00 in Shanghai
    datetime(2026, 11, 8, 0, 30, tzinfo=UTC),  # Sunday 08:30
    datetime(2026, 11, 9, 15, 0, tzinfo=UTC),  # Monday 23:00
]


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load(write_demo_config(tmp_path_factory.mktemp("demo")))


def backfilled(calendar: BusinessCalendar, settings: Settings, now: datetime) -> World:
    world = World()
    scenario = Scenario(world, calendar, [a.id for a in settings.agents])
    scenario.backfill(now)
    scenario.step(now)
    return world


async def test_presence_is_served_as_an_event_stream_paged_in_order(
    demo_settings: Settings,
) -> None:
    now = NOWS[0]
    world = backfilled(demo_settings.calendar(), demo_settings, now)
    app = make_simulator_app(world, "t")
    async with TestClient(TestServer(app)) as http:
        seen: list[dict[str, str]] = []
        token = None
        pages = 0
        while True:
            params = {"since": (now - timedelta(days=2)).isoformat(), "limit": "10"}
            if token:
                params["page_token"] = token
            response = await http.get(
                "/presence", params=params, headers={"Authorization": "Bearer t"}
            )
            assert response.status == 200
            body = await response.json()
            seen += body["events"]
            pages += 1
            token = body["next_page_token"]
            if token is None:
                break
        assert pages > 1 and len(seen) == len(world.presence_events)
        keys = [(e["at"], e["id"]) for e in seen]
        assert keys == sorted(keys)
        world.report_presence_events = False  # then the daemon samples /agents
        response = await http.get(
            "/presence", params={"since": now.isoformat()}, headers={"Authorization": "Bearer t"}
        )
        assert response.status == 404


@pytest.mark.parametrize("now", NOWS, ids=["wed-14", "sun-0830", "mon-23"])
async def test_every_rule_about_people_finds_something_in_the_history(
    demo_settings: Settings, engine: AsyncEngine, now: datetime
) -> None:
    calendar = demo_settings.calendar()
    world = backfilled(calendar, demo_settings, now)
    books = PeopleBooks(demo_settings, engine, FakeClock(now))
    await books.write_leaves()
    await books.write_notes()
    assert books.missing is not None
    people = PeopleBook(engine)
    leaves = [Leave(agent=x.agent, start=x.start, end=x.end) for x in await people.leaves()]
    notes = [
        HandoverNote(id=n.id, shift=n.shift, day=n.day, by=n.by, written_at=n.written_at)
        for n in await people.handovers()
    ]
    assert leaves and notes
    start = now - PRESENCE_HISTORY
    events = sorted(world.presence_events.values(), key=lambda e: (e.at, e.id))
    presence = PresenceTimeline(
        source=PresenceSource.EVENTS,
        statuses=[AgentPresence(agent_id=e.agent_id, status=e.status, since=e.at) for e in events],
        spans=[KnownSpan(start=start, end=now)],
        settled_until=now,
        roster=demo_settings.roster,
    )
    bounds = StreamBounds(history_start=start, watermark=now)
    evidence = ShopEvidence(
        shop="demo",
        calendar=calendar,
        shifts=demo_settings.shifts,
        presence=presence,
        leaves=leaves,
        handovers=notes,
        watermarks=Watermarks(orders=bounds, chat=bounds),
        history_start=start,
        since=start,
        now=now,
        roster=demo_settings.roster,
    )
    found: Counter[str] = Counter()
    for code in ("CS108", "CS109", "CS110", "CS111", "CS112"):
        rule = BY_CODE[code]
        options = demo_settings.rules[code]
        for outcome in rule.evaluate(evidence, options):
            if isinstance(outcome, Breach):
                found[code] += 1
                if code == "CS108":
                    assert (outcome.subject.id.split("@")[0], outcome.subject.id) == (
                        books.missing[0],
                        f"{books.missing[0]}@{books.missing[1].isoformat()}",
                    )
    assert set(found) == {"CS108", "CS109", "CS110", "CS111", "CS112"}, found
    assert found["CS108"] == 1  # only the one missing note


async def test_the_demo_writes_the_notes_of_shifts_ending_while_it_runs(
    demo_settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = FakeClock(NOWS[0])
    books = PeopleBooks(demo_settings, engine, clock)
    await books.write_notes()
    before = len(await PeopleBook(engine).handovers())
    clock.advance(timedelta(hours=12))  # past the end of Wednesday's day and night shifts
    await books.write_notes()
    after = await PeopleBook(engine).handovers()
    assert len(after) == before + 2
    assert all(n.written_at <= clock.now() for n in after)
