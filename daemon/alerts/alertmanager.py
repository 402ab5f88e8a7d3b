"""Alertmanager's v2 API: ``POST /api/v2/alerts`` with a JSON list of alerts.

Alertmanager identifies an alert by its labels and keeps it firing until ``endsAt``. Each
push states ``endsAt`` explicitly (a few re-send intervals ahead, never past the alert's own
end), so a daemon that dies lets its alerts lapse on their own, whatever ``resolve_timeout``
is; a resolution is the same alert with ``endsAt`` = when it ended. One request is one
attempt: the next periodic push carries every firing alert again, which is the retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from daemon.alerts.notice import Notice
from daemon.alerts.webhooks import DeliveryError

ALERTS_PATH = "/api/v2/alerts"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def receiver_name(url: str) -> str:
    """The metrics' ``receiver`` label: bounded by the config, no credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"alertmanager@{host}:{parts.port}" if parts.port else f"alertmanager@{host}"


def alert_payload(notice: Notice, *, ends_at: datetime, timezone: ZoneInfo) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": notice.labels(),
        "annotations": notice.annotations(timezone),
        "startsAt": rfc3339(notice.starts_at),
        "endsAt": rfc3339(ends_at),
    }
    if notice.url:
        alert["generatorURL"] = notice.url
    return alert


def merge_pushes(pushes: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Several queued pushes as one: the newest state of each alert (by its labels)."""
    merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for push in pushes:
        for alert in push:
            merged[tuple(sorted(alert["labels"].items()))] = alert
    return list(merged.values())


@dataclass(frozen=True, kw_only=True)
class AlertmanagerClient:
    url: str
    http: httpx.AsyncClient
    timeout: timedelta

    @property
    def receiver(self) -> str:
        return receiver_name(self.url)

    async def post(self, alerts: Sequence[dict[str, Any]]) -> None:
        try:
            response = await self.http.post(
                self.url + ALERTS_PATH, json=list(alerts), timeout=self.timeout.total_seconds()
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(type(exc).__name__, retryable=True) from None
        if response.status_code >= 300:
            # 400/422 name the offending field; worth a log line, never a retry loop.
            raise DeliveryError(
                f"HTTP {response.status_code}: {response.text[:200]}",
                retryable=response.status_code >= 500,
            )
