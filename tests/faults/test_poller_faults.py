"""A poll never hangs, never loops for ever and never reads healthy while it cannot store.

- a server trickling its answer is cut off at the stream's ``timeout`` (total, not per read);
- a page token that comes back in the same poll, or paging past the cap, rejects the poll;
- a ban longer than the retry policy waits pauses the stream until it ends, visibly;
- a store that refuses writes takes the stream down and leaves the watermark where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.errors import RateLimited
from connectors.generic.client import GenericShopClient
from connectors.model import Order, Page, Stream
from daemon.simulator.world import new_order
from daemon.watch import poller as poller_module
from tests.conftest import FakeClock
from tests.daemon.fakes import ScriptedSource, page
from tests.daemon.test_poller import Harness, sample


class Trickling(ScriptedSource):
    """Answers the first request never (a server sending one byte a second, for ever)."""

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        self.calls.append((since, page_token))
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_trickling_server_is_cut_off_at_the_timeout(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    source = Trickling()
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    h.poller.settings = dataclasses.replace(h.poller.settings, timeout=timedelta(seconds=0.05))
    # bounded here too: without the poller's bound this would hang, not fail
    assert await asyncio.wait_for(h.poller.poll(), 10) is False
    assert len(source.calls) == 3  # each attempt bounded, then given up
    assert "timeout" in (h.poller.last_error or "")
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="orders") == 0


@asynccontextmanager
async def trickling_server() -> AsyncIterator[str]:
    """A real HTTP server that answers headers at once, then its body one byte at a time,
    each well inside any read timeout, never finishing."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000\r\n\r\n{"
            )
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.02)
        writer.transport.abort()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_a_real_server_trickling_its_body_is_cut_off_at_the_timeout(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """httpx's timeout is per read: a byte every 20 ms never trips it. The poller's bound on
    each attempt's total time does."""
    async with trickling_server() as base_url:
        client = GenericShopClient(base_url=base_url, token=lambda: "t", timeout=30.0)
        try:
            h = Harness(engine, clock, tmp_path, Stream.ORDERS, client)  # type: ignore[arg-type]
            h.poller.settings = dataclasses.replace(
                h.poller.settings, timeout=timedelta(seconds=0.3)
            )
            started = time.monotonic()
            assert await asyncio.wait_for(h.poller.poll(), 20) is False
            assert time.monotonic() - started < 5  # three attempts of 0.3 s (sleeps faked)
        finally:
            await client.aclose()
    assert "timeout" in (h.poller.last_error or "")
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="orders") == 0


async def test_a_repeated_page_token_rejects_the_poll(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    order = new_order(order_id="o-1", buyer_id="b-1", at=clock.now())
    source = ScriptedSource([page(order, next_token="again")] * 50)
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    before = (await h.poller.start()).watermark
    assert await h.poller.poll() is False
    assert len(source.calls) <= 3  # noticed at once, not after thousands of fetches
    assert "next_page_token" in (h.poller.last_error or "")
    assert sample(h.metrics, "shopwatch_pages_rejected_total", shop="s", stream="orders") == 1
    assert h.poller.state is not None and h.poller.state.watermark == before


async def test_paging_past_the_cap_rejects_the_poll(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "MAX_PAGES_PER_POLL", 5)
    source = ScriptedSource([page(next_token=f"p{i}") for i in range(20)])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is False
    assert "more than 5 pages" in (h.poller.last_error or "")


async def test_a_long_ban_pauses_the_stream_until_it_ends(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    ban = RateLimited("daily quota spent", retry_after=6 * 3600)
    source = ScriptedSource([ban])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is False
    until = clock.now() + timedelta(hours=6)
    assert h.poller.paused_until == until
    paused = "shopwatch_stream_paused_until_timestamp_seconds"
    assert sample(h.metrics, paused, shop="s", stream="orders") == until.timestamp()
    calls = len(source.calls)
    clock.advance(timedelta(hours=5, minutes=59))
    assert await h.poller.poll() is False
    assert len(source.calls) == calls  # no request during the ban
    clock.advance(timedelta(minutes=1))
    assert await h.poller.poll() is True
    assert h.poller.paused_until is None
    assert sample(h.metrics, paused, shop="s", stream="orders") == 0


async def test_a_store_that_refuses_writes_takes_the_stream_down(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = new_order(order_id="o-1", buyer_id="b-1", at=clock.now())
    source = ScriptedSource([page(order)])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    before = (await h.poller.start()).watermark

    async def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(h.store, "save_orders", read_only)
    assert await h.poller.poll() is False
    assert h.poller.storage_failure == "storage: OperationalError"
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="orders") == 0
    assert (
        sample(
            h.metrics, "shopwatch_poll_errors_total", shop="s", stream="orders", reason="storage"
        )
        == 1
    )
    assert h.poller.state is not None and h.poller.state.watermark == before
    monkeypatch.undo()
    source.steps = [page(order)]
    assert await h.poller.poll() is True
    assert h.poller.storage_failure is None


async def test_a_store_that_cannot_load_the_streams_cursor_takes_the_stream_down(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first poll after a start (or after the shop's lease came back) loads the cursor;
    with the database down then, the stream reads down and the daemon not ready, and the
    next poll once storage is back starts normally."""
    order = new_order(order_id="o-1", buyer_id="b-1", at=clock.now())
    source = ScriptedSource([page(order)])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    start_stream = h.store.start_stream

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(h.store, "start_stream", unreachable)
    assert await h.poller.poll() is False
    assert h.poller.state is None and source.calls == []
    assert h.poller.storage_failure == "storage: OperationalError"
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="orders") == 0
    monkeypatch.setattr(h.store, "start_stream", start_stream)
    assert await h.poller.poll() is True
    assert h.poller.storage_failure is None
    assert sample(h.metrics, "shopwatch_stream_up", shop="s", stream="orders") == 1
