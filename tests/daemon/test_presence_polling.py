"""Presence read with the chat stream and stored with where it is known (SPEC §3, §5).

The event stream is paged like messages, from the chat watermark, re-reading the settle
overlap; it is known from the history start up to the watermark, across restarts. Without an
event stream every chat poll samples the agents: known between two consecutive samples of
one process at most 2 × poll_interval apart, so a restart or a long outage leaves a gap.
Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from checks.business_time import BusinessCalendar
from checks.evidence import StreamBounds, Watermarks
from checks.presence import PresenceSource, PresenceTimeline
from connectors.errors import Unavailable
from connectors.files.client import ExportDirectory
from connectors.files.normalize import CsvFormat
from connectors.files.source import FilesChatSource
from connectors.model import AgentPresence, Page, PresenceEvent, PresenceStatus
from daemon.store.observations import ObservationStore
from daemon.store.presence import PresenceStore
from daemon.watch.judge import Judge
from daemon.watch.metrics import Metrics
from daemon.watch.poller import RetryPolicy, StreamPoller
from tests.conftest import FakeClock
from tests.connectors.support import FIXTURES

from .fakes import ScriptedSource, SleepRecorder, settings_for

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
SETTLE = timedelta(seconds=60)
POLL = timedelta(seconds=30)


class EventSource(ScriptedSource):
    """A chat source with a scripted ``/presence`` stream (None: it answers 404)."""

    def __init__(self, events: list[Page[PresenceEvent] | Exception] | None) -> None:
        super().__init__()
        self.events = events
        self.event_calls: list[tuple[datetime, str | None]] = []

    async def fetch_presence_events(
        self, since: datetime, page_token: str | None
    ) -> Page[PresenceEvent] | None:
        self.event_calls.append((since, page_token))
        if self.events is None:
            return None
        step = self.events.pop(0) if self.events else Page(items=(), next_page_token=None)
        if isinstance(step, Exception):
            raise step
        return step


def ev(event_id: str, agent: str, status: PresenceStatus, at: datetime) -> PresenceEvent:
    return PresenceEvent(id=event_id, agent_id=agent, status=status, at=at)


def poller_for(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path, source: ScriptedSource
) -> StreamPoller:
    settings = settings_for(tmp_path, database_url="sqlite://")
    return StreamPoller(
        shop="s",
        settings=settings.shops[0].chat,
        source=source,
        store=ObservationStore(engine),
        metrics=Metrics(version="test", roster=settings.roster),
        clock=clock,
        on_new_data=lambda shop, stream, records: None,
        sleep=SleepRecorder(),
        retry=RetryPolicy(attempts=1),
    )


async def timeline_of(
    engine: AsyncEngine, poller: StreamPoller, since: datetime
) -> PresenceTimeline:
    state = poller.state
    assert state is not None
    bounds = StreamBounds(history_start=state.history_start, watermark=state.watermark)
    calendar = BusinessCalendar(timezone=ZoneInfo("Asia/Shanghai"), shifts=())
    judge = Judge(shop="s", rules=[], calendar=calendar, roster=frozenset({"a1", "a2"}))
    return await judge.timeline(
        ObservationStore(engine), Watermarks(orders=bounds, chat=bounds), since
    )


async def test_the_event_stream_is_paged_from_the_watermark_and_known_up_to_it(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t0 = clock.now()
    history = t0 - timedelta(hours=24)
    source = EventSource(
        [
            Page(
                items=(ev("e1", "a1", ONLINE, t0 - timedelta(hours=2)),),
                next_page_token="p2",
            ),
            Page(items=(ev("e2", "a1", AWAY, t0 - timedelta(minutes=10)),), next_page_token=None),
        ]
    )
    poller = poller_for(engine, clock, tmp_path, source)
    assert await poller.poll() is True
    assert source.event_calls == [(history, None), (history, "p2")]
    store = PresenceStore(engine)
    stored = await store.load("s", history)
    assert stored.kind == "events"
    assert [(k.start, k.end, k.end_included) for k in stored.known] == [
        (history, t0 - SETTLE, False)
    ]
    timeline = await timeline_of(engine, poller, history)
    assert timeline.source is PresenceSource.EVENTS
    assert timeline.status_at("a1", t0 - timedelta(minutes=11)) is ONLINE
    assert timeline.status_at("a1", t0 - SETTLE - timedelta(microseconds=1)) is AWAY
    assert timeline.status_at("a1", t0 - SETTLE) is None  # not below the watermark yet

    # the next poll re-reads the settle overlap from the watermark; duplicates are harmless
    clock.advance(POLL)
    source.events = [
        Page(
            items=(
                ev("e2", "a1", AWAY, t0 - timedelta(minutes=10)),
                ev("e3", "a1", ONLINE, t0 - timedelta(seconds=20)),
            ),
            next_page_token=None,
        )
    ]
    assert await poller.poll() is True
    assert source.event_calls[-1] == (t0 - SETTLE, None)
    stored = await store.load("s", history)
    assert [e.since for e in stored.statuses] == [
        t0 - timedelta(hours=2),
        t0 - timedelta(minutes=10),
        t0 - timedelta(seconds=20),
    ]
    assert [(k.start, k.end) for k in stored.known] == [(history, t0 + POLL - SETTLE)]

    # a restart (a new poller on the same store) continues without a gap
    clock.advance(timedelta(minutes=5))
    restarted = poller_for(engine, clock, tmp_path, EventSource([]))
    assert await restarted.poll() is True
    stored = await store.load("s", history)
    assert [(k.start, k.end) for k in stored.known] == [(history, clock.now() - SETTLE)]


async def test_a_failing_presence_page_keeps_the_watermark_and_what_is_known(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t0 = clock.now()
    source = EventSource([Unavailable("down")])
    poller = poller_for(engine, clock, tmp_path, source)
    assert await poller.poll() is False
    assert poller.state is not None and poller.state.watermark == t0 - timedelta(hours=24)
    stored = await PresenceStore(engine).load("s", t0 - timedelta(hours=24))
    assert stored.kind is None and stored.known == []


async def test_without_an_event_stream_samples_are_known_between_close_samples(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t0 = clock.now()
    source = EventSource(None)  # /presence answers 404
    source.presence = [
        AgentPresence(agent_id="a1", status=ONLINE, since=t0 - timedelta(hours=3)),
        AgentPresence(agent_id="a2", status=ONLINE, since=t0 - timedelta(hours=3)),
    ]
    poller = poller_for(engine, clock, tmp_path, source)
    store = PresenceStore(engine)
    assert await poller.poll() is True
    stored = await store.load("s", t0 - timedelta(days=1))
    assert stored.kind == "samples" and stored.known == []  # one sample knows no interval
    assert stored.last_sample_at == t0
    # the sample's own instant, not status_since: the earlier sample holds until the next
    assert {(s.agent_id, s.since) for s in stored.statuses} == {("a1", t0), ("a2", t0)}

    t1 = clock.advance(2 * POLL)  # exactly 2 × poll_interval later: still consecutive
    source.presence = [AgentPresence(agent_id="a1", status=AWAY, since=t1)]  # a2 not listed
    assert await poller.poll() is True
    stored = await store.load("s", t0 - timedelta(days=1))
    assert [(k.start, k.end, k.end_included) for k in stored.known] == [(t0, t1, True)]
    timeline = await timeline_of(engine, poller, t0 - timedelta(days=1))
    assert timeline.status_at("a1", t1 - timedelta(microseconds=1)) is ONLINE
    assert timeline.status_at("a1", t1) is AWAY
    assert timeline.status_at("a2", t1) is OFFLINE  # a sample that omits an agent

    t2 = clock.advance(2 * POLL + timedelta(seconds=1))  # too far apart: a gap
    assert await poller.poll() is True
    t3 = clock.advance(POLL)
    assert await poller.poll() is True
    stored = await store.load("s", t0 - timedelta(days=1))
    assert [(k.start, k.end) for k in stored.known] == [(t0, t1), (t2, t3)]

    # a restart: the new process's first sample begins a new span, the gap stays unknown
    t4 = clock.advance(POLL)
    restarted = poller_for(engine, clock, tmp_path, source)
    assert await restarted.poll() is True
    t5 = clock.advance(POLL)
    assert await restarted.poll() is True
    stored = await store.load("s", t0 - timedelta(days=1))
    assert [(k.start, k.end) for k in stored.known] == [(t0, t1), (t2, t3), (t4, t5)]
    timeline = await timeline_of(engine, restarted, t0 - timedelta(days=1))
    assert timeline.status_at("a1", t4 - timedelta(seconds=1)) is None
    assert timeline.status_at("a1", t4) is AWAY


async def test_a_failed_poll_between_two_samples_does_not_break_the_span(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t0 = clock.now()
    source = EventSource(None)
    source.presence = [AgentPresence(agent_id="a1", status=ONLINE, since=t0)]
    poller = poller_for(engine, clock, tmp_path, source)
    assert await poller.poll() is True
    clock.advance(POLL)
    source.steps = [Unavailable("down")]
    assert await poller.poll() is False
    t2 = clock.advance(POLL)
    assert await poller.poll() is True
    stored = await PresenceStore(engine).load("s", t0 - timedelta(days=1))
    assert [(k.start, k.end) for k in stored.known] == [(t0, t2)]


async def test_a_shop_without_presence_is_recorded_as_such(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    source = EventSource(None)
    source.presence = None  # /agents answers 404 too
    poller = poller_for(engine, clock, tmp_path, source)
    assert await poller.poll() is True
    stored = await PresenceStore(engine).load("s", clock.now() - timedelta(days=1))
    assert (stored.kind, stored.statuses, stored.known) == ("none", [], [])
    timeline = await timeline_of(engine, poller, clock.now() - timedelta(days=1))
    assert timeline.reported is False


async def test_extend_known_grows_a_touching_span_and_starts_a_new_one_otherwise(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    store = PresenceStore(engine)
    t = clock.now()
    m = timedelta(minutes=1)
    await store.extend_known("s", "samples", t, t + m, end_included=True)
    await store.extend_known("s", "samples", t + m, t + 2 * m, end_included=True)
    await store.extend_known("s", "samples", t + 3 * m, t + 4 * m, end_included=True)
    await store.extend_known("s", "samples", t + m, t + 2 * m, end_included=True)  # again
    await store.extend_known("s", "events", t, t + 9 * m, end_included=False)  # another kind
    await store.set_source("s", "samples", t, last_sample_at=t + 4 * m)
    stored = await store.load("s", t - m)
    assert [(k.start, k.end) for k in stored.known] == [(t, t + 2 * m), (t + 3 * m, t + 4 * m)]
    assert [(k.start, k.end) for k in (await store.load("s", t + 2 * m + m / 2)).known] == [
        (t + 3 * m, t + 4 * m)
    ]


async def test_presence_exported_to_files_is_stored_as_exact_events_known_to_the_export(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """The files connector is an event source too: each exported status change is stored at
    its own time (not at the poll's), and presence is known exactly as far as the exports
    cover, where the chat watermark stops."""
    day1 = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 2026-11-27 00:00 Beijing
    day2 = day1 + timedelta(days=1)
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copyfile(FIXTURES / "files" / "chat-2026-11-27.jsonl", exports / "day.jsonl")
    clock.set(day2 + timedelta(hours=1))
    source = FilesChatSource(
        directory=ExportDirectory(exports, quiet_seconds=0),
        csv_format=CsvFormat(),
        presence=True,
        page_size=500,
        clock=clock.now,
    )
    poller = poller_for(engine, clock, tmp_path, source)  # type: ignore[arg-type]
    assert await poller.poll() is True
    since = clock.now() - timedelta(hours=24)
    assert poller.presence_kind == "events"
    assert poller.state is not None and poller.state.watermark == day2, "the export's end"
    stored = await PresenceStore(engine).load("s", since)
    assert stored.kind == "events"
    assert [(p.status, p.since) for p in stored.statuses] == [
        (ONLINE, datetime(2026, 11, 27, 0, 29, 40, tzinfo=UTC)),
        (AWAY, datetime(2026, 11, 27, 4, 0, tzinfo=UTC)),
        (ONLINE, datetime(2026, 11, 27, 5, 0, tzinfo=UTC)),
        (OFFLINE, datetime(2026, 11, 27, 9, 31, tzinfo=UTC)),
    ]
    assert [(k.start, k.end, k.end_included) for k in stored.known] == [(since, day2, False)]
    timeline = await timeline_of(engine, poller, since)
    assert timeline.status_at("a1", datetime(2026, 11, 27, 4, 30, tzinfo=UTC)) is AWAY


async def test_how_presence_is_read_is_written_again_after_a_closing_commit_failed(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """Nothing is remembered as written before it is: a poll whose closing transaction
    failed leaves no presence source behind, so the next poll writes it."""
    poller = poller_for(engine, clock, tmp_path, EventSource([]))
    store = poller.store
    advance = store.advance_watermark

    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    store.advance_watermark = broken  # type: ignore[method-assign]
    assert await poller.poll() is False
    assert poller.storage_failure is not None
    assert (await PresenceStore(engine).load("s", clock.now() - timedelta(days=1))).kind is None

    store.advance_watermark = advance  # type: ignore[method-assign]
    clock.advance(POLL)
    assert await poller.poll() is True
    assert (await PresenceStore(engine).load("s", clock.now() - timedelta(days=1))).kind == "events"


async def test_a_sample_whose_poll_failed_to_commit_is_not_remembered(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """Sampled presence is known from one written sample to the next: a sample taken by a
    poll whose closing transaction failed was never written, so the span runs from the last
    sample that was, not from the lost one."""
    t0 = clock.now()
    source = EventSource(None)  # /presence answers 404: /agents is sampled
    source.presence = [AgentPresence(agent_id="a1", status=ONLINE, since=t0)]
    poller = poller_for(engine, clock, tmp_path, source)
    assert await poller.poll() is True
    store = poller.store
    advance = store.advance_watermark

    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    clock.advance(POLL)
    store.advance_watermark = broken  # type: ignore[method-assign]
    assert await poller.poll() is False
    store.advance_watermark = advance  # type: ignore[method-assign]
    t2 = clock.advance(POLL)
    assert await poller.poll() is True
    stored = await PresenceStore(engine).load("s", t0 - timedelta(days=1))
    assert [(k.start, k.end) for k in stored.known] == [(t0, t2)]
    assert stored.last_sample_at == t2
