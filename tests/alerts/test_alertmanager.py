"""What Alertmanager receives: new, re-sent, resolved, at-risk, quiet time, restarts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.alerts.alertmanager import rfc3339
from daemon.alerts.listener import build_alert_listener
from daemon.store.migrate import compare_type
from daemon.store.tables import metadata
from daemon.watch.metrics import Metrics
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for
from tests.daemon.shop import local

from .support import AM1, AM2, alert_settings, breach, harness, item

CONFIG = f"""
[alerts]
alertmanager_urls = ["{AM1}", "{AM2}"]
resend_interval = "1m"
firing_for = "1h"
external_url = "https://shopwatch.example.com"
dashboard_url = "https://grafana.example.com/d/shopwatch-customer-service"
"""


def pushes(route: respx.Route) -> list[list[dict[str, Any]]]:
    return [json.loads(call.request.content) for call in route.calls]


def by_subject(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {alert["labels"]["subject"]: alert for alert in alerts}


@pytest.fixture
def alertmanagers() -> Any:
    with respx.mock(assert_all_called=False) as router:
        am1 = router.post(f"{AM1}/api/v2/alerts").respond(200)
        am2 = router.post(f"{AM2}/api/v2/alerts").respond(200)
        yield am1, am2


async def test_a_new_violation_goes_to_every_alertmanager(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    am1, am2 = alertmanagers
    clock.set(local(clock.now(), "10:05"))
    now = clock.now()
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        recorded = await h.record(breach(deadline=local(now, "10:00")))
        await h.tick()
        assert pushes(am1) == pushes(am2)
        ((alert,),) = pushes(am1)
        assert alert["labels"] == {
            "alertname": "ShopwatchViolation",
            "shop": "s",
            "rule": "CS101",
            "subject": "o-1",
            "agent": "a1",
            "severity": "warning",
            "team": "customer-service",
        }
        assert alert["startsAt"] == rfc3339(now) == "2026-11-02T02:05:00.000Z"
        assert alert["endsAt"] == rfc3339(now + timedelta(minutes=3))
        assert alert["generatorURL"] == (
            f"https://shopwatch.example.com/api/violations/{recorded.violation_id}"
        )
        notes = alert["annotations"]
        assert "CS101" in notes["summary"] and "未及时催付" in notes["summary"]
        assert "Unpaid order not chased" in notes["summary"]
        assert "a1" in notes["description"] and "10:00" in notes["description"]
        assert "Asia/Shanghai" in notes["description"]
        assert "m-10" in notes["evidence"]  # the last agent message before the deadline
        assert (notes["points"], notes["fine"], notes["buyer_id"]) == ("2", "5", "b-1")
        for receiver in ("alertmanager@am1.test:9093", "alertmanager@am2.test:9093"):
            assert h.sample("shopwatch_alerts_sent_total", receiver) == 1
            assert h.sample("shopwatch_alert_send_failures_total", receiver) == 0


async def test_a_team_level_violation_is_labelled_team(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        await h.record(breach(agent=None, deadline=local(clock.now(), "10:00")))
        await h.tick()
        ((alert,),) = pushes(am1)
        assert alert["labels"]["agent"] == "team"
        assert "当班团队" in alert["annotations"]["summary"]


async def test_firing_alerts_are_resent_then_resolved_after_firing_for(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "10:05"))
    t0 = clock.now()
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        await h.record(breach(deadline=local(t0, "10:00")))
        await h.tick()
        clock.advance(timedelta(seconds=30))
        await h.tick()
        assert am1.call_count == 1  # nothing changed and no re-send due yet

        clock.advance(timedelta(seconds=30))
        await h.tick()
        (again,) = pushes(am1)[-1]
        assert again["labels"]["subject"] == "o-1"
        assert again["startsAt"] == rfc3339(t0)  # stable: Alertmanager sees one alert
        assert again["endsAt"] == rfc3339(clock.now() + timedelta(minutes=3))

        clock.set(t0 + timedelta(minutes=59))
        await h.tick()
        (late,) = pushes(am1)[-1]
        assert late["endsAt"] == rfc3339(t0 + timedelta(hours=1))  # never past firing_for

        clock.set(t0 + timedelta(hours=1, seconds=10))
        await h.tick()
        (resolved,) = pushes(am1)[-1]
        assert resolved["startsAt"] == rfc3339(t0)
        assert resolved["endsAt"] == rfc3339(t0 + timedelta(hours=1))

        clock.advance(timedelta(minutes=1))
        await h.tick()
        (repeated,) = pushes(am1)[-1]  # resolved alerts are repeated for a few minutes
        assert repeated["endsAt"] == resolved["endsAt"]
        calls = am1.call_count
        clock.advance(timedelta(minutes=6))
        await h.tick()
        clock.advance(timedelta(minutes=1))
        await h.tick()
        assert am1.call_count == calls  # then nothing is left to say


async def test_an_escalation_updates_the_same_alert(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "08:45"))
    t0 = clock.now()
    cs102: dict[str, Any] = {
        "rule": "CS102",
        "subject": "m-50",
        "subject_type": "episode",
        "agent": None,
    }
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        deadline = local(t0, "08:40")
        await h.record(breach(**cs102, deadline=deadline, tier=1, points=5, final=False))
        await h.tick()
        clock.advance(timedelta(minutes=10))
        await h.record(breach(**cs102, deadline=deadline, tier=2, points=10, final=False))
        await h.tick()
        first, second = (push[0] for push in pushes(am1))
        assert first["labels"] == second["labels"]
        assert second["startsAt"] == first["startsAt"] == rfc3339(t0)
        assert (first["annotations"]["tier"], second["annotations"]["tier"]) == ("1", "2")
        assert second["annotations"]["points"] == "10"
        assert "违规升级" in second["annotations"]["summary"]
        assert "离线留言 m-50" in second["annotations"]["summary"]


async def test_at_risk_warnings_fire_and_resolve(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "10:40"))
    due = local(clock.now(), "10:50")
    later = item(subject="o-9", deadline=local(clock.now(), "11:30"))
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        await h.tick([item(deadline=due), later])
        ((alert,),) = pushes(am1)  # o-9 is open but not due within warn_before
        assert alert["labels"] == {
            "alertname": "ShopwatchAtRisk",
            "shop": "s",
            "rule": "CS101",
            "subject": "o-3",
            "severity": "warning",
            "team": "customer-service",
        }
        assert alert["startsAt"] == rfc3339(due - timedelta(minutes=15))
        assert alert["endsAt"] == rfc3339(clock.now() + timedelta(minutes=3))
        assert alert["generatorURL"].startswith("https://grafana.example.com/")
        assert "10:50" in alert["annotations"]["summary"]
        assert "请联系买家催付" in alert["annotations"]["description"]

        clock.advance(timedelta(minutes=1))
        await h.tick([item(deadline=due), later])
        (again,) = pushes(am1)[-1]
        assert again["startsAt"] == alert["startsAt"]

        clock.advance(timedelta(minutes=2))
        await h.tick([later])  # the agent chased the buyer: o-3 is satisfied
        (resolved,) = pushes(am1)[-1]
        assert resolved["labels"]["subject"] == "o-3"
        assert resolved["endsAt"] == rfc3339(clock.now())


async def test_at_risk_warnings_are_quiet_outside_coverage(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    """Coverage is 08:30–24:00. An item due right after the shift starts is at risk by the
    wall clock before anyone is at work: no alert until 08:30. One still at risk when
    coverage ends is resolved."""
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "08:20"))
    early = item(deadline=local(clock.now(), "08:32"))
    async with harness(tmp_path, engine, clock, CONFIG) as h:
        await h.tick([early])
        assert am1.call_count == 0
        clock.set(local(clock.now(), "08:30"))
        await h.tick([early])
        ((alert,),) = pushes(am1)
        assert alert["labels"]["alertname"] == "ShopwatchAtRisk"

        clock.set(local(clock.now(), "23:55"))
        late = item(subject="o-7", deadline=clock.now() + timedelta(minutes=10))
        await h.tick([late])
        fired = by_subject(pushes(am1)[-1])
        assert fired["o-7"]["endsAt"] > rfc3339(clock.now())
        clock.advance(timedelta(minutes=6))  # 00:01, outside coverage
        await h.tick([late])
        quiet = by_subject(pushes(am1)[-1])
        assert quiet["o-7"]["endsAt"] == rfc3339(clock.now())


async def test_at_risk_warnings_can_be_turned_off(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "10:40"))
    async with harness(tmp_path, engine, clock, CONFIG + "warn_at_risk = false\n") as h:
        await h.tick([item(deadline=local(clock.now(), "10:50"))])
        assert am1.call_count == 0


async def test_a_failing_alertmanager_is_counted_and_retried_by_the_next_push(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock
) -> None:
    clock.set(local(clock.now(), "10:05"))
    with respx.mock(assert_all_called=False) as router:
        am1 = router.post(f"{AM1}/api/v2/alerts").mock(
            side_effect=[httpx.Response(500), httpx.ConnectError("refused"), httpx.Response(200)]
        )
        am2 = router.post(f"{AM2}/api/v2/alerts").respond(200)
        async with harness(tmp_path, engine, clock, CONFIG) as h:
            await h.record(breach(deadline=local(clock.now(), "10:00")))
            await h.tick()
            clock.advance(timedelta(minutes=1))
            await h.tick()
            assert (
                h.sample("shopwatch_alert_send_failures_total", "alertmanager@am1.test:9093") == 2
            )
            assert h.sample("shopwatch_alerts_sent_total", "alertmanager@am2.test:9093") == 2
            clock.advance(timedelta(minutes=1))
            await h.tick()
            assert h.sample("shopwatch_alerts_sent_total", "alertmanager@am1.test:9093") == 1
            assert [len(push) for push in pushes(am1)] == [1, 1, 1]
            assert am2.call_count == 3


async def test_a_restart_keeps_startsat_and_does_not_reannounce(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alertmanagers: Any
) -> None:
    """Two listeners on one database, one after the other, as across a restart."""
    am1, _ = alertmanagers
    clock.set(local(clock.now(), "08:40"))
    old_detected = clock.now()
    async with harness(tmp_path, engine, clock, CONFIG) as first:
        await first.record(breach(subject="o-old", deadline=local(clock.now(), "08:35")))
        await first.tick()
        clock.set(local(clock.now(), "10:45"))  # o-old is resolved (firing_for 1h)
        detected = clock.now()
        await first.record(breach(subject="o-new", deadline=local(clock.now(), "10:40")))
        await first.tick([item(subject="o-3", deadline=local(clock.now(), "10:55"))])
        before = by_subject(pushes(am1)[-1])
        assert before["o-old"]["endsAt"] == rfc3339(old_detected + timedelta(hours=1))
        assert set(before) == {"o-old", "o-new", "o-3"}

    calls = am1.call_count
    clock.advance(timedelta(minutes=10))  # o-3 was satisfied while shopwatch was down
    async with harness(tmp_path, engine, clock, CONFIG) as second:
        # The evaluator re-reads everything; the ledger knows o-new, so nothing is "new".
        recorded = await second.record(
            breach(subject="o-new", deadline=local(clock.now(), "10:40"))
        )
        assert not (recorded.new or recorded.escalated)
        await second.tick([])
        assert am1.call_count == calls + 1
        after = by_subject(pushes(am1)[-1])
        assert set(after) == {"o-new", "o-3"}  # o-old stays resolved: not announced again
        assert after["o-new"]["startsAt"] == before["o-new"]["startsAt"] == rfc3339(detected)
        assert after["o-new"]["labels"] == before["o-new"]["labels"]
        assert after["o-new"]["endsAt"] == rfc3339(clock.now() + timedelta(minutes=3))
        assert after["o-3"]["endsAt"] == rfc3339(clock.now())  # resolved after the restart
        assert after["o-3"]["startsAt"] == before["o-3"]["startsAt"]


async def test_nothing_configured_means_no_listener(tmp_path: Path, clock: FakeClock) -> None:
    settings = settings_for(tmp_path, database_url="sqlite+aiosqlite://")
    listener = build_alert_listener(
        settings,
        alert_settings(tmp_path, "[alerts]\nwarn_at_risk = true\n"),
        engine=None,  # type: ignore[arg-type]
        metrics=Metrics(version="test"),
        clock=clock,
    )
    assert listener is None


async def test_the_migration_creates_the_table_as_declared(engine: AsyncEngine) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": compare_type})
        return [
            diff for diff in compare_metadata(context, metadata) if "alert_notices" in repr(diff)
        ]

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
