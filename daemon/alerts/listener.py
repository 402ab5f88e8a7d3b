"""The evaluator's alert listener: violations and at-risk subjects become notices.

What goes where:

- **Alertmanager** (every URL in ``alertmanager_urls``; an HA pair gets each push): a
  violation is the alert ``ShopwatchViolation``, firing from its detection for
  ``firing_for`` (again from an escalation), then resolved. An open subject due within its
  rule's ``warn_before`` is ``ShopwatchAtRisk`` while it is at risk, resolved when it is
  satisfied, decided or its deadline passes. Firing alerts are pushed again every
  ``resend_interval``; resolved ones for five more minutes (Alertmanager's advice).
- **Webhooks**: each violation once, each escalation once per tier, each at-risk subject
  once per deadline, and the end of a lasting violation (nobody reachable) it announced,
  once: a chat message cannot be resolved the way an alert is.
- At-risk warnings are quiet outside coverage (SPEC §7): none is sent, firing ones are
  resolved, and they fire again when a shift starts if the subject is still at risk.

Everything is decided from the injected clock inside the evaluator's tick, so a year of
shifts runs in a test in milliseconds; the sending happens in background tasks
(:mod:`daemon.alerts.sending`). Each decision is written to ``alert_notices`` before it is
sent, which is what keeps a restart from announcing anything twice.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import BY_CODE
from checks.rule import Severity
from checks.subject import Breach
from daemon.alerts.alertmanager import AlertmanagerClient, alert_payload, merge_pushes
from daemon.alerts.notice import (
    AT_RISK,
    RESOLVED,
    VIOLATION,
    Notice,
    at_risk_notice,
    resolved_notice,
    subject_type_of,
    violation_notice,
)
from daemon.alerts.sending import SendQueue
from daemon.alerts.state import NoticeLog, NoticeRow, RowKey
from daemon.alerts.webhooks import BATCH_MAX, WebhookClient
from daemon.clock import Clock, Sleep, real_sleep
from daemon.config.alert_settings import ALERTMANAGER, AlertSettings
from daemon.config.settings import Settings
from daemon.store.ledger import Recorded
from daemon.store.tables import violations
from daemon.watch.events import OpenItem
from daemon.watch.metrics import Metrics

log = structlog.get_logger("shopwatch.alerts")

RESOLVED_RESEND = timedelta(minutes=5)
"""Alertmanager's docs ask clients to keep sending a resolved alert for a while."""
ENDS_AFTER_RESENDS = 3
"""A firing alert's endsAt lies this many re-send intervals ahead: missing two pushes is
harmless, a dead daemon's alerts lapse soon after."""
PRUNE_EVERY = timedelta(hours=1)
CLOSE_GRACE_SECONDS = 5.0
AM_BATCH_MAX = 50
_NEVER = datetime.min.replace(tzinfo=UTC)


def default_external_url(listen: tuple[str, int]) -> str:
    host, port = listen
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class AlertListener:
    def __init__(
        self,
        *,
        settings: Settings,
        alerts: AlertSettings,
        engine: AsyncEngine,
        metrics: Metrics,
        clock: Clock,
        sleep: Sleep,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.alerts = alerts
        self.timezone = settings.timezone
        self.calendar = settings.calendar()
        self.keep = settings.horizon + timedelta(days=1)
        self.clock = clock
        self.engine = engine
        self.notice_log = NoticeLog(engine)
        self.own_http = http is None
        self.http = http if http is not None else httpx.AsyncClient()
        self.external_url = (alerts.external_url or default_external_url(settings.listen)).rstrip(
            "/"
        )
        self.rows: dict[RowKey, NoticeRow] = {}
        self.started = False
        self.start_lock = asyncio.Lock()
        self.next_push: dict[str, datetime] = {}
        self.next_prune = _NEVER
        self.unpushed: dict[str, set[RowKey]] = defaultdict(set)
        self.alertmanagers: list[SendQueue[list[dict[str, Any]]]] = []
        for url in alerts.alertmanager_urls:
            client = AlertmanagerClient(
                url=url, http=self.http, timeout=alerts.alertmanager_timeout
            )
            self.alertmanagers.append(
                SendQueue(
                    client.receiver,
                    partial(self._push, client),
                    metrics=metrics,
                    batch_max=AM_BATCH_MAX,
                )
            )
        self.webhooks: dict[str, SendQueue[NoticeRow]] = {}
        self.urgent: dict[str, SendQueue[NoticeRow]] = {}
        for hook in alerts.webhooks:
            webhook = WebhookClient(
                settings=hook, http=self.http, timezone=self.timezone, sleep=sleep
            )
            self.webhooks[hook.name] = SendQueue(
                hook.name,
                partial(self._deliver, webhook),
                metrics=metrics,
                batch_max=BATCH_MAX,
            )
            # critical notices (nobody reachable, data disclosed) go alone and at once,
            # never batched behind the others waiting for the same webhook
            self.urgent[hook.name] = SendQueue(
                hook.name, partial(self._deliver, webhook), metrics=metrics, batch_max=1
            )
        metrics.declare_receivers(self.receivers)

    @property
    def receivers(self) -> list[str]:
        return [queue.receiver for queue in self.alertmanagers] + list(self.webhooks)

    # ---- the EvaluationListener protocol ----

    async def violation_recorded(
        self, shop: str, breach: Breach, recorded: Recorded, now: datetime
    ) -> None:
        await self.violations_recorded(shop, [(breach, recorded)], now)

    async def violations_recorded(
        self, shop: str, recorded: Sequence[tuple[Breach, Recorded]], now: datetime
    ) -> None:
        """Write down every notice of a batch in one transaction, then queue the sends."""
        await self._start(now)
        changed: list[NoticeRow] = []
        queued: list[tuple[SendQueue[NoticeRow], NoticeRow]] = []
        urgent = False
        for breach, one in recorded:
            if one.new or one.escalated:
                await self._notices_for(shop, breach, one, now, changed, queued)
                urgent = urgent or _critical(breach)
                if one.new and _lasting(breach) and breach.ended_at is not None:
                    # Found only once it had ended (the rules about people are judged at
                    # most once a minute): told, and resolved at once, at its end.
                    changed += [r for r in self._ended(shop, breach, now) if r not in changed]
                    self._resolved(shop, breach, now, changed, queued)
            elif one.ended:
                changed += self._ended(shop, breach, now)
                self._resolved(shop, breach, now, changed, queued)
                urgent = True
        await self.notice_log.save(*changed)
        for queue, row in queued:
            queue.put(row)
        if urgent and self.alertmanagers:
            self._push_shop(shop, now)  # not at the end of the tick: now

    def _ended(self, shop: str, breach: Breach, now: datetime) -> list[NoticeRow]:
        """A lasting breach ended (somebody came online): its alert resolves then."""
        subject = breach.subject
        row = self.rows.get((ALERTMANAGER, VIOLATION, shop, subject.rule, subject.id))
        if row is None or not row.open:
            return []
        ended = breach.ended_at or now
        row.closed_at = min(now, max(row.starts_at, ended))
        self.unpushed[shop].add(row.key)
        return [row]

    def _resolved(
        self,
        shop: str,
        breach: Breach,
        now: datetime,
        changed: list[NoticeRow],
        queued: list[tuple[SendQueue[NoticeRow], NoticeRow]],
    ) -> None:
        """A lasting breach ended: each webhook that announced it is told, once, at once (a
        chat message cannot be resolved the way an alert is)."""
        subject = breach.subject
        ended = breach.ended_at or now
        for name in self.webhooks:
            announced = self.rows.get((name, VIOLATION, shop, subject.rule, subject.id))
            key = (name, RESOLVED, shop, subject.rule, subject.id)
            if announced is None or key in self.rows:
                continue  # never announced here, or its end told already
            notice = resolved_notice(
                announced.notice, ended_at=ended, now=now, timezone=self.timezone
            )
            # Worth telling as long as a start is.
            row = NoticeRow.of(
                name, notice, active_until=now + self.alerts.firing_for, created_at=now
            )
            self.rows[key] = row
            changed.append(row)
            queued.append((self.urgent[name], row))

    async def _notices_for(
        self,
        shop: str,
        breach: Breach,
        recorded: Recorded,
        now: datetime,
        changed: list[NoticeRow],
        queued: list[tuple[SendQueue[NoticeRow], NoticeRow]],
    ) -> None:
        subject = breach.subject
        detected_at = now if recorded.new else await self._detected_at(recorded, now)
        notice = violation_notice(
            shop=shop,
            breach=breach,
            violation_id=recorded.violation_id,
            escalated=recorded.escalated and not recorded.new,
            detected_at=detected_at,
            now=now,
            timezone=self.timezone,
            url=f"{self.external_url}/api/violations/{recorded.violation_id}",
        )
        # Fires for firing_for from detection, or from the latest escalation; a lasting
        # breach (nobody reachable) until the rule says it ended.
        until = (detected_at if recorded.new else now) + self.alerts.firing_for
        if _lasting(breach) and not breach.final:
            until = now + self.keep
        if self.alertmanagers:
            row = self._violation_row(ALERTMANAGER, shop, breach, notice, until, now)
            changed.append(row)
            self.unpushed[shop].add(row.key)
        for name, queue in self.webhooks.items():
            known = self.rows.get((name, VIOLATION, shop, subject.rule, subject.id))
            if known is not None and (known.tier or 0) >= (breach.tier or 0):
                continue  # this tier was announced already (before a restart, say)
            row = self._violation_row(name, shop, breach, notice, until, now)
            changed.append(row)
            queued.append((self.urgent[name] if _critical(breach) else queue, row))

    async def open_items(self, shop: str, items: Sequence[OpenItem], now: datetime) -> None:
        await self._start(now)
        at_risk: dict[tuple[str, str], OpenItem] = {}
        if self.alerts.warn_at_risk and self.calendar.covered(now):
            at_risk = {(i.rule, i.subject_id): i for i in items if i.at_risk(now)}
        changed: list[NoticeRow] = []
        queued: list[tuple[SendQueue[NoticeRow], NoticeRow]] = []
        if self.alertmanagers:
            changed += self._alertmanager_changes(shop, at_risk, now)
        for name, queue in self.webhooks.items():
            for (rule, subject_id), item in at_risk.items():
                known = self.rows.get((name, AT_RISK, shop, rule, subject_id))
                if known is not None and known.deadline == item.deadline:
                    continue  # warned about this deadline already
                row = self._at_risk_row(name, shop, item, now)
                changed.append(row)
                queued.append((queue, row))
        await self.notice_log.save(*changed)
        for queue, row in queued:
            queue.put(row)
        if self.alertmanagers:
            self._push_shop(shop, now)
        if now >= self.next_prune:
            await self._prune(now)

    # ---- Alertmanager ----

    def _alertmanager_changes(
        self, shop: str, at_risk: dict[tuple[str, str], OpenItem], now: datetime
    ) -> list[NoticeRow]:
        changed = []
        for row in self.rows.values():
            if row.receiver != ALERTMANAGER or row.shop != shop or not row.open:
                continue
            if row.kind == AT_RISK:
                item = at_risk.get((row.rule, row.subject_id))
                if item is None or item.deadline != row.deadline:
                    row.closed_at = now  # satisfied, decided, past due, or quiet time
                    changed.append(row)
            elif row.active_until <= now:
                row.closed_at = row.active_until
                changed.append(row)
        for (rule, subject_id), item in at_risk.items():
            known = self.rows.get((ALERTMANAGER, AT_RISK, shop, rule, subject_id))
            if known is None or not known.open:
                changed.append(self._at_risk_row(ALERTMANAGER, shop, item, now))
        self.unpushed[shop].update(row.key for row in changed)
        return changed

    def _push_shop(self, shop: str, now: datetime) -> None:
        """Push what changed now; everything firing (and recently resolved) when due."""
        keys = set(self.unpushed.pop(shop, ()))
        if now >= self.next_push.get(shop, _NEVER):
            self.next_push[shop] = now + self.alerts.resend_interval
            keys.update(
                key
                for key, row in self.rows.items()
                if row.receiver == ALERTMANAGER
                and row.shop == shop
                and (row.closed_at is None or row.closed_at >= now - RESOLVED_RESEND)
            )
        rows = [self.rows[key] for key in sorted(keys) if key in self.rows]
        if not rows:
            return
        alerts = [
            alert_payload(row.notice, ends_at=self._ends_at(row, now), timezone=self.timezone)
            for row in rows
        ]
        for queue in self.alertmanagers:
            queue.put(alerts)

    def _ends_at(self, row: NoticeRow, now: datetime) -> datetime:
        if row.closed_at is not None:
            return row.closed_at
        return min(row.active_until, now + ENDS_AFTER_RESENDS * self.alerts.resend_interval)

    @staticmethod
    async def _push(client: AlertmanagerClient, pushes: list[list[dict[str, Any]]]) -> bool:
        await client.post(merge_pushes(pushes))
        return True

    # ---- webhooks ----

    async def _deliver(self, webhook: WebhookClient, rows: list[NoticeRow]) -> bool:
        """Send what is still worth sending; mark it delivered, or given up."""
        now = self.clock.now()
        batch: dict[RowKey, tuple[NoticeRow, Notice]] = {}
        stale = []
        for row in rows:
            if not row.open:
                continue  # queued twice (an escalation while waiting), sent already
            if row.active_until <= now:
                row.closed_at = now  # a warning after its deadline helps nobody
                stale.append(row)
            else:
                batch[row.key] = (row, row.notice)
        if batch:
            # Another process may hold the same row queued (SPEC §9: a restart or a handover
            # read it back while its writer still works): whoever claims it sends it.
            claimed = await self.notice_log.claim([row for row, _ in batch.values()], now=now)
            for key in list(batch):
                if key not in claimed:
                    row, _ = batch.pop(key)
                    row.sent_at = row.closed_at = now  # sent, or being sent, by another
        try:
            if batch:
                await webhook.send([notice for _, notice in batch.values()])
        except Exception:  # (not on cancellation: a restart delivers those rows instead)
            for row, notice in batch.values():
                if row.notice is notice:
                    row.closed_at = self.clock.now()  # given up: counted and logged
            raise
        else:
            for row, notice in batch.values():
                if row.notice is notice:  # not escalated meanwhile (that one is queued)
                    row.sent_at = row.closed_at = self.clock.now()
        finally:
            await self.notice_log.save(*stale, *(row for row, _ in batch.values()))
        return bool(batch)

    # ---- rows ----

    def _violation_row(
        self,
        receiver: str,
        shop: str,
        breach: Breach,
        notice: Notice,
        until: datetime,
        now: datetime,
    ) -> NoticeRow:
        key = (receiver, VIOLATION, shop, breach.subject.rule, breach.subject.id)
        row = self.rows.get(key)
        if row is None:
            row = NoticeRow.of(receiver, notice, active_until=until, created_at=now)
            self.rows[key] = row
            return row
        row.tier = max(row.tier or 0, breach.tier or 0) or None
        row.notice = notice
        row.active_until = max(row.active_until, until)
        row.sent_at = row.closed_at = None
        return row

    def _at_risk_row(self, receiver: str, shop: str, item: OpenItem, now: datetime) -> NoticeRow:
        notice = at_risk_notice(
            shop=shop,
            rule=item.rule,
            subject_type=subject_type_of(item.rule),
            subject_id=item.subject_id,
            buyer_id=item.buyer_id,
            deadline=item.deadline,
            warn_before=item.warn_before,
            now=now,
            timezone=self.timezone,
            url=self.alerts.dashboard_url,
        )
        # starts_at is deadline - warn_before: the same after a restart.
        row = NoticeRow.of(receiver, notice, active_until=item.deadline, created_at=now)
        self.rows[row.key] = row
        return row

    # ---- life cycle ----

    async def _start(self, now: datetime) -> None:
        """Read back what was sent before a restart; deliver what never went out."""
        if self.started:
            return
        async with self.start_lock:
            if self.started:
                return
            rows = await self.notice_log.load(now=now, keep=self.keep)
            self.rows = {row.key: row for row in rows}
            self.next_prune = now + PRUNE_EVERY
            self.started = True
        for row in rows:
            queue = self.webhooks.get(row.receiver)
            if queue is not None and row.open:
                queue.put(row)  # written down, never delivered: the daemon stopped first
        if rows:
            log.info(
                "alert notices read back",
                firing=sum(1 for r in rows if r.receiver == ALERTMANAGER and r.open),
                undelivered=sum(1 for r in rows if r.receiver in self.webhooks and r.open),
            )

    async def adopt(self, shop: str, now: datetime) -> None:
        """This process now watches ``shop`` (its lease moved here): read what was sent for
        it, by whichever process held it before, so nothing is announced a second time.
        Undelivered webhook notices of the previous holder are not re-queued: during a
        handover the team lead may miss one message, never get one twice."""
        if not self.started:
            await self._start(now)  # reads every shop's rows
            return
        rows = await self.notice_log.load(now=now, keep=self.keep, shop=shop)
        self.rows.update((row.key, row) for row in rows)
        self.next_push.pop(shop, None)

    def forget(self, shop: str) -> None:
        """This process no longer watches ``shop``: stop re-sending its alerts (its new
        holder does)."""
        self.rows = {key: row for key, row in self.rows.items() if row.shop != shop}
        self.unpushed.pop(shop, None)
        self.next_push.pop(shop, None)

    async def _prune(self, now: datetime) -> None:
        self.next_prune = now + PRUNE_EVERY
        limit = now - self.keep
        old = [
            key
            for key, row in self.rows.items()
            if row.closed_at is not None and row.closed_at < limit
        ]
        for key in old:
            del self.rows[key]
        if old:
            await self.notice_log.prune(before=limit)

    async def _detected_at(self, recorded: Recorded, now: datetime) -> datetime:
        """An escalated violation keeps the startsAt of its first announcement."""
        async with self.engine.connect() as conn:
            detected = (
                await conn.execute(
                    select(violations.c.detected_at).where(violations.c.id == recorded.violation_id)
                )
            ).scalar_one_or_none()
        return detected if detected is not None else now

    def _queues(self) -> list[SendQueue[Any]]:
        return [*self.alertmanagers, *self.webhooks.values(), *self.urgent.values()]

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent (or has failed)."""
        for queue in self._queues():
            await queue.join()

    async def aclose(self) -> None:
        """Give queued notices a few seconds, then stop the senders and the HTTP client."""
        await asyncio.gather(*(queue.aclose(CLOSE_GRACE_SECONDS) for queue in self._queues()))
        if self.own_http:
            await self.http.aclose()


def _critical(breach: Breach) -> bool:
    rule = BY_CODE.get(breach.subject.rule)
    return rule is not None and rule.severity is Severity.CRITICAL


def _lasting(breach: Breach) -> bool:
    rule = BY_CODE.get(breach.subject.rule)
    return rule is not None and rule.lasting


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
