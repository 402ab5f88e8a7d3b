"""Judging buyers: read each buyer's evidence from the store and run every enabled rule on it.

The one place where evidence is built and rules are run, shared by the evaluator (which
records what it finds) and the what-if replay (which only counts it), so a replay gives
exactly the verdicts production would. Each rule runs isolated: one that raises is logged
and reported as failed for that buyer, and the other rules still judge.

A buyer whose evidence lacks a record a connector refused (an order version with a status it
did not know, a message it could not read: ``rejected_records``) gets no violation: the
missing record might have been the payment or the reply. Each such breach is counted
undecidable (``record_rejected``) instead, except a rule's whose breach rests on one message
alone (``Rule.whole_evidence`` false: CS106's wording).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from checks.business_time import BusinessCalendar, Shift
from checks.evidence import Evidence, PresenceHistory, StreamBounds, Watermarks
from checks.options import RuleOptions
from checks.presence import KnownSpan, PresenceSource, PresenceTimeline
from checks.rule import Rule, Scope
from checks.shop_evidence import HandoverNote, Leave, ShopEvidence
from checks.subject import Breach, Outcome, Undecidable
from daemon.store.observations import BuyerHistory, ObservationStore, StreamState
from daemon.store.people import PeopleBook
from daemon.store.presence import EVENTS, SAMPLES, PresenceStore

log = structlog.get_logger("shopwatch.judge")

BATCH = 500
"""Buyers whose histories are read in one query."""
RECORD_REJECTED = "record_rejected"
"""Why a breach is undecidable when the buyer's evidence lacks a refused record."""


def watermarks(orders: StreamState | None, chat: StreamState | None) -> Watermarks | None:
    """Both streams' bounds, or None while either stream has never been read."""
    if orders is None or chat is None:
        return None
    return Watermarks(
        orders=StreamBounds(history_start=orders.history_start, watermark=orders.watermark),
        chat=StreamBounds(history_start=chat.history_start, watermark=chat.watermark),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleVerdict:
    rule: Rule
    options: RuleOptions
    outcomes: list[Outcome]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuyerVerdicts:
    buyer: str
    evidence: Evidence
    verdicts: list[RuleVerdict]
    failed: list[Rule]
    """Rules that raised on this buyer (logged): they said nothing about it this time."""


@dataclass(slots=True, kw_only=True)
class BatchVerdicts:
    buyers: list[BuyerVerdicts] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Time spent in each rule (by code) over the batch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopVerdicts:
    evidence: ShopEvidence
    verdicts: list[RuleVerdict]
    failed: list[Rule]
    seconds: dict[str, float]


LEAVE_MARGIN = timedelta(days=1)
"""How far before the evidence's start leaves and handover notes are read."""


@dataclass(frozen=True, kw_only=True)
class Judge:
    shop: str
    rules: Sequence[tuple[Rule, RuleOptions]]
    calendar: BusinessCalendar
    roster: frozenset[str]
    shifts: Sequence[Shift] = ()
    team: bool = False
    """This judge also runs the team's rules (CS108): one shop's judge does, the first."""

    @functools.cached_property
    def buyer_rules(self) -> list[tuple[Rule, RuleOptions]]:
        """Worked out once: every buyer of every evaluation asks (a judge is rebuilt, not
        changed, when the configuration is)."""
        return [(rule, options) for rule, options in self.rules if rule.scope is Scope.BUYER]

    @functools.cached_property
    def shop_rules(self) -> list[tuple[Rule, RuleOptions]]:
        """The rules judged per shop, not per buyer (at most once a minute, see the evaluator):
        the shop's, and the team's if ``team``."""
        return [
            (rule, options)
            for rule, options in self.rules
            if rule.scope is Scope.SHOP or (rule.scope is Scope.TEAM and self.team)
        ]

    async def presence(self, store: ObservationStore, since: datetime) -> PresenceHistory:
        """Presence as CS102 and CS104 read it: every reported status change, sampled or from
        the event stream (coverage decides where none is known)."""
        stored = await PresenceStore(store.engine).load(self.shop, since)
        if stored.kind is None:  # written before presence sources were recorded
            return PresenceHistory(await store.presence_since(self.shop, since))
        return PresenceHistory(stored.statuses)

    async def timeline(
        self, store: ObservationStore, marks: Watermarks, since: datetime
    ) -> PresenceTimeline:
        """The shop's presence and where it is known, for CS109–CS112."""
        stored = await PresenceStore(store.engine).load(self.shop, since)
        if stored.kind is None:
            return PresenceTimeline(source=None)
        source = PresenceSource(stored.kind)
        settled_until = None
        if stored.kind == EVENTS:
            settled_until = marks.chat.watermark
        elif stored.kind == SAMPLES:
            settled_until = stored.last_sample_at
        return PresenceTimeline(
            source=source,
            statuses=stored.statuses,
            spans=[
                KnownSpan(start=k.start, end=k.end, end_included=k.end_included)
                for k in stored.known
            ],
            settled_until=settled_until,
            roster=self.roster,
        )

    async def shop_evidence(
        self, store: ObservationStore, *, marks: Watermarks, now: datetime, since: datetime
    ) -> ShopEvidence:
        """What the shop-level rules see, from ``since`` on."""
        people = PeopleBook(store.engine)
        leaves = await people.leaves(since=since - LEAVE_MARGIN)
        first_day = (since - LEAVE_MARGIN).astimezone(self.calendar.timezone).date()
        notes = await people.handovers(since_day=first_day)
        return ShopEvidence(
            shop=self.shop,
            calendar=self.calendar,
            shifts=self.shifts,
            presence=await self.timeline(store, marks, since),
            leaves=[Leave(agent=x.agent, start=x.start, end=x.end) for x in leaves],
            handovers=[
                HandoverNote(id=n.id, shift=n.shift, day=n.day, by=n.by, written_at=n.written_at)
                for n in notes
            ],
            watermarks=marks,
            history_start=min(marks.orders.history_start, marks.chat.history_start),
            since=since,
            now=now,
            roster=self.roster,
        )

    def judge_shop(self, evidence: ShopEvidence) -> ShopVerdicts:
        """Every shop-level rule once (the team's with ``shop`` empty), each isolated."""
        verdicts: list[RuleVerdict] = []
        failed: list[Rule] = []
        seconds: dict[str, float] = defaultdict(float)
        team = dataclasses.replace(evidence, shop="")
        for rule, options in self.shop_rules:
            started = time.perf_counter()
            try:
                outcomes = rule.evaluate(team if rule.scope is Scope.TEAM else evidence, options)
            except Exception:
                failed.append(rule)
                log.exception("rule failed", shop=self.shop, rule=rule.code)
                continue
            finally:
                seconds[rule.code] += time.perf_counter() - started
            verdicts.append(RuleVerdict(rule=rule, options=options, outcomes=outcomes))
        return ShopVerdicts(evidence=evidence, verdicts=verdicts, failed=failed, seconds=seconds)

    async def batches(
        self,
        store: ObservationStore,
        buyers: Sequence[str],
        *,
        marks: Watermarks,
        presence: PresenceHistory,
        now: datetime,
        since: datetime,
    ) -> AsyncIterator[BatchVerdicts]:
        """The verdicts on ``buyers``, :data:`BATCH` at a time, from history since ``since``."""
        rejected = await store.rejected_keys(self.shop, since)
        for first in range(0, len(buyers), BATCH):
            batch = buyers[first : first + BATCH]
            histories = await store.buyer_histories(self.shop, batch, since)
            found = BatchVerdicts()
            for buyer in batch:
                evidence = self.evidence(buyer, histories[buyer], marks, presence, now)
                judged = self.judge(evidence, found.seconds)
                if rejected.touch(buyer, histories[buyer]):
                    judged = _sparing(judged)
                found.buyers.append(judged)
            yield found

    def evidence(
        self,
        buyer: str,
        history: BuyerHistory,
        marks: Watermarks,
        presence: PresenceHistory,
        now: datetime,
    ) -> Evidence:
        return Evidence(
            buyer_id=buyer,
            orders=history.orders,
            messages=history.messages,
            calendar=self.calendar,
            watermarks=marks,
            now=now,
            presence=presence,
            roster=self.roster,
        )

    def judge(self, evidence: Evidence, seconds: dict[str, float]) -> BuyerVerdicts:
        verdicts: list[RuleVerdict] = []
        failed: list[Rule] = []
        for rule, options in self.buyer_rules:
            started = time.perf_counter()
            try:
                outcomes = rule.evaluate(evidence, options)
            except Exception:
                failed.append(rule)
                log.exception(
                    "rule failed", shop=self.shop, rule=rule.code, buyer=evidence.buyer_id
                )
                continue
            finally:
                seconds[rule.code] += time.perf_counter() - started
            verdicts.append(RuleVerdict(rule=rule, options=options, outcomes=outcomes))
        return BuyerVerdicts(
            buyer=evidence.buyer_id, evidence=evidence, verdicts=verdicts, failed=failed
        )


def _sparing(judged: BuyerVerdicts) -> BuyerVerdicts:
    """The verdicts with every breach that rests on the whole evidence undecidable: the
    buyer's evidence lacks a record."""
    return dataclasses.replace(
        judged,
        verdicts=[
            dataclasses.replace(
                verdict,
                outcomes=[
                    Undecidable(
                        subject=outcome.subject, deadline=outcome.deadline, reason=RECORD_REJECTED
                    )
                    if isinstance(outcome, Breach) and verdict.rule.whole_evidence
                    else outcome
                    for outcome in verdict.outcomes
                ],
            )
            for verdict in judged.verdicts
        ],
    )
