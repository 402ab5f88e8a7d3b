"""Direct webhooks: DingTalk signing, the three payloads, once per tier, retries, restarts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.alerts.notice import Notice, at_risk_notice
from daemon.alerts.webhooks import (
    WECOM_MAX_BYTES,
    dingtalk_sign,
    dingtalk_signed_url,
    markdown_text,
)
from tests.conftest import FakeClock
from tests.daemon.shop import local

from .support import breach, harness, item

DINGTALK = "https://oapi.dingtalk.com/robot/send"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
HOOK = "https://hooks.example.com/shopwatch"
OK = {"errcode": 0, "errmsg": "ok"}


def test_dingtalk_signature_matches_a_hand_computed_vector() -> None:
    # printf '1700000000000\nSEC0123456789abcdef' \
    #   | openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64
    expected = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
    assert dingtalk_sign("SEC0123456789abcdef", 1700000000000) == (
        "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
    )
    url = dingtalk_signed_url(f"{DINGTALK}?access_token=tok", "SEC0123456789abcdef", 1700000000000)
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "access_token": ["tok"],
        "timestamp": ["1700000000000"],
        "sign": [expected],  # decoded once: the sign was encoded exactly once
    }


def write_secrets(tmp_path: Path) -> None:
    (tmp_path / "dingtalk-url").write_text(f"{DINGTALK}?access_token=tok\n")
    (tmp_path / "dingtalk-secret").write_text("SECsecret\n")
    (tmp_path / "wecom-url").write_text(f"{WECOM}?key=k-123\n")
    (tmp_path / "hook-url").write_text(HOOK)


def config(kind: str, *, retries: int = 3, extra: str = "") -> str:
    url_file = {"dingtalk": "dingtalk-url", "wecom": "wecom-url", "json": "hook-url"}[kind]
    secret = 'secret_file = "dingtalk-secret"\n' if kind == "dingtalk" else ""
    return (
        f'[alerts]\nexternal_url = "https://shopwatch.example.com"\n{extra}'
        f'[[alerts.webhooks]]\nname = "lead"\nkind = "{kind}"\nurl_file = "{url_file}"\n'
        f"{secret}retries = {retries}\n"
    )


def body(route: respx.Route, index: int = -1) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(route.calls[index].request.content)
    return data


@pytest.fixture
def router() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


async def test_dingtalk_robot_gets_one_signed_markdown_message(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    robot = router.post(DINGTALK).respond(200, json=OK)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("dingtalk")) as h:
        recorded = await h.record(breach(deadline=local(clock.now(), "10:00")))
        await h.tick()
        await h.tick()
        assert robot.call_count == 1
        query = parse_qs(robot.calls[0].request.url.query.decode())
        timestamp = query["timestamp"][0]
        digest = hmac.new(b"SECsecret", f"{timestamp}\nSECsecret".encode(), hashlib.sha256)
        assert query["sign"] == [base64.b64encode(digest.digest()).decode()]
        assert query["access_token"] == ["tok"]
        message = body(robot)
        assert message["msgtype"] == "markdown"
        title, text = message["markdown"]["title"], message["markdown"]["text"]
        assert title.startswith("shopwatch") and "CS101" in title  # keyword-protected robots
        assert "未及时催付" in text and "Unpaid order not chased" in text
        assert "o-1" in text and "a1" in text and "m-10" in text
        assert f"https://shopwatch.example.com/api/violations/{recorded.violation_id}" in text
        assert h.sample("shopwatch_alerts_sent_total", "lead") == 1
        assert h.sample("shopwatch_alert_send_failures_total", "lead") == 0


async def test_wecom_robot_gets_markdown(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    robot = router.post(WECOM, params={"key": "k-123"}).respond(200, json=OK)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("wecom")) as h:
        await h.record(breach(rule="CS103", subject="o-6", deadline=local(clock.now(), "09:30")))
        await h.tick()
        message = body(robot)
        assert set(message) == {"msgtype", "markdown"}
        assert message["msgtype"] == "markdown"
        content = message["markdown"]["content"]
        assert content.startswith("### shopwatch")
        assert '<font color="comment">【违规】CS103 已付款订单未备注' in content
        assert "订单 o-6" in content
        assert len(content.encode()) <= WECOM_MAX_BYTES


async def test_json_webhook_payload(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    hook = router.post(HOOK).respond(204)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("json")) as h:
        recorded = await h.record(breach(deadline=local(clock.now(), "10:00")))
        await h.tick()
        payload = body(hook)
        assert (payload["version"], payload["source"]) == ("1", "shopwatch")
        (notice,) = payload["notices"]
        assert notice["event"] == "violation"
        assert notice["labels"]["alertname"] == "ShopwatchViolation"
        assert notice["subject"] == {"type": "order", "id": "o-1"}
        assert (notice["shop"], notice["rule"], notice["agent"]) == ("s", "CS101", "a1")
        assert notice["rule_name"] == "Unpaid order not chased"
        assert (notice["points"], notice["fine"], notice["tier"]) == (2, "5", None)
        assert notice["violation_id"] == recorded.violation_id
        assert notice["deadline"] == local(clock.now(), "10:00").isoformat()
        assert notice["severity"] == "warning"
        assert "未及时催付" in notice["summary"] and "m-10" in notice["evidence"]
        assert h.sample("shopwatch_alerts_sent_total", "lead") == 1


async def test_escalations_are_sent_once_per_tier(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    hook = router.post(HOOK).respond(200)
    clock.set(local(clock.now(), "08:45"))
    cs102: dict[str, Any] = {
        "rule": "CS102",
        "subject": "m-50",
        "subject_type": "episode",
        "agent": None,
    }
    deadline = local(clock.now(), "08:40")
    async with harness(tmp_path, engine, clock, config("json")) as h:
        for minutes, tier, points in ((0, 1, 5), (1, 1, 5), (10, 2, 10), (1, 2, 10), (25, 3, 20)):
            clock.advance(timedelta(minutes=minutes))
            final = tier == 3
            await h.record(
                breach(**cs102, deadline=deadline, tier=tier, points=points, final=final)
            )
            await h.tick()
        events = [(n["event"], n["tier"]) for call in hook.calls for n in body_of(call)]
        assert events == [("violation", 1), ("violation_escalated", 2), ("violation_escalated", 3)]


def body_of(call: Any) -> list[dict[str, Any]]:
    notices: list[dict[str, Any]] = json.loads(call.request.content)["notices"]
    return notices


async def test_at_risk_warnings_once_per_deadline_and_quiet_outside_coverage(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    hook = router.post(HOOK).respond(200)
    clock.set(local(clock.now(), "08:20"))
    early = item(deadline=local(clock.now(), "08:32"))
    async with harness(tmp_path, engine, clock, config("json")) as h:
        await h.tick([early])
        assert hook.call_count == 0  # before the shift: nobody to warn
        for _ in range(3):
            clock.advance(timedelta(minutes=5))  # 08:25 (quiet), 08:30, 08:35 (past due)
            await h.tick([early] if clock.now() < early.deadline else [])
        ((notice,),) = [body_of(call) for call in hook.calls]
        assert notice["event"] == "at_risk"
        assert notice["labels"]["alertname"] == "ShopwatchAtRisk"
        assert notice["subject"] == {"type": "order", "id": "o-3"}
        assert "08:32" in notice["summary"]
        # A new deadline for the same subject (CS103: the order was starred) warns again.
        starred = item(rule="CS103", subject="o-6", deadline=local(clock.now(), "08:45"))
        await h.tick([starred])
        moved = item(rule="CS103", subject="o-6", deadline=local(clock.now(), "17:30"))
        clock.set(local(clock.now(), "17:20"))
        await h.tick([moved])
        await h.tick([moved])
        subjects = [(n["subject"]["id"], n["deadline"]) for c in hook.calls for n in body_of(c)]
        assert subjects[1:] == [
            ("o-6", starred.deadline.isoformat()),
            ("o-6", moved.deadline.isoformat()),
        ]


async def test_retries_with_backoff_then_success(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    robot = router.post(DINGTALK).mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectTimeout("slow"),
            httpx.Response(200, json={"errcode": 130101, "errmsg": "send too fast"}),
            httpx.Response(200, json=OK),
        ]
    )
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("dingtalk")) as h:
        await h.record(breach(deadline=local(clock.now(), "10:00")))
        await h.tick()
        assert robot.call_count == 4
        assert h.sleep.delays == [2.0, 4.0, 8.0]
        assert h.sample("shopwatch_alerts_sent_total", "lead") == 1
        assert h.sample("shopwatch_alert_send_failures_total", "lead") == 0
        signed = [parse_qs(call.request.url.query.decode()) for call in robot.calls]
        assert all(q["sign"] and q["timestamp"] for q in signed)  # every attempt signed anew


async def test_a_delivery_that_keeps_failing_is_counted_once_and_given_up(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    hook = router.post(HOOK).respond(502)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("json", retries=2)) as h:
        await h.record(breach(deadline=local(clock.now(), "10:00")))
        await h.tick()
        assert hook.call_count == 3
        assert h.sleep.delays == [2.0, 4.0]
        assert h.sample("shopwatch_alert_send_failures_total", "lead") == 1
        assert h.sample("shopwatch_alerts_sent_total", "lead") == 0
        clock.advance(timedelta(minutes=5))
        await h.tick()
        assert hook.call_count == 3  # given up: no retry storm on every tick


async def test_a_configuration_error_is_not_retried(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    robot = router.post(DINGTALK).respond(200, json={"errcode": 310000, "errmsg": "sign not match"})
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("dingtalk")) as h:
        await h.record(breach(deadline=local(clock.now(), "10:00")))
        await h.tick()
        assert robot.call_count == 1
        assert h.sleep.delays == []
        assert h.sample("shopwatch_alert_send_failures_total", "lead") == 1


async def test_a_missing_url_file_is_a_counted_failure(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("json")) as h:
        await h.record(breach(deadline=local(clock.now(), "10:00")))
        await h.tick()
        assert h.sample("shopwatch_alert_send_failures_total", "lead") == 1
        assert not router.calls


async def test_a_hanging_webhook_never_holds_up_the_evaluator(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock, router: respx.MockRouter
) -> None:
    write_secrets(tmp_path)
    release = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200)

    router.post(HOOK).mock(side_effect=hang)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("json")) as h:
        b = breach(deadline=local(clock.now(), "10:00"))
        recorded = await h.ledger.record("s", b, clock.now())
        await asyncio.wait_for(h.listener.violation_recorded("s", b, recorded, clock.now()), 2)
        await asyncio.wait_for(h.listener.open_items("s", [], clock.now()), 2)
        release.set()
        await h.listener.drain()
        assert h.sample("shopwatch_alerts_sent_total", "lead") == 1


async def test_a_restart_neither_repeats_nor_loses_a_message(
    tmp_path: Path,
    engine: AsyncEngine,
    clock: FakeClock,
    router: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_secrets(tmp_path)
    hook = router.post(HOOK).respond(200)
    clock.set(local(clock.now(), "10:05"))
    async with harness(tmp_path, engine, clock, config("json")) as first:
        await first.record(breach(subject="o-1", deadline=local(clock.now(), "10:00")))
        await first.tick([item(subject="o-3", deadline=local(clock.now(), "10:15"))])
        assert hook.call_count == 2
        # The process dies after writing down o-2's message, before sending it.
        monkeypatch.setattr(first.listener.webhooks["lead"], "put", lambda row: True)
        await first.record(breach(subject="o-2", deadline=local(clock.now(), "10:01")))
    monkeypatch.undo()

    clock.advance(timedelta(minutes=1))
    async with harness(tmp_path, engine, clock, config("json")) as second:
        await second.record(breach(subject="o-1", deadline=local(clock.now(), "10:00")))
        await second.tick([item(subject="o-3", deadline=local(clock.now(), "10:15"))])
        sent = [(n["event"], n["subject"]["id"]) for c in hook.calls for n in body_of(c)]
        assert sent == [("violation", "o-1"), ("at_risk", "o-3"), ("violation", "o-2")]


def notice(subject: str) -> Notice:
    now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    return at_risk_notice(
        shop="s",
        rule="CS101",
        subject_type="order",
        subject_id=subject,
        buyer_id="b",
        deadline=now + timedelta(minutes=10),
        warn_before=timedelta(minutes=15),
        now=now,
        timezone=ZoneInfo("Asia/Shanghai"),
        url=None,
    )


def test_several_notices_make_one_message_within_the_size_limit() -> None:
    three = markdown_text([notice("o-1"), notice("o-2"), notice("o-3")])
    assert three.startswith("### shopwatch：3 条即将超时 / 3 at risk")
    assert all(f"o-{i}" in three for i in (1, 2, 3))
    many = markdown_text([notice(f"o-{i}") for i in range(60)], wecom=True)
    assert len(many.encode()) <= WECOM_MAX_BYTES
    assert "more in the ledger" in many and "o-0" in many
