"""The rule-evaluation tick for one shop: decide what the evidence allows, record it.

Work follows what changed, not the history: a tick looks at buyers with new data and at
buyers whose pending deadline (or next escalation point) the watermarks have now passed.
After a start nothing is known in memory, so the first tick looks at every buyer active
within the evaluation horizon; the ledger's uniqueness keys make that re-evaluation
harmless.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from checks.business_time import ROUND_THE_CLOCK
from checks.evidence import Evidence, Watermarks
from checks.replies import first_replies
from checks.rule import Scope
from checks.shop_evidence import ShopEvidence
from checks.subject import Breach, Outcome, Pending, Undecidable
from connectors.model import Message, PresenceStatus, Stream
from daemon.clock import Clock
from daemon.config.settings import Settings
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore
from daemon.watch.events import EvaluationListener, OpenItem
from daemon.watch.judge import Judge, watermarks
from daemon.watch.metrics import Metrics
from daemon.watch.poller import StreamPoller

log = structlog.get_logger("shopwatch.evaluator")

SHOP_SUBJECTS = ""
"""Where the shop-level rules' open subjects are kept (no buyer id is empty)."""
TEAM_SHOP = ""
"""The shop the team's violations (CS108) are recorded with: none (``shop`` null)."""
TICK = timedelta(microseconds=1)

PRUNE_EVERY = timedelta(hours=1)
LOG_EACH_UP_TO = 20
"""A batch with more changes than this (a back-fill) is logged as one line of counts per
rule; each violation still goes to the debug log and, with its evidence, to the ledger."""
SHOP_RULES_EVERY = timedelta(minutes=1)
"""The shop-level rules (people at their posts) are judged at most this often, not at every
tick or poll: their limits are minutes (5 min away, 5 min late, 15 min for a handover
note), so a finding comes at most a minute later, while a thousand shops judged at every
poll from days of presence took most of a core."""


@dataclass(slots=True)
class _Found:
    """What one batch of buyers produced that must be written."""

    breaches: list[Breach] = field(default_factory=list)
    settle: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """Subjects decided for good by this batch: marked settled only once it is written."""
    undecidable: list[Undecidable] = field(default_factory=list)


class ShopEvaluator:
    def __init__(
        self,
        *,
        shop: str,
        settings: Settings,
        store: ObservationStore,
        ledger: Ledger,
        metrics: Metrics,
        clock: Clock,
        pollers: dict[Stream, StreamPoller],
        listeners: Iterable[EvaluationListener] = (),
    ) -> None:
        self.shop = shop
        self.settings = settings
        self.calendar = settings.calendar()
        self.rules = settings.enabled_rules()
        self.judge = Judge(
            shop=shop,
            rules=self.rules,
            calendar=self.calendar,
            roster=settings.roster,
            shifts=settings.shifts,
            team=shop == settings.shops[0].id,
        )
        self.chat_settings = next(s.chat for s in settings.shops if s.id == shop)
        metrics.declare_shifts(shop, [s.name for s in settings.shifts] or [ROUND_THE_CLOCK])
        self.store = store
        self.ledger = ledger
        self.metrics = metrics
        self.clock = clock
        self.pollers = pollers
        self.listeners = list(listeners)
        self.dirty: set[str] = set()
        self.new_replies: dict[str, set[str]] = defaultdict(set)
        self.open: dict[str, dict[tuple[str, str], OpenItem]] = {}
        self.recheck: dict[str, datetime] = {}
        self.settled: dict[tuple[str, str], datetime] = {}
        """Subjects decided for good (deadline by key): not written again while in memory.
        Forgotten once out of the evaluation horizon, where nothing looks at them again."""
        self.pruned_at: datetime | None = None
        self.failure: str | None = None
        """Why the last evaluation failed (a storage fault), or None: readiness reads it."""
        self.started = False
        self.shop_judged: datetime | None = None
        """When the shop-level rules were last judged."""

    def forget(self) -> None:
        """Forget everything held in memory (the shop's lease moved to another process and
        may come back later): the next tick starts afresh from the store, like a restart."""
        self.dirty.clear()
        self.new_replies.clear()
        self.open.clear()
        self.recheck.clear()
        self.settled.clear()
        self.pruned_at = None
        self.failure = None
        self.started = False
        self.shop_judged = None

    def new_data(self, stream: Stream, records: Sequence[Any]) -> None:
        """Called by the poller with newly stored orders or messages."""
        for record in records:
            self.dirty.add(record.buyer_id)
            if stream is Stream.CHAT and record.is_agent_message:
                self.new_replies[record.buyer_id].add(record.id)

    def watermarks(self) -> Watermarks | None:
        states = {stream: poller.state for stream, poller in self.pollers.items()}
        return watermarks(states.get(Stream.ORDERS), states.get(Stream.CHAT))

    async def tick(self) -> int:
        """Evaluate what is due; returns how many buyers were looked at."""
        marks = self.watermarks()
        if marks is None:
            return 0
        now = self.clock.now()
        horizon_start = now - self.settings.horizon
        buyers: list[str] = []
        due: dict[str, datetime] = {}
        try:
            if not self.started:
                self.dirty |= await self.store.active_buyers(self.shop, horizon_start)
                self.started = True
            complete = marks.complete_until
            due = {buyer: at for buyer, at in self.recheck.items() if at <= complete}
            buyers = sorted(self.dirty | set(due))
            self.dirty.clear()
            for buyer in due:
                del self.recheck[buyer]
            if buyers:
                await self._evaluate(buyers, marks, now, horizon_start)
            if self.shop_judged is None or now - self.shop_judged >= SHOP_RULES_EVERY:
                await self._evaluate_shop(marks, now, horizon_start)
                self.shop_judged = now
            await self._forget_settled(horizon_start)  # the store's pruning is a write too
        except BaseException as error:
            # Nothing is marked done before it is durably written: every buyer of this tick
            # is looked at again next time (the ledger's keys make a repeat harmless).
            self.dirty.update(buyers)
            for buyer, at in due.items():
                self._recheck(buyer, at)
            self.failure = f"{type(error).__name__}: {error}"
            raise
        self.failure = None
        await self._publish_open_items(now)
        return len(buyers)

    async def _forget_settled(self, horizon_start: datetime) -> None:
        """Hourly, forget what lies before the horizon: settled subjects in memory, refused
        records in the store (nothing reads either any more)."""
        if self.pruned_at is not None and horizon_start - self.pruned_at < PRUNE_EVERY:
            return
        self.settled = {k: d for k, d in self.settled.items() if d >= horizon_start}
        await self.store.forget_rejected(self.shop, horizon_start)
        self.pruned_at = horizon_start  # after the store's part: a failure tries again

    async def _evaluate(
        self, buyers: Sequence[str], marks: Watermarks, now: datetime, horizon_start: datetime
    ) -> None:
        presence = await self.judge.presence(self.store, horizon_start)
        batches = self.judge.batches(
            self.store, buyers, marks=marks, presence=presence, now=now, since=horizon_start
        )
        async for batch in batches:
            found = _Found()
            for judged in batch.buyers:
                self.open.pop(judged.buyer, None)
                for rule in judged.failed:
                    self.metrics.rule_errors.labels(rule.code).inc()
                for verdict in judged.verdicts:
                    self._sort(judged.buyer, verdict.outcomes, verdict.options.warn_before, found)
                self._observe_replies(judged.buyer, judged.evidence)
            for code, seconds in batch.seconds.items():
                self.metrics.evaluation_seconds.labels(code).observe(seconds)
            await self._record(found, now)

    async def _evaluate_shop(
        self, marks: Watermarks, now: datetime, horizon_start: datetime
    ) -> None:
        """The shop-level rules (CS109–CS112, and the team's CS108 in the first shop), at
        most once a minute (:data:`SHOP_RULES_EVERY`); the team's findings are recorded with
        no shop. Then who is online."""
        evidence = await self.judge.shop_evidence(
            self.store, marks=marks, now=now, since=horizon_start
        )
        judged = self.judge.judge_shop(evidence)
        for rule in judged.failed:
            self.metrics.rule_errors.labels(rule.code).inc()
        for code, seconds in judged.seconds.items():
            self.metrics.evaluation_seconds.labels(code).observe(seconds)
        self.open.pop(SHOP_SUBJECTS, None)
        shop_found, team_found = _Found(), _Found()
        for verdict in judged.verdicts:
            found = team_found if verdict.rule.scope is Scope.TEAM else shop_found
            self._sort(SHOP_SUBJECTS, verdict.outcomes, verdict.options.warn_before, found)
        await self._record(shop_found, now)
        await self._record(team_found, now, shop=TEAM_SHOP)
        self._publish_presence(evidence, now)

    def _publish_presence(self, evidence: ShopEvidence, now: datetime) -> None:
        """Who is online now per shift, and whether presence is known now at all."""
        presence = evidence.presence
        read_until = presence.read_until(now)
        fresh = 2 * self.chat_settings.poll_interval + self.chat_settings.settle
        latest = None
        if read_until is not None and now - read_until <= fresh:
            latest = read_until if presence.settled(read_until) else read_until - TICK
        known = latest is not None and presence.known(latest)
        self.metrics.presence_known.labels(self.shop).set(int(known))
        running = {
            interval.shift: interval for interval in self.calendar.intervals(now, now + TICK)
        }
        for name in self.metrics.shift_names:
            interval = running.get(name)
            expected = []
            if interval is not None:
                expected = [
                    agent
                    for agent in interval.agents
                    if self.calendar.works(agent, interval) and not evidence.on_leave(agent, now)
                ]
            online = [
                agent
                for agent in expected
                if latest is not None
                and known
                and presence.status_at(agent, latest) is PresenceStatus.ONLINE
            ]
            self.metrics.agents_on_duty.labels(self.shop, name).set(len(expected))
            self.metrics.agents_online.labels(self.shop, name).set(len(online))

    def _sort(
        self, buyer: str, outcomes: list[Outcome], warn_before: timedelta, found: _Found
    ) -> None:
        """Keep pending subjects open in memory; collect what must be written."""
        for outcome in outcomes:
            key = (outcome.subject.rule, outcome.subject.id)
            if isinstance(outcome, Pending):
                self.open.setdefault(buyer, {})[key] = OpenItem(
                    rule=key[0],
                    subject_id=key[1],
                    buyer_id=buyer,
                    deadline=outcome.deadline,
                    warn_before=warn_before,
                )
                if buyer != SHOP_SUBJECTS:  # shop-level rules come back within a minute anyway
                    self._recheck(buyer, outcome.deadline)
            elif key in self.settled:
                continue
            elif isinstance(outcome, Breach):
                found.breaches.append(outcome)
                if outcome.final:
                    found.settle[key] = outcome.deadline
                elif outcome.recheck_at is not None:
                    self._recheck(buyer, outcome.recheck_at)
            elif isinstance(outcome, Undecidable):
                found.undecidable.append(outcome)
                found.settle[key] = outcome.deadline

    async def _record(self, found: _Found, now: datetime, shop: str | None = None) -> None:
        """Write a batch's findings in two transactions, then tell metrics and listeners.
        ``shop`` is where they are recorded: this shop, or ``""`` for the team's (CS108)."""
        shop = self.shop if shop is None else shop
        undecidable = await self.ledger.record_undecidable_many(shop, found.undecidable, now)
        each = log.info if len(undecidable) <= LOG_EACH_UP_TO else log.debug
        reasons: Counter[str] = Counter()
        for outcome in undecidable:
            rule, subject = outcome.subject.rule, outcome.subject.id
            self.metrics.undecidable.labels(shop, rule, outcome.reason).inc()
            reasons[f"{rule} {outcome.reason}"] += 1
            each("undecidable", shop=shop, rule=rule, subject=subject, reason=outcome.reason)
        if len(undecidable) > LOG_EACH_UP_TO:
            log.info("undecidable", shop=shop, subjects=len(undecidable), by_rule=dict(reasons))
        recorded_all = await self.ledger.record_many(shop, found.breaches, now)
        self.settled.update(found.settle)
        changed = [
            (breach, recorded)
            for breach, recorded in zip(found.breaches, recorded_all, strict=True)
            if recorded.new or recorded.escalated or recorded.ended
        ]
        each = log.info if len(changed) <= LOG_EACH_UP_TO else log.debug
        summary: Counter[tuple[str, str]] = Counter()
        for breach, recorded in changed:
            label = (shop, breach.subject.rule, self.metrics.agent_label(breach.agent))
            self.metrics.ledger.add(label, count=int(recorded.new), points=recorded.points_delta)
            if recorded.new:
                what = "violation recorded"
            else:
                what = "violation escalated" if recorded.escalated else "violation ended"
            summary[(breach.subject.rule, what.removeprefix("violation "))] += 1
            each(
                what,
                shop=shop,
                rule=breach.subject.rule,
                id=recorded.violation_id,
                subject=breach.subject.id,
                agent=breach.agent,
                shift=breach.shift,
                tier=breach.tier,
                points=breach.points,
                deadline=breach.deadline.isoformat(),
            )
        if len(changed) > LOG_EACH_UP_TO:
            log.info(
                "violations recorded",
                shop=shop,
                changes=len(changed),
                by_rule={f"{rule} {what}": n for (rule, what), n in sorted(summary.items())},
            )
        if changed:
            for listener in self.listeners:
                await listener.violations_recorded(shop, changed, now)

    def _recheck(self, buyer: str, at: datetime) -> None:
        current = self.recheck.get(buyer)
        if current is None or at < current:
            self.recheck[buyer] = at

    def _observe_replies(self, buyer: str, evidence: Evidence) -> None:
        new_ids = self.new_replies.pop(buyer, None)
        if not new_ids:
            return
        conversation: list[Message] = evidence.conversation()
        for reply in first_replies(conversation, self.calendar, only=new_ids):
            agent = self.metrics.agent_label(reply.reply.agent_id)
            self.metrics.reply_seconds.labels(self.shop, agent).observe(reply.wait.total_seconds())
            if reply.opens_conversation:
                self.metrics.conversations.labels(self.shop, agent).inc()

    def open_items(self) -> list[OpenItem]:
        return [item for items in self.open.values() for item in items.values()]

    async def _publish_open_items(self, now: datetime) -> None:
        items = [item for item in self.open_items() if item.deadline > now]
        counts: dict[str, list[int]] = {
            rule.code: [0, 0]
            for rule, _ in self.rules
            if rule.scope is not Scope.TEAM or self.judge.team
        }
        for item in items:
            counts[item.rule][0] += 1
            counts[item.rule][1] += item.at_risk(now)
        team = {rule.code for rule, _ in self.rules if rule.scope is Scope.TEAM}
        for code, (open_count, at_risk) in counts.items():
            shop = TEAM_SHOP if code in team else self.shop
            self.metrics.open_counts(shop, code, open_count=open_count, at_risk=at_risk)
        for listener in self.listeners:
            await listener.open_items(self.shop, items, now)
