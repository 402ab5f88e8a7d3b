"""The whole pipeline: simulator → generic connector → store → rules → ledger → HTTP."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from daemon.app import Daemon
from daemon.simulator.world import World
from tests.conftest import FakeClock

from .fakes import settings_for
from .shop import local, simulator, story

AUTH = {"Authorization": "Bearer test-token"}


@asynccontextmanager
async def daemon_for(
    world: World, clock: FakeClock, tmp_path: Path, **settings: Any
) -> AsyncIterator[Daemon]:
    """A daemon on SQLite watching ``world`` through the real simulator, stopped after."""
    async with simulator(world) as base_url:
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
        config = settings_for(tmp_path, database_url=url, base_url=base_url, **settings)
        daemon = Daemon(config, clock=clock)
        try:
            yield daemon
        finally:
            await daemon.stop()


async def run_once(daemon: Daemon) -> None:
    await daemon.prepare()
    await daemon.poll_all()
    await daemon.tick()


def summary(violations: list[dict[str, object]]) -> dict[str, tuple[str, str]]:
    return {
        v["subject"]["id"]: (v["rule"], v["agent"] or "")  # type: ignore[index]
        for v in violations
    }


async def test_the_simulated_morning_produces_exactly_the_expected_ledger(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    expected = story(world, clock.now())
    async with simulator(world) as base_url:
        settings = settings_for(tmp_path, database_url=database_url, base_url=base_url)
        daemon = Daemon(settings, clock=clock)
        try:
            await run_once(daemon)
            violations = await daemon.ledger.find()
            assert summary(violations) == expected
            cs102 = next(v for v in violations if v["rule"] == "CS102")
            assert (cs102["tier"], cs102["points"], cs102["final"]) == (1, 5, True)
            assert cs102["shift"] == "day"
            registry = daemon.metrics.registry
            assert (
                registry.get_sample_value("shopwatch_open_items", {"shop": "s", "rule": "CS101"})
                == 1
            )  # o-3, due 10:50
            assert (
                registry.get_sample_value(
                    "shopwatch_violations_total", {"shop": "s", "rule": "CS101", "agent": "team"}
                )
                == 1
            )
            # 10:36: o-3 is now due within warn_before (15 min) → at risk.
            clock.advance(timedelta(minutes=31))
            await daemon.poll_all()
            await daemon.tick()
            assert (
                registry.get_sample_value("shopwatch_at_risk_items", {"shop": "s", "rule": "CS101"})
                == 1
            )
        finally:
            await daemon.stop()

        # A restart re-reads everything: nothing is recorded twice, nothing lost.
        clock.advance(timedelta(seconds=30))
        again = Daemon(settings, clock=clock)
        try:
            await run_once(again)
            assert summary(await again.ledger.find()) == expected
            assert len(await again.ledger.find()) == len(expected)
            assert (
                again.metrics.registry.get_sample_value(
                    "shopwatch_violations_total", {"shop": "s", "rule": "CS101", "agent": "team"}
                )
                == 1
            )  # the counter starts from the ledger, not from zero
        finally:
            await again.stop()


async def test_http_api_serves_violations_and_clean_metrics(
    clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        host, port = await daemon.serve_http()
        base = f"http://{host}:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/violations", params={"rule": "CS103"}) as r:
                assert r.status == 401  # reads need the token too
            async with http.get(
                f"{base}/api/violations", params={"rule": "CS103"}, headers=AUTH
            ) as r:
                body = await r.json()
            (v,) = body["violations"]
            assert set(v) >= {
                "id",
                "shop",
                "rule",
                "subject",
                "buyer_id",
                "agent",
                "shift",
                "deadline",
                "detected_at",
                "tier",
                "points",
                "fine",
                "status",
                "evidence",
            }
            assert v["subject"] == {"type": "order", "id": "o-6"}
            assert v["evidence"]["state_at_deadline"]["seller_memo"] is None
            async with http.get(
                f"{base}/api/violations", params={"since": "not-a-time"}, headers=AUTH
            ) as r:
                assert r.status == 400
                assert "since" in (await r.json())["error"]
            async with http.post(
                f"{base}/api/violations/{v['id']}/waive", json={"by": "Chen", "reason": "ok"}
            ) as r:
                assert r.status == 401
            async with http.post(
                f"{base}/api/violations/{v['id']}/waive",
                json={"by": "Chen", "reason": "buyer withdrew the request"},
                headers=AUTH,
            ) as r:
                assert r.status == 200
                assert (await r.json())["status"] == "waived"
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 503  # the scheduler is not running in this test
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/metrics") as r:
                first = await r.text()  # a violation new to the process shows 0 once
            async with http.get(f"{base}/metrics") as r:
                exposition = await r.text()
        assert 'shopwatch_violations_total{agent="team",rule="CS103",shop="s"} 0.0' in first
        assert 'shopwatch_violations_total{agent="team",rule="CS103",shop="s"} 1.0' in (exposition)
        assert "b-6" not in exposition and "o-6" not in exposition  # no ids in labels
        promtool = shutil.which("promtool")
        if promtool:
            result = await asyncio.to_thread(
                subprocess.run,
                [promtool, "check", "metrics"],
                input=exposition,
                text=True,
                capture_output=True,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stream", ["orders", "chat"])
async def test_a_failing_stream_holds_back_decisions(
    clock: FakeClock, tmp_path: Path, stream: str
) -> None:
    """The evidence principle: with one stream down, nothing past its watermark is decided."""
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await daemon.prepare()
        assert daemon.watch is not None
        for poller in daemon.watch.pollers:
            if poller.stream.value != stream:
                await poller.poll()
        await daemon.tick()
        assert await daemon.ledger.find() == []


async def test_a_shop_whose_credentials_are_refused_does_not_stop_the_others(
    clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    expected = story(world, clock.now())
    async with simulator(world) as good, simulator(World(), token="another-token") as bad:
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
        settings = settings_for(
            tmp_path, database_url=url, base_url={"good": good, "bad": bad}, shops=("good", "bad")
        )
        daemon = Daemon(settings, clock=clock)
        try:
            await run_once(daemon)
            assert summary(await daemon.ledger.find(shop="good")) == expected
            registry = daemon.metrics.registry
            for stream in ("orders", "chat"):
                labels = {"shop": "bad", "stream": stream}
                assert registry.get_sample_value("shopwatch_stream_auth_failed", labels) == 1
                assert registry.get_sample_value("shopwatch_stream_up", labels) == 0
                assert (
                    registry.get_sample_value(
                        "shopwatch_poll_errors_total", {**labels, "reason": "auth"}
                    )
                    == 1
                )
            assert "bad/orders" in daemon.status_line()
        finally:
            await daemon.stop()


async def test_scorecard_through_the_api_and_the_score_metric(
    clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        auth = {"Authorization": "Bearer test-token"}
        await run_once(daemon)
        await daemon.publish_scores()
        # a1 answers for o-1 (CS101, 2 points): 80 − 2 = 78 month to date.
        assert (
            daemon.metrics.registry.get_sample_value("shopwatch_agent_score", {"agent": "a1"}) == 78
        )
        host, port = await daemon.serve_http()
        base = f"http://{host}:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{base}/api/scorecard", params={"month": "2026-11"}, headers=auth
            ) as r:
                card = await r.json()
            assert card["month"] == "2026-11"
            a1 = next(a for a in card["agents"] if a["agent"] == "a1")
            assert {
                k: a1[k]
                for k in (
                    "score",
                    "grade",
                    "points_deducted",
                    "bonus",
                    "adjustment",
                    "pay_adjustment",
                    "fines",
                )
            } == {
                "score": 78,
                "grade": "C",
                "points_deducted": 2,
                "bonus": 0,
                "adjustment": 0,
                "pay_adjustment": -20,
                "fines": 5,
            }
            async with http.get(
                f"{base}/api/scorecard", params={"month": "11/2026"}, headers=auth
            ) as r:
                assert r.status == 400 and "YYYY-MM" in (await r.json())["error"]
            adjustment = {
                "agent": "a1",
                "month": "2026-11",
                "value": 2,
                "by": "Chen",
                "reason": "covered the night shift",
            }
            async with http.post(f"{base}/api/adjustments", json=adjustment) as r:
                assert r.status == 401
            async with http.post(f"{base}/api/adjustments", json=adjustment, headers=auth) as r:
                assert r.status == 200
            async with http.post(
                f"{base}/api/adjustments", headers=auth, json={**adjustment, "value": 9}
            ) as r:
                assert r.status == 400
            manual = {
                "rule": "M201",
                "agent": "a2",
                "at": "2026-11-02T09:00:00+08:00",
                "note": "late to the shift",
            }
            async with http.post(f"{base}/api/violations", json=manual, headers=auth) as r:
                assert r.status == 201
                assert (await r.json())["source"] == "manual"
            async with http.get(
                f"{base}/api/scorecard", params={"month": "2026-11"}, headers=auth
            ) as r:
                card = await r.json()
            scores = {a["agent"]: a["score"] for a in card["agents"]}
            assert scores["a1"] == 80 and scores["a2"] < 80


async def test_new_violations_reach_alertmanager_through_the_config(
    clock: FakeClock, tmp_path: Path
) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    received: list[dict[str, object]] = []

    async def alerts(request: web.Request) -> web.Response:
        received.extend(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/api/v2/alerts", alerts)
    alertmanager = TestServer(app, host="127.0.0.1")
    await alertmanager.start_server()
    clock.set(local(clock.now(), "10:05"))
    world = World()
    expected = story(world, clock.now())
    try:
        am_url = str(alertmanager.make_url("")).rstrip("/")
        alerts = f'[alerts]\nalertmanager_urls = ["{am_url}"]\n'
        async with daemon_for(world, clock, tmp_path, extra=alerts) as daemon:
            await run_once(daemon)
            assert daemon.watch is not None and daemon.watch.alerts is not None
            await daemon.watch.alerts.drain()
    finally:
        await alertmanager.close()
    violations = [a for a in received if a["labels"]["alertname"] == "ShopwatchViolation"]  # type: ignore[index]
    assert {a["labels"]["subject"] for a in violations} == set(expected)  # type: ignore[index]
    first = violations[0]
    assert first["labels"]["team"] == "customer-service"  # type: ignore[index]
    assert "startsAt" in first and "endsAt" in first


async def test_metrics_served_are_exactly_the_documented_contract(
    clock: FakeClock, tmp_path: Path
) -> None:
    """What /metrics serves matches tests/monitoring's METRICS, the list dashboards and
    alert rules are checked against: same names, types and label sets."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from tests.monitoring.test_rules import METRICS, PLATFORM_METRICS, PROCESS_METRICS

    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        await daemon.publish_scores()
        text = generate_latest(daemon.metrics.registry).decode()
    served: dict[str, tuple[str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        labels = {k for s in family.samples for k in s.labels if k not in ("le", "quantile")}
        name = family.name + ("_total" if family.type == "counter" else "")
        served[name] = (family.type, labels)
    ours = {name: v for name, v in served.items() if name.startswith("shopwatch_")}
    assert set(ours) == set(METRICS)
    for name, (kind, labels) in METRICS.items():
        served_kind, served_labels = ours[name]
        assert served_kind == kind, name
        # A family without series yet (no alert receiver configured here) has no labels.
        assert served_labels in (set(labels), set()), name
    assert set(PROCESS_METRICS) <= set(served) | {"process_cpu_seconds_total"}
    assert set(PLATFORM_METRICS) <= set(served)


async def test_a_chase_that_becomes_visible_late_inside_settle_still_counts(
    clock: FakeClock, tmp_path: Path
) -> None:
    """SPEC §5: writes become visible up to ``settle`` late; every poll re-reads that window,
    and nothing is decided before the watermark (poll start − settle) has passed D."""
    from connectors.model import Direction
    from daemon.simulator.world import new_message, new_order

    world = World()
    placed = local(clock.now(), "09:00")  # D = 10:00
    world.put_order(new_order(order_id="o-late", buyer_id="b-late", at=placed))
    async with daemon_for(world, clock, tmp_path) as daemon:
        clock.set(local(clock.now(), "10:00") + timedelta(seconds=30))
        await run_once(daemon)  # watermark 09:59:30 < D: undecided
        assert await daemon.ledger.find() == []
        # The chase was sent at 09:59:50, but the shop shows it only now (10:00:40).
        clock.advance(timedelta(seconds=10))
        world.add_message(
            new_message(
                message_id="m-late",
                buyer_id="b-late",
                direction=Direction.AGENT,
                at=local(clock.now(), "09:59") + timedelta(seconds=50),
                agent_id="a1",
                text="亲，记得付款哦",
            )
        )
        clock.advance(timedelta(seconds=50))  # 10:01:30: watermark 10:00:30 ≥ D
        await daemon.poll_all()
        await daemon.tick()
        assert await daemon.ledger.find() == []  # satisfied by the late-visible chase
        open_items = {"shop": "s", "rule": "CS101"}  # none left: the series is removed
        assert daemon.metrics.registry.get_sample_value("shopwatch_open_items", open_items) is None


@pytest.mark.parametrize(
    ("query", "subjects"),
    [
        ({}, {"o-1", "o-4", "m-50", "o-6"}),
        ({"shop": "s"}, {"o-1", "o-4", "m-50", "o-6"}),
        ({"shop": "elsewhere"}, set()),
        ({"rule": "CS101"}, {"o-1", "o-4"}),
        ({"agent": "a1"}, {"o-1"}),
        ({"status": "open"}, {"o-1", "o-4", "m-50", "o-6"}),
        ({"status": "waived"}, set()),
        ({"since": "2026-11-02T09:35:00+08:00"}, {"o-1", "o-4"}),  # by deadline
        ({"rule": "CS101", "since": "2026-11-02T01:50:00Z"}, {"o-1"}),
    ],
)
async def test_violations_api_filters(
    clock: FakeClock, tmp_path: Path, query: dict[str, str], subjects: set[str]
) -> None:
    """SPEC §6: GET /api/violations?shop&rule&agent&status&since."""
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        host, port = await daemon.serve_http()
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"http://{host}:{port}/api/violations", params=query, headers=AUTH
            ) as response,
        ):
            assert response.status == 200
            found = (await response.json())["violations"]
    assert {v["subject"]["id"] for v in found} == subjects


async def test_first_replies_feed_the_reply_time_histogram_in_business_seconds(
    clock: FakeClock, tmp_path: Path
) -> None:
    """b-5 wrote at 03:00 (night) and a1 answered at 08:45: 15 business minutes, since the
    day shift starts at 08:30. Agent messages that answer no buyer message are no reply."""
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        registry = daemon.metrics.registry
        a1 = {"shop": "s", "agent": "a1"}
        assert registry.get_sample_value("shopwatch_reply_seconds_count", a1) == 1
        assert registry.get_sample_value("shopwatch_reply_seconds_sum", a1) == 900
        assert registry.get_sample_value("shopwatch_conversations_total", a1) == 1
        a2 = {"shop": "s", "agent": "a2"}
        assert registry.get_sample_value("shopwatch_reply_seconds_count", a2) is None  # no reply


async def test_an_order_older_than_the_history_is_undecidable_and_counted_once(
    clock: FakeClock, tmp_path: Path
) -> None:
    """SPEC §2: the daemon started after the fact (backfill 24 h); an unpaid order placed
    25 h ago and updated since cannot be judged: counted, never recorded."""
    from dataclasses import replace

    from daemon.simulator.world import new_order

    clock.set(local(clock.now(), "10:05"))
    world = World()
    placed = clock.now() - timedelta(hours=25)
    world.put_order(
        replace(
            new_order(order_id="o-old", buyer_id="b-old", at=placed),
            updated_at=clock.now() - timedelta(hours=20),
        )
    )
    labels = {"shop": "s", "rule": "CS101", "reason": "history_incomplete"}
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        await daemon.tick()  # judged again: still counted once
        assert await daemon.ledger.find() == []
        assert daemon.metrics.registry.get_sample_value("shopwatch_undecidable_total", labels) == 1
    async with daemon_for(world, clock, tmp_path) as again:  # a restart does not count it again
        await run_once(again)
        value = again.metrics.registry.get_sample_value
        assert value("shopwatch_undecidable_total", labels) is None
