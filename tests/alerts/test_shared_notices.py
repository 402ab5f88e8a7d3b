"""Two processes on one notice log (SPEC §9): a webhook message is sent once, whoever holds
it queued — a process that read it back at its start, one that took the shop over, or the
one that wrote it down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import FakeClock
from tests.daemon.shop import local

from .support import breach, harness, item

HOOK = "https://hooks.example.com/shopwatch"
CONFIG = '[alerts]\n[[alerts.webhooks]]\nname = "lead"\nkind = "json"\nurl_file = "hook-url"\n'


@pytest.fixture
def router() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


async def test_a_row_two_processes_hold_queued_is_sent_once(
    tmp_path: Path,
    engine: AsyncEngine,
    clock: FakeClock,
    router: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "hook-url").write_text(HOOK)
    hook = router.post(HOOK).respond(200)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, CONFIG) as first:
        # The first process writes its notices down; they wait in its queue.
        queue = first.listener.webhooks["lead"]
        held: list[Any] = []
        monkeypatch.setattr(queue, "put", held.append)
        await first.record(breach(subject="o-1", deadline=local(clock.now(), "10:00")))
        await first.tick([item(subject="o-3", deadline=local(clock.now(), "10:15"))])
        monkeypatch.undo()
        assert len(held) == 2
        # A second process starts and reads them back, undelivered: both send.
        async with harness(tmp_path, engine, clock, CONFIG) as second:
            await second.tick()
            for row in held:
                queue.put(row)
            await first.listener.drain()
        sent = [n["subject"]["id"] for c in hook.calls for n in _notices(c)]
        assert sorted(sent) == ["o-1", "o-3"]


async def test_the_same_warning_decided_twice_is_sent_once(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    """Around a handover the old and the new holder may both decide a warning."""
    (tmp_path / "hook-url").write_text(HOOK)
    hook = router.post(HOOK).respond(200)
    clock.set(local(clock.now(), "10:05"))
    warning = item(subject="o-3", deadline=local(clock.now(), "10:15"))
    async with (
        harness(tmp_path, engine, clock, CONFIG) as old,
        harness(tmp_path, engine, clock, CONFIG) as new,
    ):
        await old.tick()
        await new.tick()  # both started, neither knows the other's rows
        await old.tick([warning])
        await new.tick([warning])
    assert [n["subject"]["id"] for c in hook.calls for n in _notices(c)] == ["o-3"]


def _notices(call: Any) -> list[dict[str, Any]]:
    notices: list[dict[str, Any]] = json.loads(call.request.content)["notices"]
    return notices
