"""What-if replay (SPEC §7): re-run the rules over stored history under another config and
show, per agent, what would change (violations, points, score, grade, pay) before adopting it.

The replay builds each buyer's evidence exactly as the evaluator does (same store reads,
the same :class:`~checks.evidence.Evidence`, watermarks = the stored stream state) but with
``other``'s rule options, shifts, holidays and roster, and it writes nothing: no ledger row,
no undecidable mark, no metric.

The replayed month's violations are: the automatic rules' breaches the replay finds (its
deadline in the month), keeping the supervisor's decision where the ledger already holds the
same (shop, rule, subject) — a waived subject stays waived, a confirmed one confirmed — plus
the ledger's manual entries and rows of rules the registry no longer has, unchanged.
Bonuses, adjustments, conversion and earlier months (the last-place flag) are the same on
both sides, so every difference comes from the rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import RULES
from checks.rule import Scope
from checks.subject import Breach, Undecidable
from connectors.model import Stream
from daemon.config.settings import Settings
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.records import load_scorecard, parse_month, read_violations, rule_flags
from daemon.scoring.render import json_number, table
from daemon.scoring.scorecard import (
    COUNTED,
    AgentScore,
    Scorecard,
    ViolationRecord,
)
from daemon.store.ledger import initial_status
from daemon.store.observations import ObservationStore
from daemon.watch.judge import Judge, watermarks

log = structlog.get_logger("shopwatch.replay")

LOOKBACK = timedelta(days=7)
"""How long before the month a subject may start and still fall due inside it (a long
holiday pauses the business clock); rules' own look-backs (sibling_window) come on top."""


@dataclass(slots=True, kw_only=True)
class ReplayedRules:
    violations: list[ViolationRecord] = field(default_factory=list)
    undecidable: Counter[str] = field(default_factory=Counter)
    rule_errors: Counter[str] = field(default_factory=Counter)
    skipped_shops: list[str] = field(default_factory=list)


def _lookback(settings: Settings) -> timedelta:
    extra = max(
        (options.lookback() for _, options in settings.enabled_rules()), default=timedelta(0)
    )
    return LOOKBACK + extra


async def replay_rules(
    engine: AsyncEngine, settings: Settings, month: Month, *, now: datetime
) -> ReplayedRules:
    """The automatic rules' breaches whose deadline falls in ``month``, under ``settings``,
    from the stored observations, judged by the evaluator's own judge. Reads only."""
    store = ObservationStore(engine)
    calendar = settings.calendar()
    rules = settings.enabled_rules()
    start, end = month.start(settings.timezone), month.end(settings.timezone)
    since = start - _lookback(settings)
    found = ReplayedRules()
    for shop in settings.shops:
        marks = watermarks(
            await store.stream_state(shop.id, Stream.ORDERS),
            await store.stream_state(shop.id, Stream.CHAT),
        )
        if marks is None:
            found.skipped_shops.append(shop.id)
            continue
        judge = Judge(
            shop=shop.id,
            rules=rules,
            calendar=calendar,
            roster=settings.roster,
            shifts=settings.shifts,
            team=shop is settings.shops[0],
        )
        presence = await judge.presence(store, since)
        buyers = sorted(await store.active_buyers(shop.id, since))
        batches = judge.batches(store, buyers, marks=marks, presence=presence, now=now, since=since)
        async for batch in batches:
            for judged in batch.buyers:
                for rule in judged.failed:
                    found.rule_errors[rule.code] += 1
                for verdict in judged.verdicts:
                    for outcome in verdict.outcomes:
                        if not start <= outcome.deadline < end:
                            continue
                        if isinstance(outcome, Breach):
                            found.violations.append(_record(shop.id, outcome))
                        elif isinstance(outcome, Undecidable):
                            found.undecidable[outcome.subject.rule] += 1
        # the rules about people at their posts, once per shop (the team's with no shop)
        evidence = await judge.shop_evidence(store, marks=marks, now=now, since=since)
        judged_shop = judge.judge_shop(evidence)
        for rule in judged_shop.failed:
            found.rule_errors[rule.code] += 1
        for verdict in judged_shop.verdicts:
            where = "" if verdict.rule.scope is Scope.TEAM else shop.id
            for outcome in verdict.outcomes:
                if not start <= outcome.deadline < end:
                    continue
                if isinstance(outcome, Breach):
                    found.violations.append(_record(where, outcome))
                elif isinstance(outcome, Undecidable):
                    found.undecidable[outcome.subject.rule] += 1
    return found


def _record(shop: str, breach: Breach) -> ViolationRecord:
    return ViolationRecord(
        agent=breach.agent,
        rule=breach.subject.rule,
        deadline=breach.deadline,
        points=breach.points,
        fine=breach.fine,
        shop=shop,
        subject_id=breach.subject.id,
        source="rule",
        flags=rule_flags(breach.subject.rule),
    )


def merge(
    ledger: Sequence[ViolationRecord], replayed: Sequence[ViolationRecord]
) -> list[ViolationRecord]:
    """The ledger with the automatic rules' rows replaced by the replay's, keeping the
    supervisor's decision on subjects both have; a new subject of a rule recorded for review
    is in review, as the ledger would record it."""
    replayed_rules = {rule.code for rule in RULES}
    decided = {(v.shop, v.rule, v.subject_id): v.status for v in ledger}
    kept = [v for v in ledger if v.source == "manual" or v.rule not in replayed_rules]
    return kept + [
        replace(v, status=decided.get((v.shop, v.rule, v.subject_id), initial_status(v.rule)))
        for v in replayed
    ]


@dataclass(frozen=True, kw_only=True)
class Side:
    """One agent's month on one side of the replay (nothing: not on that scorecard)."""

    violations: int = 0
    points: int = 0
    score: int | None = None
    grade: str | None = None
    pay_adjustment: Decimal = Decimal(0)
    fines: Decimal = Decimal(0)

    @classmethod
    def of(cls, row: AgentScore | None) -> Side:
        if row is None:
            return cls()
        return cls(
            violations=row.violations,
            points=row.points_deducted,
            score=row.score,
            grade=row.grade,
            pay_adjustment=row.pay_adjustment,
            fines=row.fines,
        )


@dataclass(frozen=True, kw_only=True)
class AgentChange:
    agent: str
    name: str | None
    current: Side
    replayed: Side

    @property
    def changed(self) -> bool:
        return self.current != self.replayed


@dataclass(frozen=True, kw_only=True)
class RuleCount:
    """A rule's counted violations (open or confirmed) in the month, on each side."""

    rule: str
    current: int
    replayed: int


@dataclass(frozen=True, kw_only=True)
class TeamCount:
    violations: int
    points: int


@dataclass(frozen=True, kw_only=True)
class ReplayReport:
    """The current scorecard beside the replayed one, per agent and per rule."""

    month: Month
    agents: tuple[AgentChange, ...]
    rules: tuple[RuleCount, ...]
    team_current: TeamCount
    team_replayed: TeamCount
    current_config: str = "current"
    other_config: str = "other"
    replayed_at: datetime | None = None
    undecidable: Mapping[str, int] = field(default_factory=dict)
    rule_errors: Mapping[str, int] = field(default_factory=dict)
    skipped_shops: tuple[str, ...] = ()


def _rule_counts(rows: Sequence[ViolationRecord]) -> Counter[str]:
    return Counter(v.rule for v in rows if v.status in COUNTED)


def compare(
    current: Scorecard,
    replayed: Scorecard,
    ledger: Sequence[ViolationRecord],
    merged: Sequence[ViolationRecord],
) -> ReplayReport:
    """Per agent and per rule: the current scorecard beside the replayed one."""
    before = {a.agent: a for a in current.agents}
    after = {a.agent: a for a in replayed.agents}
    agents = []
    for agent in sorted(before.keys() | after.keys()):
        named = before.get(agent) or after.get(agent)
        agents.append(
            AgentChange(
                agent=agent,
                name=named.name if named else None,
                current=Side.of(before.get(agent)),
                replayed=Side.of(after.get(agent)),
            )
        )
    was, now = _rule_counts(ledger), _rule_counts(merged)
    return ReplayReport(
        month=current.month,
        agents=tuple(agents),
        rules=tuple(
            RuleCount(rule=rule, current=was[rule], replayed=now[rule])
            for rule in sorted(was.keys() | now.keys())
        ),
        team_current=TeamCount(violations=current.team_violations, points=current.team_points),
        team_replayed=TeamCount(violations=replayed.team_violations, points=replayed.team_points),
    )


async def replay(
    engine: AsyncEngine,
    current: Settings,
    other: Settings,
    month: str,
    *,
    policy: Policy,
    now: datetime,
) -> ReplayReport:
    """The difference per agent between the current (ledger-based) scorecard of ``month``
    and the one the rules would give under ``other``, both scored with ``policy``. Writes
    nothing.

    A malformed month is :class:`~daemon.errors.BadInput` naming ``month``."""
    parsed = parse_month(month)
    before = await load_scorecard(engine, current, parsed, policy=policy, now=now)
    ledger = await read_violations(engine, other.timezone, parsed)
    replayed = await replay_rules(engine, other, parsed, now=now)
    merged = merge(ledger, replayed.violations)
    after = await load_scorecard(
        engine, other, parsed, policy=policy, now=now, override_violations=merged
    )
    return replace(
        compare(before, after, ledger, merged),
        current_config=current.config_file,
        other_config=other.config_file,
        replayed_at=now,
        undecidable=dict(sorted(replayed.undecidable.items())),
        rule_errors=dict(sorted(replayed.rule_errors.items())),
        skipped_shops=tuple(replayed.skipped_shops),
    )


def _change(old: object, new: object) -> str:
    if old == new:
        return "" if old is None else str(old)
    return f"{'–' if old is None else old} → {'–' if new is None else new}"


def _shown(side: Side) -> tuple[int, int, int | None, str | None, int | float, int | float]:
    """The side's values as the terminal shows them (money as in the scorecard's JSON)."""
    return (
        side.violations,
        side.points,
        side.score,
        side.grade,
        json_number(side.pay_adjustment),
        json_number(side.fines),
    )


def render_replay(report: ReplayReport) -> str:
    """The replay for the terminal: one row per agent, ``old → new`` where it changes."""
    headers = ["agent", "name", "violations", "points", "score", "grade", "pay", "fines"]
    rows = [
        [
            a.agent,
            a.name or "",
            *(
                _change(old, new)
                for old, new in zip(_shown(a.current), _shown(a.replayed), strict=True)
            ),
        ]
        for a in report.agents
    ]
    lines = [
        f"What-if replay {report.month}: {report.current_config} → {report.other_config}",
        "",
        table(headers, rows, right=set(range(2, 8))) if rows else "(no agents)",
        "",
        "by rule: "
        + (
            ", ".join(f"{r.rule} {_change(r.current, r.replayed)}" for r in report.rules)
            or "no violations"
        ),
        "team level: "
        + _change(report.team_current.violations, report.team_replayed.violations)
        + " violation(s)",
    ]
    if report.undecidable:
        counts = ", ".join(f"{rule} {n}" for rule, n in report.undecidable.items())
        lines.append(f"undecidable in the replay: {counts}")
    if report.skipped_shops:
        lines.append(f"shops without stored history: {', '.join(report.skipped_shops)}")
    if not any(a.changed for a in report.agents):
        lines.append("no agent's scorecard would change")
    return "\n".join(lines)
