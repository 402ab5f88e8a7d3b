"""Stopping with work in flight is bounded: requests that do not finish and jobs that hang
are given a short grace, then cancelled; the whole stop stays well inside systemd's stop
timeout (TimeoutStopSec=15 in the unit)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from daemon.app import STOP_GRACE_SECONDS, Daemon
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for

from .support import AUTH

BOUND = 3 * STOP_GRACE_SECONDS + 1.0


async def test_stop_with_four_large_reads_and_a_hanging_poll_in_flight_is_bounded(
    tmp_path: Path, clock: FakeClock
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    daemon = Daemon(settings_for(tmp_path, database_url=url), clock=clock)
    await daemon.prepare()
    host, port = await daemon.serve_http()
    assert daemon.watch is not None
    reading = asyncio.Semaphore(0)
    never = asyncio.Event()

    async def large_read(**_: Any) -> list[dict[str, Any]]:
        reading.release()
        await never.wait()  # as a read of a huge ledger that takes its time
        return []

    async def hanging_fetch(*_: Any) -> Any:
        reading.release()
        await never.wait()  # as a platform that never answers

    daemon.ledger.find = large_read  # type: ignore[method-assign]
    poller = daemon.watch.pollers[0]
    poller.source.fetch_orders = hanging_fetch  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:

        async def get() -> int | None:
            try:
                async with http.get(f"http://{host}:{port}/api/violations", headers=AUTH) as r:
                    return r.status
            except aiohttp.ClientError:
                return None

        reads = [asyncio.create_task(get()) for _ in range(4)]
        poll = asyncio.create_task(daemon._poll_job(poller))
        for _ in range(5):
            await asyncio.wait_for(reading.acquire(), 10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(30):
            await daemon.stop()
        took = loop.time() - started
        assert took < BOUND, f"stop took {took:.1f} s"
        await asyncio.wait_for(asyncio.gather(*reads, poll, return_exceptions=True), 5)
