"""Helpers for the alert tests: a config, breaches, open items, a listener on a real store."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import evidence_type
from checks.subject import Breach, Subject
from daemon.alerts.listener import AlertListener, build_alert_listener
from daemon.config.alert_settings import AlertSettings, parse_alerts
from daemon.config.settings import Settings
from daemon.store.ledger import Ledger, Recorded
from daemon.watch.events import OpenItem
from daemon.watch.metrics import Metrics
from tests.conftest import FakeClock
from tests.daemon.fakes import SleepRecorder, settings_for

AM1 = "http://am1.test:9093"
AM2 = "http://am2.test:9093"


def alert_settings(tmp_path: Path, toml: str) -> AlertSettings:
    return parse_alerts(tomllib.loads(toml).get("alerts", {}), "test.toml", tmp_path)


def breach(
    *,
    rule: str = "CS101",
    subject: str = "o-1",
    subject_type: str = "order",
    buyer: str = "b-1",
    agent: str | None = "a1",
    deadline: datetime,
    tier: int | None = None,
    points: int = 2,
    fine: str = "5",
    final: bool = True,
    evidence: dict[str, Any] | None = None,
) -> Breach:
    return Breach(
        subject=Subject(rule=rule, type=subject_type, id=subject, buyer_id=buyer),
        deadline=deadline,
        agent=agent,
        shift="day",
        tier=tier,
        points=points,
        fine=Decimal(fine),
        final=final,
        evidence=evidence_type(rule).from_json(
            evidence
            or {
                "order": {"id": subject, "created_at": deadline.isoformat(), "versions": [{}]},
                "last_agent_message": {
                    "id": "m-10",
                    "direction": "agent",
                    "agent_id": "a1",
                    "is_auto": False,
                    "sent_at": (deadline - timedelta(minutes=70)).isoformat(),
                },
            }
        ),
    )


def item(
    *, rule: str = "CS101", subject: str = "o-3", deadline: datetime, buyer: str = "b-3"
) -> OpenItem:
    return OpenItem(
        rule=rule,
        subject_id=subject,
        buyer_id=buyer,
        deadline=deadline,
        warn_before=timedelta(minutes=15),
    )


class Harness:
    """A listener wired like the daemon wires it, with the ledger writing real rows."""

    def __init__(
        self,
        listener: AlertListener,
        ledger: Ledger,
        metrics: Metrics,
        clock: FakeClock,
        sleep: SleepRecorder,
        settings: Settings,
    ) -> None:
        self.listener = listener
        self.ledger = ledger
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.settings = settings

    async def record(self, b: Breach, shop: str = "s") -> Recorded:
        now = self.clock.now()
        recorded = await self.ledger.record(shop, b, now)
        await self.listener.violation_recorded(shop, b, recorded, now)
        return recorded

    async def tick(self, items: list[OpenItem] | None = None, shop: str = "s") -> None:
        await self.listener.open_items(shop, items or [], self.clock.now())
        await self.listener.drain()

    def sample(self, name: str, receiver: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, {"receiver": receiver})


@asynccontextmanager
async def harness(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, alerts_toml: str
) -> AsyncIterator[Harness]:
    settings = settings_for(tmp_path, database_url="sqlite+aiosqlite://")
    metrics = Metrics(version="test", roster=settings.roster)
    sleep = SleepRecorder()
    listener = build_alert_listener(
        settings,
        alert_settings(tmp_path, alerts_toml),
        engine=engine,
        metrics=metrics,
        clock=clock,
        sleep=sleep,
    )
    assert listener is not None
    try:
        yield Harness(listener, Ledger(engine), metrics, clock, sleep, settings)
    finally:
        await listener.aclose()
