"""The poller: paging, watermark = poll start − settle, retries, rejection, isolation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import structlog.testing
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable
from connectors.model import Direction, Page, Stream
from daemon.simulator.world import new_message, new_order
from daemon.store.observations import ObservationStore
from daemon.watch.metrics import Metrics
from daemon.watch.poller import RetryPolicy, StreamPoller
from tests.conftest import FakeClock

from .fakes import ScriptedSource, SleepRecorder, page, settings_for


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


class Harness:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: FakeClock,
        tmp_path: Path,
        stream: Stream,
        source: ScriptedSource,
    ) -> None:
        settings = settings_for(tmp_path, database_url="sqlite://")
        self.metrics = Metrics(version="test", roster=settings.roster)
        self.store = ObservationStore(engine)
        self.sleep = SleepRecorder()
        self.new: list[object] = []
        self.poller = StreamPoller(
            shop="s",
            settings=settings.shops[0].stream(stream),
            source=source,
            store=self.store,
            metrics=self.metrics,
            clock=clock,
            on_new_data=lambda shop, s, records: self.new.extend(records),
            sleep=self.sleep,
            retry=RetryPolicy(attempts=3, base_delay=1.0),
        )


async def test_first_poll_reads_backfill_then_moves_watermark_to_start_minus_settle(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t = clock.now()
    orders = [
        new_order(order_id=f"o-{i}", buyer_id="b-1", at=t - timedelta(hours=i)) for i in range(3)
    ]
    source = ScriptedSource([page(orders[0], orders[1], next_token="p2"), page(orders[2])])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is True
    assert source.calls == [(t - timedelta(hours=24), None), (t - timedelta(hours=24), "p2")]
    assert len(h.new) == 3
    assert h.poller.state is not None
    assert h.poller.state.watermark == t - timedelta(seconds=60)
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="orders") == 1
    assert (
        sample(h.metrics, "shopwatch_watermark_timestamp_seconds", shop="s", stream="orders")
        == (t - timedelta(seconds=60)).timestamp()
    )

    clock.advance(timedelta(seconds=30))
    source.steps = [page(orders[0])]  # the overlap window is read again …
    assert await h.poller.poll() is True
    assert source.calls[-1] == (t - timedelta(seconds=60), None)  # … from the watermark
    assert len(h.new) == 3  # … and de-duplicated


async def test_a_bad_page_is_rejected_counted_and_the_watermark_stays(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t = clock.now()
    good = new_message(message_id="m-1", buyer_id="b", at=t, direction=Direction.BUYER, text="?")
    source = ScriptedSource(
        [page(good, next_token="p2"), BadResponse("not RFC 3339", field="messages[0].sent_at")]
    )
    h = Harness(engine, clock, tmp_path, Stream.CHAT, source)
    with structlog.testing.capture_logs() as logs:
        assert await h.poller.poll() is False
    (rejected,) = [e for e in logs if e["event"] == "page rejected"]
    assert rejected["field"] == "messages[0].sent_at"  # the log line names what drifted
    assert rejected["shop"] == "s" and rejected["stream"] == "chat"
    assert h.poller.state is not None
    assert h.poller.state.watermark == t - timedelta(hours=24)
    assert sample(h.metrics, "shopwatch_pages_rejected_total", shop="s", stream="chat") == 1
    assert (
        sample(
            h.metrics, "shopwatch_poll_errors_total", shop="s", stream="chat", reason="bad_response"
        )
        == 1
    )
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="chat") == 0
    assert h.sleep.delays == []  # a bad page is not retried within the poll
    clock.advance(timedelta(seconds=30))
    source.steps = [page(good)]
    assert await h.poller.poll() is True
    assert source.calls[-1][0] == t - timedelta(hours=24)  # re-read from the same cursor


async def test_transient_errors_retry_with_backoff_and_honour_retry_after(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    source = ScriptedSource([Unavailable("HTTP 502"), RateLimited("429", retry_after=7), page()])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is True
    assert len(h.sleep.delays) == 2
    assert 0.5 <= h.sleep.delays[0] <= 1.0  # first backoff, with jitter
    assert h.sleep.delays[1] == 7  # Retry-After wins


async def test_retries_give_up_and_the_poll_fails(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    source = ScriptedSource([Unavailable("a"), Unavailable("b"), Unavailable("c")])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is False
    assert len(source.calls) == 3 and len(h.sleep.delays) == 2
    assert (
        sample(
            h.metrics,
            "shopwatch_poll_errors_total",
            shop="s",
            stream="orders",
            reason="unavailable",
        )
        == 1
    )


async def test_a_long_retry_after_fails_the_poll_instead_of_stalling_it(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    source = ScriptedSource([RateLimited("ban", retry_after=3600)])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is False
    assert h.sleep.delays == []


async def test_refused_credentials_mark_the_stream_and_are_not_retried(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    source = ScriptedSource([AuthFailed("HTTP 401"), page()])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is False
    assert len(source.calls) == 1
    assert sample(h.metrics, "shopwatch_stream_auth_failed", shop="s", stream="orders") == 1
    assert h.poller.auth_failed
    assert await h.poller.poll() is True  # the token file was fixed
    assert sample(h.metrics, "shopwatch_stream_auth_failed", shop="s", stream="orders") == 0


@pytest.mark.parametrize("presence", [None, []])
async def test_chat_poll_without_presence_still_succeeds(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path, presence: list[object] | None
) -> None:
    source = ScriptedSource([page()])
    source.presence = presence  # type: ignore[assignment]
    h = Harness(engine, clock, tmp_path, Stream.CHAT, source)
    assert await h.poller.poll() is True


async def test_a_source_that_knows_where_its_data_ends_caps_the_watermark(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """The ``files`` chat source: exports cover up to a point; the watermark stops there."""
    t = clock.now()
    end_of_exports = t - timedelta(hours=2)
    message = new_message(
        message_id="m-1",
        buyer_id="b-1",
        direction=Direction.BUYER,
        at=t - timedelta(hours=3),
        text="in stock?",
    )
    source = ScriptedSource(
        [
            Page(items=(message,), next_page_token="p2", complete_until=end_of_exports),
            Page(items=(), next_page_token=None, complete_until=t - timedelta(hours=1)),
        ]
    )
    h = Harness(engine, clock, tmp_path, Stream.CHAT, source)
    assert await h.poller.poll() is True
    assert h.poller.state is not None and h.poller.state.watermark == end_of_exports
    clock.advance(timedelta(minutes=1))
    source.steps = [Page(items=(), next_page_token=None)]  # no bound: the poll's own
    assert await h.poller.poll() is True
    assert h.poller.state.watermark == clock.now() - timedelta(seconds=60)
