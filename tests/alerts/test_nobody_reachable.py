"""CS110's alert (SPEC §3): critical, sent at once (not batched behind others, not held to
the end of the evaluation), firing while nobody is online and resolved when somebody is."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.cs110_nobody_reachable import NobodyOnlineEvidence
from checks.subject import Breach, Subject
from daemon.alerts.alertmanager import rfc3339
from tests.conftest import FakeClock
from tests.daemon.shop import local

from .support import AM1, breach, harness

CONFIG = f"""
[alerts]
alertmanager_urls = ["{AM1}"]
resend_interval = "1m"
firing_for = "10m"
"""
HOOK = "https://hooks.example.com/shopwatch"


def nobody(start: datetime, *, ended_at: datetime | None = None) -> Breach:
    return Breach(
        subject=Subject(rule="CS110", type="outage", id="2026-11-02T06:00:00Z", buyer_id=""),
        deadline=start + timedelta(minutes=5),
        agent="a1",
        shift="day",
        tier=None,
        points=0,
        fine=Decimal(0),
        final=ended_at is not None,
        ended_at=ended_at,
        evidence=NobodyOnlineEvidence(start=start.isoformat()),
    )


def pushes(route: respx.Route) -> list[list[dict[str, Any]]]:
    return [json.loads(call.request.content) for call in route.calls]


@pytest.fixture
def am() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield router.post(f"{AM1}/api/v2/alerts").respond(200)


async def test_it_fires_at_once_while_nobody_is_online_and_resolves_when_somebody_is(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, am: respx.Route
) -> None:
    start = local(clock.now(), "14:00")
    clock.set(local(clock.now(), "14:05") + timedelta(seconds=10))
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        await h.record(nobody(start))
        await h.listener.drain()  # no evaluation tick (open_items) needed: pushed at once
        ((alert,),) = pushes(am)
        assert alert["labels"]["rule"] == "CS110"
        assert alert["labels"]["severity"] == "critical"
        assert alert["endsAt"] == rfc3339(clock.now() + timedelta(minutes=3))

        # still nobody online long after firing_for: it keeps firing
        clock.advance(timedelta(minutes=30))
        await h.tick()
        assert pushes(am)[-1][0]["endsAt"] > rfc3339(clock.now())

        # somebody comes online at 14:40: resolved at once, at that instant
        clock.set(local(clock.now(), "14:41"))
        recorded = await h.record(nobody(start, ended_at=local(clock.now(), "14:40")))
        assert recorded.ended and not recorded.new
        await h.listener.drain()
        resolved = pushes(am)[-1][0]
        assert resolved["endsAt"] == rfc3339(local(clock.now(), "14:40"))
        row = await h.ledger.get(recorded.violation_id)
        assert row["status"] == "review" and row["final"]
        assert [e["action"] for e in row["audit"]] == ["recorded", "ended"]


async def test_a_critical_notice_goes_to_a_webhook_alone_not_batched(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock
) -> None:
    (tmp_path / "hook-url").write_text(HOOK)
    config = '[alerts]\n[[alerts.webhooks]]\nname = "lead"\nkind = "json"\nurl_file = "hook-url"\n'
    clock.set(local(clock.now(), "14:06"))
    now = clock.now()
    with respx.mock(assert_all_called=False) as router:
        hook = router.post(HOOK).respond(200)
        async with harness(tmp_path, engine, clock, config) as h:
            warnings = [breach(subject=f"o-{i}", deadline=local(now, "14:00")) for i in range(1, 4)]
            batch = [*warnings, nobody(local(now, "14:00"))]
            recorded = [await h.ledger.record("s", b, now) for b in batch]
            await h.listener.violations_recorded("s", list(zip(batch, recorded, strict=True)), now)
            await h.listener.drain()
        bodies = [json.loads(call.request.content) for call in hook.calls]
        alone = [b for b in bodies if any(n["rule"] == "CS110" for n in b["notices"])]
        assert len(alone) == 1 and len(alone[0]["notices"]) == 1
        assert sum(len(b["notices"]) for b in bodies) == 4


async def test_a_webhook_that_announced_it_is_told_once_when_somebody_is_online_again(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock
) -> None:
    """A chat robot's message cannot be resolved like an alert: the team lead who was told
    "nobody reachable" is told, once, when an agent is online again."""
    (tmp_path / "hook-url").write_text(HOOK)
    config = (
        '[alerts]\nfiring_for = "10m"\n[[alerts.webhooks]]\nname = "lead"\nkind = "json"\n'
        'url_file = "hook-url"\n'
    )
    start = local(clock.now(), "14:00")
    clock.set(local(clock.now(), "14:06"))
    with respx.mock(assert_all_called=False) as router:
        hook = router.post(HOOK).respond(200)
        async with harness(tmp_path, engine, clock, config) as h:
            await h.record(nobody(start))
            await h.listener.drain()
            clock.set(local(clock.now(), "14:41"))
            ended = nobody(start, ended_at=local(clock.now(), "14:40"))
            assert (await h.record(ended)).ended
            await h.listener.drain()
            await h.record(ended)  # judged again: nothing new to tell
            await h.listener.drain()
        notices = [n for call in hook.calls for n in json.loads(call.request.content)["notices"]]
    assert [n["event"] for n in notices] == ["violation", "resolved"]
    resolved = notices[1]
    assert resolved["rule"] == "CS110" and resolved["severity"] == "critical"
    assert resolved["labels"]["alertname"] == "ShopwatchViolation"
    assert resolved["title"].startswith("【已恢复】CS110")
    assert "14:40" in resolved["description"] and "Resolved" in resolved["description"]
    assert resolved["violation_id"] == notices[0]["violation_id"]


def test_a_robot_message_counts_what_is_resolved() -> None:
    from daemon.alerts.notice import RESOLVED
    from daemon.alerts.webhooks import markdown_text

    def notice(kind: str) -> Any:
        from daemon.alerts.notice import Notice

        moment = datetime(2026, 11, 2, 6, 0)
        return Notice(
            kind=kind, shop="s", rule="CS110", subject_type="outage", subject_id="x",
            buyer_id=None, agent="a1", shift="day", severity="critical", deadline=moment,
            starts_at=moment, title=f"t-{kind}", summary="", description="d", evidence="e",
        )  # fmt: skip

    text = markdown_text([notice("violation"), notice(RESOLVED)], wecom=True)
    assert "1 条违规，1 条已恢复 / 1 violation(s), 1 resolved" in text
    assert '<font color="info">t-resolved</font>' in text


async def test_an_outage_found_only_once_it_had_ended_is_resolved_at_once(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, am: respx.Route
) -> None:
    """The rules about people are judged at most once a minute: an outage from 14:00 that
    ended at 14:05:30 is first recorded already ended. Its alert is resolved at once."""
    start = local(clock.now(), "14:00")
    clock.set(local(clock.now(), "14:06"))
    ended_at = local(clock.now(), "14:05") + timedelta(seconds=30)
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        recorded = await h.record(nobody(start, ended_at=ended_at))
        assert recorded.new
        await h.listener.drain()
        (alert,) = pushes(am)[-1]
    assert alert["labels"]["rule"] == "CS110"
    assert alert["endsAt"] <= rfc3339(clock.now())


async def test_a_webhook_hears_of_an_outage_found_ended_and_that_it_is_over(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock
) -> None:
    (tmp_path / "hook-url").write_text(HOOK)
    config = '[alerts]\n[[alerts.webhooks]]\nname = "lead"\nkind = "json"\nurl_file = "hook-url"\n'
    start = local(clock.now(), "14:00")
    clock.set(local(clock.now(), "14:06"))
    with respx.mock(assert_all_called=False) as router:
        hook = router.post(HOOK).respond(200)
        async with harness(tmp_path, engine, clock, config) as h:
            await h.record(nobody(start, ended_at=local(clock.now(), "14:05")))
            await h.listener.drain()
        notices = [n for call in hook.calls for n in json.loads(call.request.content)["notices"]]
    assert [n["event"] for n in notices] == ["violation", "resolved"]
