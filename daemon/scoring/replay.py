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
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import RULES
from checks.subject import Breach, Undecidable
from connectors.model import Stream
from daemon.config.settings import Settings
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.records import load_scorecard, parse_month, read_violations
from daemon.scoring.render import json_number, table
from daemon.scoring.scorecard import (
    COUNTED,
    AgentScore,
    Scorecard,
    ViolationRecord,
)
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
        judge = Judge(shop=shop.id, rules=rules, calendar=calendar, roster=settings.roster)
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
    )


def merge(
    ledger: Sequence[ViolationRecord], replayed: Sequence[ViolationRecord]
) -> list[ViolationRecord]:
    """The ledger with the automatic rules' rows replaced by the replay's, keeping the
    supervisor's confirm/waive decision on subjects both have."""
    replayed_rules = {rule.code for rule in RULES}
    decided = {(v.shop, v.rule, v.subject_id): v.status for v in ledger}
    kept = [v for v in ledger if v.source == "manual" or v.rule not in replayed_rules]
    return kept + [
        replace(v, status=decided.get((v.shop, v.rule, v.subject_id), "open")) for v in replayed
    ]


def _side(score: AgentScore | None) -> dict[str, Any]:
    if score is None:
        return {
            "violations": 0,
            "points": 0,
            "score": None,
            "grade": None,
            "pay_adjustment": 0,
            "fines": 0,
        }
    return {
        "violations": score.violations,
        "points": score.points_deducted,
        "score": score.score,
        "grade": score.grade,
        "pay_adjustment": json_number(score.pay_adjustment),
        "fines": json_number(score.fines),
    }


def _difference(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    def delta(key: str) -> Any:
        if before[key] is None or after[key] is None:
            return None
        return after[key] - before[key]

    grade = None if before["grade"] == after["grade"] else f"{before['grade']} → {after['grade']}"
    return {
        "violations": delta("violations"),
        "points": delta("points"),
        "score": delta("score"),
        "grade": grade,
        "pay_adjustment": delta("pay_adjustment"),
        "fines": delta("fines"),
    }


def _rule_counts(rows: Sequence[ViolationRecord]) -> Counter[str]:
    return Counter(v.rule for v in rows if v.status in COUNTED)


def compare(
    current: Scorecard,
    replayed: Scorecard,
    ledger: Sequence[ViolationRecord],
    merged: Sequence[ViolationRecord],
) -> dict[str, Any]:
    """Per agent and per rule: the current scorecard beside the replayed one."""
    before = {a.agent: a for a in current.agents}
    after = {a.agent: a for a in replayed.agents}
    agents = []
    for agent in sorted(before.keys() | after.keys()):
        old, new = _side(before.get(agent)), _side(after.get(agent))
        named = before.get(agent) or after.get(agent)
        agents.append(
            {
                "agent": agent,
                "name": named.name if named else None,
                "current": old,
                "replayed": new,
                "difference": _difference(old, new),
                "changed": old != new,
            }
        )
    was, now = _rule_counts(ledger), _rule_counts(merged)
    return {
        "month": str(current.month),
        "agents": agents,
        "rules": [
            {"rule": rule, "current": was[rule], "replayed": now[rule]}
            for rule in sorted(was.keys() | now.keys())
        ],
        "team": {
            "current": {"violations": current.team_violations, "points": current.team_points},
            "replayed": {"violations": replayed.team_violations, "points": replayed.team_points},
        },
    }


async def replay(
    engine: AsyncEngine,
    current: Settings,
    other: Settings,
    month: str,
    *,
    policy: Policy,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The difference per agent between the current (ledger-based) scorecard of ``month``
    and the one the rules would give under ``other``. Writes nothing.

    A malformed month is :class:`~daemon.errors.BadInput` naming ``month``."""
    parsed = parse_month(month)
    now = now or datetime.now(UTC)
    before = await load_scorecard(engine, current, parsed, policy=policy, now=now)
    ledger = await read_violations(engine, other.timezone, parsed)
    replayed = await replay_rules(engine, other, parsed, now=now)
    merged = merge(ledger, replayed.violations)
    after = await load_scorecard(
        engine, other, parsed, policy=policy, now=now, override_violations=merged
    )
    result = compare(before, after, ledger, merged)
    result.update(
        current_config=current.source,
        other_config=other.source,
        replayed_at=now.isoformat(),
        undecidable=dict(sorted(replayed.undecidable.items())),
        rule_errors=dict(sorted(replayed.rule_errors.items())),
        skipped_shops=replayed.skipped_shops,
    )
    return result


def _change(old: Any, new: Any) -> str:
    if old == new:
        return "" if old is None else str(old)
    return f"{'–' if old is None else old} → {'–' if new is None else new}"


def render_replay(result: Mapping[str, Any]) -> str:
    """The replay for the terminal: one row per agent, ``old → new`` where it changes."""
    headers = ["agent", "name", "violations", "points", "score", "grade", "pay", "fines"]
    rows = []
    for a in result["agents"]:
        old, new = a["current"], a["replayed"]
        rows.append(
            [
                a["agent"],
                a.get("name") or "",
                *(
                    _change(old[key], new[key])
                    for key in ("violations", "points", "score", "grade", "pay_adjustment", "fines")
                ),
            ]
        )
    lines = [
        f"What-if replay {result['month']}: {result.get('current_config', 'current')} "
        f"→ {result.get('other_config', 'other')}",
        "",
        table(headers, rows, right=set(range(2, 8))) if rows else "(no agents)",
        "",
        "by rule: "
        + (
            ", ".join(
                f"{r['rule']} {_change(r['current'], r['replayed'])}" for r in result["rules"]
            )
            or "no violations"
        ),
    ]
    team = result.get("team") or {}
    if team:
        lines.append(
            "team level: "
            + _change(team["current"]["violations"], team["replayed"]["violations"])
            + " violation(s)"
        )
    if result.get("undecidable"):
        counts = ", ".join(f"{rule} {n}" for rule, n in result["undecidable"].items())
        lines.append(f"undecidable in the replay: {counts}")
    if result.get("skipped_shops"):
        lines.append(f"shops without stored history: {', '.join(result['skipped_shops'])}")
    if not any(a["changed"] for a in result["agents"]):
        lines.append("no agent's scorecard would change")
    return "\n".join(lines)
