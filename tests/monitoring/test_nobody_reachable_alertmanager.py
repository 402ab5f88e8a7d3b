"""CS110 through the real Alertmanager (Debian's 0.25): the daemon's pusher sends the critical
"nobody reachable" alert at once, Alertmanager notifies a webhook of it firing, and of it
resolved once somebody came online. Skipped where the binary is missing (CI requires it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.cs110_nobody_reachable import NobodyOnlineEvidence
from checks.subject import Breach, Subject
from tests.alerts.support import harness
from tests.conftest import FakeClock

from .test_integration import DELIVERY_DEADLINE, binary, free_port, running, until

pytestmark = pytest.mark.integration


def nobody(start: datetime, ended_at: datetime | None = None) -> Breach:
    return Breach(
        subject=Subject(rule="CS110", type="outage", id="2026-11-02T06:00:00Z", buyer_id=""),
        deadline=start + timedelta(minutes=5),
        agent=None,
        shift="day",
        tier=None,
        points=0,
        fine=Decimal(0),
        final=ended_at is not None,
        ended_at=ended_at,
        evidence=NobodyOnlineEvidence(start=start.isoformat()),
    )


async def test_nobody_reachable_fires_at_once_and_resolves_in_alertmanager(
    tmp_path: Path, engine: AsyncEngine
) -> None:
    alertmanager = binary("prometheus-alertmanager")
    notifications: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        notifications.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    receiver = TestServer(app, host="127.0.0.1")
    await receiver.start_server()
    try:
        port = free_port()
        config = {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "rule"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "hook",
                    "webhook_configs": [
                        {"url": str(receiver.make_url("/hook")), "send_resolved": True}
                    ],
                }
            ],
        }
        config_file = tmp_path / "alertmanager.yml"
        config_file.write_text(json.dumps(config))
        base = f"http://127.0.0.1:{port}"
        args = [
            alertmanager,
            f"--config.file={config_file}",
            f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        log = tmp_path / "alertmanager.log"
        toml = f'[alerts]\nalertmanager_urls = ["{base}"]\nresend_interval = "1s"\n'
        clock = FakeClock(datetime.now(UTC))

        def statuses() -> list[str]:
            return [
                alert["status"]
                for n in notifications
                for alert in n["alerts"]
                if alert["labels"].get("rule") == "CS110"
            ]

        async with (
            running(args, log, f"{base}/-/ready"),
            harness(tmp_path, engine, clock, toml) as h,
        ):
            start = clock.now() - timedelta(minutes=6)
            await h.record(nobody(start))  # no evaluation tick: sent at once
            await h.listener.drain()

            async def firing() -> bool:
                return "firing" in statuses()

            await until(firing, DELIVERY_DEADLINE, lambda: f"got {notifications}")
            alert = next(a for n in notifications for a in n["alerts"])
            assert alert["labels"]["severity"] == "critical"
            assert alert["labels"]["alertname"] == "ShopwatchViolation"

            clock.set(datetime.now(UTC))
            await h.record(nobody(start, ended_at=clock.now()))
            await h.listener.drain()

            async def resolved() -> bool:
                return "resolved" in statuses()

            await until(
                resolved,
                DELIVERY_DEADLINE,
                lambda: f"got {notifications}\n{log.read_text(errors='replace')}",
            )
    finally:
        await receiver.close()
