"""The monitoring files against the real programs: Debian's Prometheus 2.42 and Alertmanager
0.25, started here on loopback with temporary directories and free ports.

(a) Prometheus scrapes a running daemon (simulator → daemon → ``/metrics``) with the repo's
rule files, and every PromQL expression of the dashboards and rules is evaluated through
``/api/v1/query``: each must parse, and those over series the daemon always exports must
return data. (b) Alertmanager receives the daemon's own alerts through the pusher of
``daemon.alerts`` and delivers them to a webhook served by this test, then their
resolution.

Skipped where the binaries are missing; CI sets ``SHOPWATCH_REQUIRE_INTEGRATION=1``, which
turns those skips into failures. Readiness is polled with deadlines, never slept for, and
every process started here is killed in a ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.model import Direction, OrderStatus
from daemon.alerts.listener import build_alert_listener
from daemon.app import Daemon
from daemon.config.alert_settings import parse_alerts
from daemon.config.settings import Settings, parse
from daemon.simulator.world import World, new_message, new_order
from tests.daemon.shop import simulator

from .test_rules import (
    ALERTING_RULES,
    PROMETHEUS_DIR,
    RECORDING_RULES,
    REPO,
    Query,
    all_queries,
    metric_names,
)

pytestmark = pytest.mark.integration

SHOP = "shop-1"  # the value test_rules substitutes for the dashboards' $shop
START_DEADLINE = 30.0
DATA_DEADLINE = 30.0
DELIVERY_DEADLINE = 30.0


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt install prometheus-alertmanager)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def running(
    args: list[str], log_path: Path, ready_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a program, wait until ``ready_url`` answers 200, and always stop it again."""
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        await until(
            lambda: _answers(ready_url, process),
            START_DEADLINE,
            lambda: f"{args[0]} did not become ready:\n{log_path.read_text(errors='replace')}",
        )
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _answers(url: str, process: asyncio.subprocess.Process) -> bool:
    if process.returncode is not None:
        raise AssertionError(f"exited with {process.returncode} before it was ready")
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(url, timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def until(
    condition: Callable[[], Awaitable[bool]], seconds: float, explain: Callable[[], str]
) -> None:
    """Poll ``condition`` until it holds; fail with ``explain()`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(explain())
        await asyncio.sleep(0.2)


# ---- a small shop, relative to the real clock ----


def shop_world(now: datetime) -> World:
    """Two violations (CS101, CS103), one subject at risk, one open, one answered buyer."""
    world = World()
    world.put_order(new_order(order_id="o-1", buyer_id="b-1", at=now - timedelta(hours=2)))
    world.put_order(new_order(order_id="o-2", buyer_id="b-2", at=now - timedelta(minutes=50)))
    world.put_order(new_order(order_id="o-3", buyer_id="b-3", at=now - timedelta(minutes=20)))
    paid = now - timedelta(hours=2)
    order = new_order(
        order_id="o-5", buyer_id="b-5", at=paid - timedelta(minutes=1), buyer_message="请发顺丰"
    )
    world.put_order(order)
    world.update_order("o-5", paid, status=OrderStatus.PAID, paid_at=paid)
    for message_id, at, direction, agent in (
        ("m-40", now - timedelta(minutes=30), Direction.BUYER, None),
        ("m-41", now - timedelta(minutes=29), Direction.AGENT, "a1"),
    ):
        world.add_message(
            new_message(
                message_id=message_id,
                buyer_id="b-4",
                at=at,
                direction=direction,
                agent_id=agent,
                text="hi",
            )
        )
    return world


def shop_settings(tmp_path: Path, base_url: str, alerts: str = "") -> Settings:
    """Covered around the clock (no shifts), so the story does not depend on the hour."""
    (tmp_path / "token").write_text("test-token")
    stream = f'kind = "generic"\nbase_url = "{base_url}"\ntoken_file = "token"\nbackfill = "6h"'
    text = f"""
[database]
url = "sqlite+aiosqlite:///{tmp_path / "shopwatch.db"}"
[http]
listen = "127.0.0.1:0"
[[shops]]
id = "{SHOP}"
[shops.orders]
{stream}
[shops.chat]
{stream}
[[agents]]
id = "a1"
{alerts}
"""
    return parse(tomllib.loads(text), str(tmp_path / "shopwatch.toml"), tmp_path)


@asynccontextmanager
async def running_daemon(
    tmp_path: Path, alerts_toml: str = ""
) -> AsyncIterator[tuple[Daemon, tuple[str, int], Any]]:
    now = datetime.now(UTC)
    async with simulator(shop_world(now)) as base_url:
        settings = shop_settings(tmp_path, base_url)
        daemon = Daemon(settings)
        listener = None
        if alerts_toml:
            alert_settings = parse_alerts(tomllib.loads(alerts_toml)["alerts"], "t", tmp_path)
            listener = build_alert_listener(
                settings,
                alert_settings,
                engine=daemon.engine,
                metrics=daemon.metrics,
                clock=daemon.clock,
            )
            assert listener is not None
            daemon.listeners.append(listener)  # before prepare(): evaluators copy the list
        try:
            await daemon.prepare()
            await daemon.poll_all()
            await daemon.tick()
            address = await daemon.serve_http()
            yield daemon, address, listener
        finally:
            if listener is not None:
                await listener.aclose()
            await daemon.stop()


# ---- (a) Prometheus ----

#: Queries over series the daemon exports from its first scrape (declared at zero, or set by
#: the first poll and tick): each must return at least one sample. Everything else must
#: parse; it may be empty here (recording rules evaluate once a minute, alert expressions
#: select trouble, ratios guard against dividing by zero, no receiver is configured).
MUST_HAVE_DATA = (
    'up{job="shopwatch"}',
    "shopwatch_violations_total",
    "shopwatch_open_items",
    "shopwatch_at_risk_items",
    "shopwatch_build_info",
    "shopwatch_stream_up",
    "shopwatch_watermark_timestamp_seconds",
    "shopwatch_agent_score",
    'process_start_time_seconds{job="shopwatch"}',
)
#: Metrics a dashboard or rule query may read without getting data in this test.
MAY_BE_EMPTY = {
    "shopwatch_alerts_sent_total",  # no [alerts] receiver in this daemon
    "shopwatch_alert_send_failures_total",
    # Per-shop error series appear with a stream's first failure (a thousand shops do not
    # export zeros for every reason); this daemon's polls all succeed.
    "shopwatch_poll_errors_total",
}
#: Panels over one rule's series, where this test's scenario has none of that rule: the
#: people rules (CS109–CS112) are off in the test config, and no CS102 item is open.
EMPTY_FOR_THIS_SCENARIO = ('rule="CS102"', 'rule=~"CS109|CS110|CS111|CS112"')


def expects_data(query: Query) -> bool:
    """A dashboard or recording-rule query over raw, always-exported series returns data,
    unless it divides by a ``> 0`` guard (no new conversations during the test) or reads
    alert delivery. Alert expressions select trouble: empty is their healthy answer."""
    if query.where.startswith(ALERTING_RULES.name):
        return False
    names = metric_names(query.expr)
    return not (
        any(":" in name for name in names)  # recorded series: evaluated once a minute
        or names & MAY_BE_EMPTY
        or any(part in query.expr for part in EMPTY_FOR_THIS_SCENARIO)
        or "> 0" in query.expr
    )


async def prom_query(http: httpx.AsyncClient, base: str, expr: str) -> dict[str, Any]:
    response = await http.get(f"{base}/api/v1/query", params={"query": expr})
    body: dict[str, Any] = response.json()
    return body


async def test_prometheus_scrapes_the_daemon_and_every_query_evaluates(tmp_path: Path) -> None:
    prometheus = binary("prometheus")
    async with running_daemon(tmp_path) as (_, (host, port), _):
        web_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RECORDING_RULES), str(ALERTING_RULES)],
            "scrape_configs": [
                {"job_name": "shopwatch", "static_configs": [{"targets": [f"{host}:{port}"]}]}
            ],
        }
        config_file = tmp_path / "prometheus.yml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        base = f"http://127.0.0.1:{web_port}"
        args = [
            prometheus,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--log.level=warn",
        ]
        log = tmp_path / "prometheus.log"
        async with running(args, log, f"{base}/-/ready"), httpx.AsyncClient(timeout=10) as http:

            async def scraped_twice() -> bool:
                # increase()/rate() need two samples of a series in their range.
                body = await prom_query(http, base, 'count_over_time(up{job="shopwatch"}[1m])')
                result = body["data"]["result"]
                return bool(result) and float(result[0]["value"][1]) >= 2

            await until(scraped_twice, DATA_DEADLINE, lambda: log.read_text(errors="replace"))

            up = await prom_query(http, base, 'up{job="shopwatch"}')
            assert [sample["value"][1] for sample in up["data"]["result"]] == ["1"]

            failures, empty, alarms = [], [], []
            queries = [Query(f"data: {expr}", expr) for expr in MUST_HAVE_DATA] + all_queries()
            for query in queries:
                body = await prom_query(http, base, query.expr)
                if body.get("status") != "success":
                    failures.append(f"{query.where}: {body.get('error')}\n  {query.expr}")
                    continue
                result = body["data"]["result"]
                must = query.where.startswith("data: ") or expects_data(query)
                if must and not result:
                    empty.append(f"{query.where}\n  {query.expr}")
                if query.where.startswith(ALERTING_RULES.name) and result:
                    alarms.append(f"{query.where}: {result}")
            assert not failures, "queries Prometheus rejected:\n" + "\n".join(failures)
            assert not empty, "queries without data:\n" + "\n".join(empty)
            assert not alarms, "a healthy daemon trips alert rules:\n" + "\n".join(alarms)

            violations = await prom_query(
                http, base, 'sum by (rule) (shopwatch_violations_total{shop="shop-1"})'
            )
            counts = {r["metric"]["rule"]: r["value"][1] for r in violations["data"]["result"]}
            assert counts["CS101"] == "1" and counts["CS103"] == "1"

            rules = (await http.get(f"{base}/api/v1/rules")).json()["data"]["groups"]
            loaded = {rule["name"] for group in rules for rule in group["rules"]}
            assert {"ShopwatchDown", "shopwatch:violations:increase1d"} <= loaded
            broken = [
                (rule["name"], rule.get("lastError"))
                for group in rules
                for rule in group["rules"]
                if rule.get("health") == "err"
            ]
            assert not broken, broken


# ---- (b) Alertmanager ----


async def test_alertmanager_delivers_the_daemons_alerts_to_a_webhook(tmp_path: Path) -> None:
    alertmanager = binary("prometheus-alertmanager")
    notifications: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        notifications.append(await request.json())
        arrived.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    receiver = TestServer(app, host="127.0.0.1")
    await receiver.start_server()
    try:
        web_port = free_port()
        config = {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "shop"],
                "group_wait": "1s",
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
        base = f"http://127.0.0.1:{web_port}"
        args = [
            alertmanager,
            f"--config.file={config_file}",
            f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--cluster.listen-address=",  # no gossip port: a single, private instance
            "--log.level=warn",
        ]
        log = tmp_path / "alertmanager.log"
        alerts_toml = (
            f'[alerts]\nalertmanager_urls = ["{base}"]\nresend_interval = "1s"\nfiring_for = "3s"\n'
        )
        async with (
            running(args, log, f"{base}/-/ready"),
            running_daemon(tmp_path, alerts_toml) as (daemon, _, listener),
        ):
            await listener.drain()

            def received(status: str) -> dict[str, set[str]]:
                found: dict[str, set[str]] = {}
                for notification in notifications:
                    for alert in notification["alerts"]:
                        if alert["status"] == status:
                            name = alert["labels"]["alertname"]
                            found.setdefault(name, set()).add(alert["labels"]["subject"])
                return found

            async def delivered() -> bool:
                firing = received("firing")
                return firing.get("ShopwatchViolation") == {"o-1", "o-5"} and bool(
                    firing.get("ShopwatchAtRisk")
                )

            await until(
                delivered,
                DELIVERY_DEADLINE,
                lambda: f"got {notifications}\n{log.read_text(errors='replace')}",
            )
            assert received("firing")["ShopwatchAtRisk"] == {"o-2"}  # due in 10 min
            alert = next(
                a
                for n in notifications
                for a in n["alerts"]
                if a["labels"]["alertname"] == "ShopwatchViolation"
                and a["labels"]["subject"] == "o-1"
            )
            assert alert["labels"] == {
                "alertname": "ShopwatchViolation",
                "shop": SHOP,
                "rule": "CS101",
                "subject": "o-1",
                "agent": "a1",
                "severity": "warning",
                "team": "customer-service",
            }
            assert "未及时催付" in alert["annotations"]["summary"]
            assert alert["generatorURL"].endswith("/api/violations/1")
            assert notifications[0]["version"] == "4"

            # After firing_for the pusher resolves the violations; Alertmanager says so.
            async def resolved() -> bool:
                await daemon.tick()
                await listener.drain()
                return received("resolved").get("ShopwatchViolation") == {"o-1", "o-5"}

            await until(
                resolved,
                DELIVERY_DEADLINE,
                lambda: f"got {notifications}\n{log.read_text(errors='replace')}",
            )
    finally:
        await receiver.close()


def test_the_repo_alertmanager_config_routes_shopwatch_notices() -> None:
    amtool = binary("amtool")
    config = PROMETHEUS_DIR / "alertmanager.yml"
    for labels, receiver in (
        (["alertname=ShopwatchViolation", "severity=critical"], "team-lead-violations"),
        (["alertname=ShopwatchViolation", "severity=warning"], "team-lead-violations"),
        (["alertname=ShopwatchAtRisk", "severity=warning"], "team-lead"),
    ):
        result = subprocess.run(
            [
                amtool,
                "config",
                "routes",
                "test",
                f"--config.file={config}",
                f"--verify.receivers={receiver}",
                "team=customer-service",
                *labels,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stdout + result.stderr
