"""shopwatch's own notices to the team lead: Alertmanager pushes and direct webhooks.

The composition root wires it in with two calls::

    alert_settings = parse_alerts(settings.alerts, settings.source, config_dir)
    listener = build_alert_listener(settings, alert_settings, engine=..., metrics=..., clock=...)

and passes ``listener`` (when not None) to the evaluators as an ``EvaluationListener``, then
awaits ``listener.aclose()`` on shutdown, after the scheduler has stopped.
"""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.alerts.listener import AlertListener
from daemon.clock import Clock, Sleep, real_sleep
from daemon.config.alert_settings import AlertSettings, WebhookSettings, parse_alerts
from daemon.config.settings import Settings
from daemon.watch.metrics import Metrics

__all__ = [
    "AlertListener",
    "AlertSettings",
    "WebhookSettings",
    "build_alert_listener",
    "parse_alerts",
]


def build_alert_listener(
    settings: Settings,
    alert_settings: AlertSettings,
    *,
    engine: AsyncEngine,
    metrics: Metrics,
    clock: Clock,
    sleep: Sleep = real_sleep,
    http: httpx.AsyncClient | None = None,
) -> AlertListener | None:
    """The listener for ``[alerts]``, or None when no receiver is configured.

    ``engine`` must be the daemon's (the ``alert_notices`` table lives beside the ledger,
    created by migration 0003); ``metrics`` gets the ``receiver`` series declared at zero;
    ``sleep`` paces webhook retries (tests pass a recorder); ``http`` is for tests too — by
    default the listener owns an ``httpx.AsyncClient`` and ``aclose()`` closes it.
    Nothing starts here: background senders start on first use, inside the running loop.
    """
    if not alert_settings.configured:
        return None
    return AlertListener(
        settings=settings,
        alerts=alert_settings,
        engine=engine,
        metrics=metrics,
        clock=clock,
        sleep=sleep,
        http=http,
    )
