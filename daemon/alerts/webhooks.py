"""Direct webhooks, for shops without Alertmanager: a JSON POST, a DingTalk or a WeCom robot.

Each message is sent once (its row in ``alert_notices`` says so), with a few retries and
backoff. Several notices waiting for the same webhook go out as one message: a first start
that reads a day of history must not trip the robots' limit of 20 messages a minute.

DingTalk signing (custom robot "加签"; the recipe of prometheus-webhook-dingtalk's
``notifier/notification.go`` and DingTalk's robot docs): ``timestamp`` in milliseconds,
``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))``, both
added to the robot URL as query parameters. A robot protected by keywords needs the keyword
``shopwatch``, which every message contains.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import httpx
import structlog

from daemon.alerts.notice import AT_RISK, RESOLVED, Notice, rule_title
from daemon.clock import Sleep
from daemon.config.alert_settings import WebhookSettings

log = structlog.get_logger("shopwatch.alerts")

BATCH_MAX = 10
"""At most this many notices in one message; more wait for the next one."""
BACKOFF_BASE = 2.0
BACKOFF_MAX = 30.0
WECOM_MAX_BYTES = 4096
DINGTALK_MAX_CHARS = 5000
#: Robot error codes worth retrying: DingTalk "sending too fast" (130101) and "system busy"
#: (-1), WeCom "API frequency out of limit" (45009). Any other code is a config problem.
RETRYABLE_ERRCODES = frozenset({-1, 130101, 45009})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value, already URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    # Appended by hand: httpx's params= would encode the already-encoded sign a second time.
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


# ---- message bodies ----


def _heading(notices: Sequence[Notice]) -> str:
    if len(notices) == 1:
        return f"shopwatch {notices[0].title}"
    warnings = sum(1 for n in notices if n.kind == AT_RISK)
    resolved = sum(1 for n in notices if n.kind == RESOLVED)
    violations = len(notices) - warnings - resolved
    parts_zh, parts_en = [], []
    if violations:
        parts_zh.append(f"{violations} 条违规")
        parts_en.append(f"{violations} violation(s)")
    if warnings:
        parts_zh.append(f"{warnings} 条即将超时")
        parts_en.append(f"{warnings} at risk")
    if resolved:
        parts_zh.append(f"{resolved} 条已恢复")
        parts_en.append(f"{resolved} resolved")
    return f"shopwatch：{'，'.join(parts_zh)} / {', '.join(parts_en)}"


def _markdown_item(notice: Notice, *, wecom: bool) -> str:
    head = notice.title
    if wecom:
        if notice.kind == RESOLVED:
            color = "info"  # WeCom's green
        elif notice.kind == AT_RISK or notice.severity == "critical":
            color = "warning"
        else:
            color = "comment"
        head = f'<font color="{color}">{head}</font>'
    lines = [f"#### {head}", ""]
    for paragraph in notice.description.split("\n"):
        lines += [f"> {paragraph}", ""]
    evidence = notice.evidence.replace("\n", "\n> ")
    lines += [f"> 证据 Evidence：{evidence}", ""]
    if notice.url:
        lines += [f"[查看详情 Details]({notice.url})", ""]
    return "\n".join(lines)


def _fits(text: str, *, wecom: bool) -> bool:
    return len(text.encode()) <= WECOM_MAX_BYTES if wecom else len(text) <= DINGTALK_MAX_CHARS


def markdown_text(notices: Sequence[Notice], *, wecom: bool = False) -> str:
    """One message for all ``notices``; whole items are left out (and counted) rather than
    cut, to stay within the robot's message size."""
    items = [_markdown_item(n, wecom=wecom) for n in notices]
    head = f"### {_heading(notices)}\n\n"
    text = head + "\n".join(items)
    while not _fits(text, wecom=wecom) and len(items) > 1:
        items.pop()
        left = len(notices) - len(items)
        text = head + "\n".join(items) + f"\n另有 {left} 条，请看台账 / {left} more in the ledger\n"
    if not _fits(text, wecom=wecom):  # one huge item: cut it, on a character boundary
        text = text.encode()[: WECOM_MAX_BYTES - 8].decode("utf-8", "ignore") if wecom else text
        text = text[: DINGTALK_MAX_CHARS - 3] + "…"
    return text


def dingtalk_body(notices: Sequence[Notice]) -> dict[str, Any]:
    return {
        "msgtype": "markdown",
        "markdown": {"title": _heading(notices), "text": markdown_text(notices)},
    }


def wecom_body(notices: Sequence[Notice]) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": markdown_text(notices, wecom=True)}}


def _event(notice: Notice) -> str:
    if notice.kind in (AT_RISK, RESOLVED):
        return notice.kind
    return "violation_escalated" if notice.escalated else "violation"


def json_body(notices: Sequence[Notice], timezone: ZoneInfo) -> dict[str, Any]:
    """The generic webhook: stable field names a small script can route on."""
    return {
        "version": "1",
        "source": "shopwatch",
        "notices": [
            {
                "event": _event(n),
                "alertname": n.alertname,
                "labels": n.labels(),
                "shop": n.shop,
                "rule": n.rule,
                "rule_name": rule_title(n.rule)[1],
                "subject": {"type": n.subject_type, "id": n.subject_id},
                "buyer_id": n.buyer_id,
                "agent": n.agent,
                "shift": n.shift,
                "severity": n.severity,
                "deadline": n.deadline.isoformat(),
                "starts_at": n.starts_at.isoformat(),
                "violation_id": n.violation_id,
                "tier": n.tier,
                "points": n.points,
                "fine": n.fine,
                "title": n.title,
                "summary": n.summary,
                "description": n.description,
                "evidence": n.evidence,
                "url": n.url,
            }
            for n in notices
        ],
    }


# ---- delivery ----


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, kw_only=True)
class WebhookClient:
    """Sends one message to one webhook, retrying what a retry can fix."""

    settings: WebhookSettings
    http: httpx.AsyncClient
    timezone: ZoneInfo
    sleep: Sleep
    wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    """DingTalk checks the timestamp against its own clock (±1 h), so it is the real time,
    not the daemon's injected clock."""

    def body(self, notices: Sequence[Notice]) -> dict[str, Any]:
        kind = self.settings.kind
        if kind == "dingtalk":
            return dingtalk_body(notices)
        if kind == "wecom":
            return wecom_body(notices)
        return json_body(notices, self.timezone)

    def _url(self) -> str:
        url = self.settings.url()
        secret = self.settings.secret()
        if self.settings.kind == "dingtalk" and secret:
            return dingtalk_signed_url(url, secret, self.wall_clock_ms())
        return url

    async def _attempt(self, body: dict[str, Any]) -> None:
        try:
            url = self._url()  # re-read (and re-signed) per attempt: rotation, timestamp
        except OSError as exc:
            raise DeliveryError(
                f"cannot read the URL or secret file: {exc}", retryable=False
            ) from None
        try:
            response = await self.http.post(
                url, json=body, timeout=self.settings.timeout.total_seconds()
            )
        except httpx.HTTPError as exc:  # never log the URL: it may carry the robot's key
            raise DeliveryError(type(exc).__name__, retryable=True) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"HTTP {response.status_code}", retryable=True)
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code}", retryable=False)
        if self.settings.kind in ("dingtalk", "wecom"):
            try:
                answer = response.json()
                errcode = int(answer.get("errcode", 0))
            except (ValueError, AttributeError, TypeError):
                raise DeliveryError("the robot's answer is not JSON", retryable=True) from None
            if errcode != 0:
                raise DeliveryError(
                    f"errcode {errcode}: {answer.get('errmsg', '')}",
                    retryable=errcode in RETRYABLE_ERRCODES,
                )

    async def send(self, notices: Sequence[Notice]) -> None:
        """Deliver or raise the last :class:`DeliveryError` after ``retries`` retries."""
        body = self.body(notices)
        attempt = 0
        while True:
            try:
                await self._attempt(body)
                return
            except DeliveryError as exc:
                if not exc.retryable or attempt >= self.settings.retries:
                    raise
                delay = min(BACKOFF_BASE * 2**attempt, BACKOFF_MAX)
                log.info(
                    "webhook delivery failed, retrying",
                    receiver=self.settings.name,
                    error=str(exc),
                    attempt=attempt + 1,
                    retry_in=delay,
                )
                attempt += 1
                await self.sleep(delay)
