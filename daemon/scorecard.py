"""The monthly scorecard per agent (SPEC §4, policy 2 考核标准 and 具体奖惩措施).

``score = min(cap, base + bonuses − points + adjustment)`` with base 80 and cap 110, where
points are those of the agent's *open and confirmed* violations whose deadline falls in the
month (shop timezone); waived ones count nowhere, team-level ones (agent null) belong to no
agent. Everything is an integer (points, bonuses and the adjustment are whole numbers), so
a grade boundary is never a rounding question: 90 is B, 91 is A.

Decisions where the SPEC is silent:

- **Probation**: "the first two months after ``hired``" are the calendar month of hiring
  and the next one (``probation_months``); pay floats from the third calendar month
  (员工从加入公司的第三个月起). Months before hiring count as probation too. An agent
  without ``hired`` is never on probation.
- **Dismissal review** (flag ``dismissal_review``) when the score is below 60
  (``low_score``); when the agent was the team's last (lowest score, ties included) in
  this month and the month before, below 70 both times (``last_place_below_70``; the
  source: 连续两个月都是最后一名且评分低于70分); when a dismissal offence of the catalogue
  was recorded (``dismissal_offence``); or when a fine ladder reached its dismissal step
  (``ladder_dismissal``).
- Below 60 the grade stays the lowest of the source, ``E`` (``below_grades``), and the
  dismissal-review flag says the rest.
- **Fines**: a violation's own fine, except on a ladder, where the n-th ladder violation
  of the agent's month (by deadline) costs the ladder's n-th step; from ``withhold_pay_from``
  on the step is the month's pay (fine 0, flag ``withhold_month_pay``, payroll decides).
- **Duty escalation** (M227, 当月未良好履行工作职责): distinct moderate catalogue codes ≥ 2 or
  distinct light codes ≥ 4 in the month add its points once (flag ``duty_escalation``).
- The score has no floor: a month of many violations can go below 0, as the sum says.

The module has three layers: pure records and :func:`compute_scorecard`; reading the store
(:func:`load_scorecard`, the CLI/API entry point) and writing bonuses and adjustments with
an audit trail; rendering for the terminal (:func:`render`).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from daemon.conversion import AgentConversion, MonthConversion, json_number, load_conversion
from daemon.ledger import Ledger
from daemon.policy import Month, Policy, ScorePolicy, policy_for
from daemon.settings import Settings
from daemon.store.tables import bonuses, score_adjustments, scorecard_events, violations

COUNTED = ("open", "confirmed")


class ScorecardError(ValueError):
    """A bonus, adjustment or manual entry the scorecard refuses, said for people.

    A ValueError, so the HTTP layer answers 400 with the message."""


class NotFound(ScorecardError):
    pass


# ---- records: what the score is computed from ----


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRecord:
    id: str
    name: str | None = None
    hired: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ViolationRecord:
    agent: str | None
    rule: str
    deadline: datetime
    points: int
    fine: Decimal
    status: str = "open"
    id: int | None = None
    shop: str = ""
    subject_id: str = ""
    source: str = "rule"


@dataclass(frozen=True, slots=True, kw_only=True)
class BonusRecord:
    agent: str
    code: str
    points: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjustmentRecord:
    agent: str
    value: int
    reason: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthRecords:
    violations: tuple[ViolationRecord, ...] = ()
    bonuses: tuple[BonusRecord, ...] = ()
    adjustments: tuple[AdjustmentRecord, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AgentScore:
    agent: str
    name: str | None
    score: int
    grade: str
    violations: int
    points_deducted: int
    bonus: int
    adjustment: int
    adjustment_reason: str | None
    pay_adjustment: Decimal
    fines: Decimal
    probation: bool
    flags: tuple[str, ...]
    conversion: AgentConversion | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "name": self.name,
            "score": self.score,
            "grade": self.grade,
            "points_deducted": self.points_deducted,
            "bonus": self.bonus,
            "adjustment": self.adjustment,
            "adjustment_reason": self.adjustment_reason,
            "pay_adjustment": json_number(self.pay_adjustment),
            "fines": json_number(self.fines),
            "flags": list(self.flags),
            "violations": self.violations,
            "probation": self.probation,
            "conversion": self.conversion.as_json() if self.conversion else None,
        }


@dataclass(frozen=True, kw_only=True)
class Scorecard:
    month: Month
    timezone: str
    agents: tuple[AgentScore, ...]
    team_violations: int = 0
    team_points: int = 0
    conversion_final: bool | None = None
    """None when conversion was not computed."""

    def agent(self, agent_id: str) -> AgentScore:
        for entry in self.agents:
            if entry.agent == agent_id:
                return entry
        raise KeyError(f"{agent_id!r} is not on the {self.month} scorecard")

    def scores(self) -> dict[str, int]:
        return {a.agent: a.score for a in self.agents}

    def as_json(self) -> dict[str, Any]:
        """SPEC §6: ``{"month", "agents": [{agent, score, grade, points_deducted, bonus,
        adjustment, pay_adjustment, fines, flags}]}``, plus names, conversion and the team."""
        return {
            "month": str(self.month),
            "timezone": self.timezone,
            "agents": [a.as_json() for a in self.agents],
            "team": {"violations": self.team_violations, "points": self.team_points},
            "conversion_status": (
                None
                if self.conversion_final is None
                else "final"
                if self.conversion_final
                else "provisional"
            ),
        }


# ---- the pure computation ----


@dataclass(slots=True)
class _Tally:
    violations: int = 0
    points: int = 0
    fines: Decimal = Decimal(0)
    flags: set[str] = field(default_factory=set)


def _in_month(v: ViolationRecord, month: Month, timezone: ZoneInfo) -> bool:
    return Month.of(v.deadline, timezone) == month


def _tally(agent_violations: Sequence[ViolationRecord], policy: Policy) -> _Tally:
    """Points, fines (with ladders) and flags of one agent's counted violations."""
    tally = _Tally()
    occurrences: dict[str, int] = defaultdict(int)
    light: set[str] = set()
    moderate: set[str] = set()
    for v in sorted(agent_violations, key=lambda v: (v.deadline, v.id or 0)):
        tally.violations += 1
        tally.points += v.points
        ladder = policy.ladder_for(v.rule)
        if ladder is None:
            tally.fines += v.fine
        else:
            occurrences[ladder.name] += 1
            step = ladder.step(occurrences[ladder.name])
            tally.fines += Decimal(0) if step.withhold_pay else step.fine
            if step.withhold_pay:
                tally.flags.add("withhold_month_pay")
            if step.dismissal:
                tally.flags.update(("ladder_dismissal", "dismissal_review"))
        severity = policy.severity(v.rule)
        if severity == "light":
            light.add(v.rule)
        elif severity == "moderate":
            moderate.add(v.rule)
        elif severity == "dismissal":
            tally.flags.update(("dismissal_offence", "dismissal_review"))
        entry = policy.deductions.get(v.rule)
        if entry is not None and entry.compensation:
            tally.flags.add("compensation_due")
    escalation = policy.duty_escalation
    if escalation is not None and (
        len(moderate) >= escalation.moderate_codes or len(light) >= escalation.light_codes
    ):
        tally.points += policy.deduction(escalation.code).points_max
        tally.flags.add("duty_escalation")
    return tally


def on_probation(agent: AgentRecord, month: Month, policy: Policy) -> bool:
    """The calendar month of hiring and the next ``probation_months − 1`` (and any month
    before hiring) carry no pay adjustment."""
    if agent.hired is None:
        return False
    return month < Month.of(agent.hired).plus(policy.pay.probation_months)


def pay_adjustment(score: int, probation: bool, policy: Policy) -> Decimal:
    """(score − 80) × 10 CNY, clamped to ±300; nothing on probation."""
    if probation:
        return Decimal(0)
    raw = (score - policy.score.base) * policy.pay.per_point
    return max(-policy.pay.limit, min(policy.pay.limit, raw))


def _agents_on_card(
    agents: Sequence[AgentRecord], records: MonthRecords, month: Month
) -> list[AgentRecord]:
    """The roster (less those hired after the month) and anybody with records this month,
    roster or not: a departed agent's month still gets its row."""
    listed = {a.id: a for a in agents if a.hired is None or Month.of(a.hired) <= month}
    named = {a.id: a for a in agents}
    ids: Iterable[str | None] = (
        *(v.agent for v in records.violations),
        *(b.agent for b in records.bonuses),
        *(a.agent for a in records.adjustments),
    )
    for agent_id in ids:
        if agent_id is not None and agent_id not in listed:
            listed[agent_id] = named.get(agent_id, AgentRecord(id=agent_id))
    return sorted(listed.values(), key=lambda a: a.id)


def compute_scorecard(
    *,
    month: Month,
    timezone: ZoneInfo,
    policy: Policy,
    agents: Sequence[AgentRecord],
    records: MonthRecords,
    previous: Sequence[Mapping[str, int]] = (),
    conversion: MonthConversion | None = None,
) -> Scorecard:
    """The scorecard of ``month`` from plain records: no I/O, no clock.

    ``previous`` holds the scores of all agents of earlier months, the month before first
    (for the last-place flag); ``conversion`` each agent's conversion of the month."""
    counted = [
        v for v in records.violations if v.status in COUNTED and _in_month(v, month, timezone)
    ]
    by_agent: dict[str | None, list[ViolationRecord]] = defaultdict(list)
    for v in counted:
        by_agent[v.agent].append(v)
    bonus_points: dict[str, int] = defaultdict(int)
    for b in records.bonuses:
        bonus_points[b.agent] += b.points
    adjustments = {a.agent: a for a in records.adjustments}
    limit = policy.score.adjustment_limit

    drafts = []
    for agent in _agents_on_card(agents, records, month):
        tally = _tally(by_agent.get(agent.id, []), policy)
        adjustment = adjustments.get(agent.id)
        value = adjustment.value if adjustment else 0
        if abs(value) > limit:
            raise ValueError(f"adjustment {value} for {agent.id} is outside ±{limit}")
        raw = policy.score.base + bonus_points[agent.id] - tally.points + value
        score = min(raw, policy.score.cap)
        if raw > score:
            tally.flags.add("capped")
        probation = on_probation(agent, month, policy)
        if probation:
            tally.flags.add("probation")
        if score < policy.score.dismissal_below:
            tally.flags.update(("low_score", "dismissal_review"))
        drafts.append((agent, tally, score, value, adjustment, probation))

    scores = {agent.id: score for agent, _, score, *_ in drafts}
    months_needed = policy.score.last_place_months - 1
    history = [scores, *previous[:months_needed]]
    result = []
    for agent, tally, score, value, adjustment, probation in drafts:
        if len(history) == months_needed + 1 and all(
            _last_below(agent.id, month_scores, policy.score) for month_scores in history
        ):
            tally.flags.update(("last_place_below_70", "dismissal_review"))
        result.append(
            AgentScore(
                agent=agent.id,
                name=agent.name,
                score=score,
                grade=policy.score.grade(score),
                violations=tally.violations,
                points_deducted=tally.points,
                bonus=bonus_points[agent.id],
                adjustment=value,
                adjustment_reason=adjustment.reason if adjustment else None,
                pay_adjustment=pay_adjustment(score, probation, policy),
                fines=tally.fines,
                probation=probation,
                flags=tuple(sorted(tally.flags)),
                conversion=conversion.of(agent.id) if conversion else None,
            )
        )
    team = by_agent.get(None, [])
    return Scorecard(
        month=month,
        timezone=str(timezone),
        agents=tuple(result),
        team_violations=len(team),
        team_points=sum(v.points for v in team),
        conversion_final=conversion.final if conversion else None,
    )


def _last_below(agent: str, scores: Mapping[str, int], rule: ScorePolicy) -> bool:
    """The agent was the month's last (ties included) with a score below the line."""
    if agent not in scores or scores[agent] >= rule.last_place_below:
        return False
    return not rule.last_place_only or scores[agent] == min(scores.values())


# ---- reading the store ----


def _violation_record(row: Any) -> ViolationRecord:
    return ViolationRecord(
        id=row.id,
        agent=row.agent,
        rule=row.rule,
        deadline=row.deadline,
        points=row.points,
        fine=Decimal(row.fine),
        status=row.status,
        shop=row.shop,
        subject_id=row.subject_id,
        source=row.source,
    )


async def read_violations(
    engine: AsyncEngine, timezone: ZoneInfo, month: Month
) -> list[ViolationRecord]:
    """Every violation whose deadline falls in the month, waived ones included."""
    query = select(violations).where(
        violations.c.deadline >= month.start(timezone), violations.c.deadline < month.end(timezone)
    )
    async with engine.connect() as conn:
        return [_violation_record(row) for row in await conn.execute(query)]


async def read_month(
    engine: AsyncEngine,
    timezone: ZoneInfo,
    month: Month,
    *,
    override_violations: Sequence[ViolationRecord] | None = None,
) -> MonthRecords:
    if override_violations is None:
        found = await read_violations(engine, timezone, month)
    else:
        found = list(override_violations)
    async with engine.connect() as conn:
        bonus_rows = await conn.execute(
            select(bonuses).where(bonuses.c.month == str(month), bonuses.c.status == "active")
        )
        granted = tuple(
            BonusRecord(agent=r.agent, code=r.code, points=r.points) for r in bonus_rows
        )
        adjustment_rows = await conn.execute(
            select(score_adjustments).where(score_adjustments.c.month == str(month))
        )
        adjusted = tuple(
            AdjustmentRecord(agent=r.agent, value=r.value, reason=r.reason, by=r.by)
            for r in adjustment_rows
        )
    return MonthRecords(violations=tuple(found), bonuses=granted, adjustments=adjusted)


def roster(settings: Settings) -> list[AgentRecord]:
    return [AgentRecord(id=a.id, name=a.name or None, hired=a.hired) for a in settings.agents]


async def build_scorecard(
    engine: AsyncEngine,
    settings: Settings,
    month: Month,
    *,
    policy: Policy,
    now: datetime,
    override_violations: Sequence[ViolationRecord] | None = None,
) -> Scorecard:
    """The scorecard from the store. ``override_violations`` replaces the ledger's
    violations of ``month`` (what-if replay); earlier months always come from the ledger."""
    tz = settings.timezone
    agents = roster(settings)
    # Earlier months' scores depend on their own records only (not on their flags).
    previous: list[dict[str, int]] = []
    for back in range(1, policy.score.last_place_months):
        earlier = month.plus(-back)
        card = compute_scorecard(
            month=earlier,
            timezone=tz,
            policy=policy,
            agents=agents,
            records=await read_month(engine, tz, earlier),
        )
        previous.append(card.scores())
    records = await read_month(engine, tz, month, override_violations=override_violations)
    conversion = await load_conversion(engine, settings, month, policy.conversion, now=now)
    return compute_scorecard(
        month=month,
        timezone=tz,
        policy=policy,
        agents=agents,
        records=records,
        previous=previous,
        conversion=conversion,
    )


async def load_scorecard(
    engine: AsyncEngine,
    settings: Settings,
    month: str,
    *,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """GET /api/scorecard?month=YYYY-MM and ``shopwatch scorecard``: the SPEC §6 shape.

    Raises ValueError("expected YYYY-MM") for a malformed month."""
    parsed = Month.parse(month)
    card = await build_scorecard(
        engine,
        settings,
        parsed,
        policy=policy or policy_for(settings),
        now=now or datetime.now(UTC),
    )
    return card.as_json()


# ---- writing: bonuses, adjustments, manual violations, each with its audit trail ----


def _required(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise ScorecardError(f"{what!r} is required")
    return value.strip()


def _known_agent(settings: Settings, agent: str) -> str:
    agent = _required(agent, "agent")
    if settings.roster and agent not in settings.roster:
        raise ScorecardError(f"agent {agent!r} is not in the [[agents]] roster")
    return agent


def _day(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ScorecardError(f"day: expected YYYY-MM-DD, not {value!r}") from None


async def _audit(
    conn: AsyncConnection,
    *,
    at: datetime,
    agent: str,
    month: str,
    entity: str,
    action: str,
    by: str,
    reason: str,
    bonus_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        scorecard_events.insert().values(
            at=at,
            agent=agent,
            month=month,
            entity=entity,
            bonus_id=bonus_id,
            action=action,
            by=by,
            reason=reason,
            details=details or {},
        )
    )


def _bonus_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent": row.agent,
        "month": row.month,
        "day": row.day,
        "code": row.code,
        "points": row.points,
        "by": row.by,
        "reason": row.reason,
        "at": row.at.isoformat(),
        "status": row.status,
    }


async def add_bonus(
    engine: AsyncEngine,
    settings: Settings,
    *,
    agent: str,
    code: str,
    day: date | str,
    by: str,
    reason: str,
    now: datetime,
    points: int | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Grant a catalogue bonus (policy 2 加分标准) earned on ``day`` (local date)."""
    policy = policy or policy_for(settings)
    agent = _known_agent(settings, agent)
    by, reason = _required(by, "by"), _required(reason, "reason")
    try:
        entry = policy.bonus(code)
        granted = entry.points_for(points)
    except (KeyError, ValueError) as exc:
        raise ScorecardError(str(exc.args[0])) from None
    earned = _day(day)
    month = str(Month.of(earned))
    async with engine.begin() as conn:
        if entry.per_month is not None:
            already = (
                await conn.execute(
                    select(func.count()).where(
                        bonuses.c.agent == agent,
                        bonuses.c.month == month,
                        bonuses.c.code == entry.code,
                        bonuses.c.status == "active",
                    )
                )
            ).scalar_one()
            if already >= entry.per_month:
                raise ScorecardError(
                    f"{entry.code} is granted at most {entry.per_month}× a month; "
                    f"{agent} already has it for {month}"
                )
        new_id = (
            await conn.execute(
                bonuses.insert()
                .values(
                    agent=agent,
                    month=month,
                    day=earned.isoformat(),
                    code=entry.code,
                    points=granted,
                    by=by,
                    reason=reason,
                    at=now,
                    status="active",
                )
                .returning(bonuses.c.id)
            )
        ).scalar_one()
        await _audit(
            conn,
            at=now,
            agent=agent,
            month=month,
            entity="bonus",
            action="granted",
            by=by,
            reason=reason,
            bonus_id=new_id,
            details={"code": entry.code, "points": granted, "day": earned.isoformat()},
        )
        row = (await conn.execute(select(bonuses).where(bonuses.c.id == new_id))).one()
    return _bonus_json(row)


async def revoke_bonus(
    engine: AsyncEngine, bonus_id: int, *, by: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Take back a bonus granted by mistake; the row and the trail stay."""
    by, reason = _required(by, "by"), _required(reason, "reason")
    async with engine.begin() as conn:
        row = (await conn.execute(select(bonuses).where(bonuses.c.id == bonus_id))).first()
        if row is None:
            raise NotFound(f"no bonus with id {bonus_id}")
        if row.status != "active":
            raise ScorecardError(f"bonus {bonus_id} is already {row.status}")
        await conn.execute(update(bonuses).where(bonuses.c.id == bonus_id).values(status="revoked"))
        await _audit(
            conn,
            at=now,
            agent=row.agent,
            month=row.month,
            entity="bonus",
            action="revoked",
            by=by,
            reason=reason,
            bonus_id=bonus_id,
            details={"code": row.code, "points": row.points},
        )
        row = (await conn.execute(select(bonuses).where(bonuses.c.id == bonus_id))).one()
    return _bonus_json(row)


async def set_adjustment(
    engine: AsyncEngine,
    settings: Settings,
    *,
    agent: str,
    month: str,
    value: int,
    reason: str,
    by: str,
    now: datetime,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """The supervisor's extra ± for an agent's month (额外的奖惩, −5…+5, reason required).
    Setting it again replaces it; 0 removes it. The trail keeps every value."""
    policy = policy or policy_for(settings)
    agent = _known_agent(settings, agent)
    by, reason = _required(by, "by"), _required(reason, "reason")
    period = str(Month.parse(month))
    limit = policy.score.adjustment_limit
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > limit:
        raise ScorecardError(f"adjustment must be a whole number from −{limit} to +{limit}")
    key = (score_adjustments.c.agent == agent) & (score_adjustments.c.month == period)
    async with engine.begin() as conn:
        before = (await conn.execute(select(score_adjustments.c.value).where(key))).scalar()
        await conn.execute(delete(score_adjustments).where(key))
        if value:
            await conn.execute(
                score_adjustments.insert().values(
                    agent=agent, month=period, value=value, reason=reason, by=by, at=now
                )
            )
        await _audit(
            conn,
            at=now,
            agent=agent,
            month=period,
            entity="adjustment",
            action="set" if value else "cleared",
            by=by,
            reason=reason,
            details={"from": before or 0, "to": value},
        )
    return {"agent": agent, "month": period, "value": value, "reason": reason, "by": by}


async def record_manual_violation(
    ledger: Ledger,
    settings: Settings,
    *,
    code: str,
    agent: str | None,
    at: datetime,
    note: str | None,
    now: datetime,
    by: str | None = None,
    shop: str | None = None,
    points: int | None = None,
    fine: Decimal | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """A catalogue violation entered by a supervisor (POST /api/violations), checked against
    the catalogue: a known, not derived code; points within its range (default: its fixed
    points); fine default: the catalogue's (a ladder decides it on the scorecard). ``by`` is
    optional because the SPEC's POST body has no such field; give it when known."""
    policy = policy or policy_for(settings)
    if agent is not None:
        agent = _known_agent(settings, agent)
    try:
        entry = policy.deduction(code)
    except KeyError as exc:
        if points is None or isinstance(points, bool) or points < 0:
            raise ScorecardError(
                f"{exc.args[0]}; give points (and fine) to record a code outside it"
            ) from None
        # The SPEC's manual entry carries its own points and fine: a code the catalogue
        # lacks (a rule of the shop's own) is recorded as given.
        return await ledger.add_manual(
            shop=shop,
            rule=code,
            agent=agent,
            at=at,
            points=points,
            fine=fine or Decimal(0),
            note=note,
            by=by.strip() if by and by.strip() else None,
            now=now,
        )
    try:
        recorded = entry.points_for(points)
    except ValueError as exc:
        raise ScorecardError(str(exc.args[0])) from None
    if entry.derived:
        raise ScorecardError(f"{code} is computed by the scorecard and cannot be entered")
    if entry.compensation and fine is None:
        raise ScorecardError(f"{code} is paid at cost: give the fine (the damage in CNY)")
    return await ledger.add_manual(
        shop=shop,
        rule=code,
        agent=agent,
        at=at,
        points=recorded,
        fine=entry.fine if fine is None else fine,
        note=note,
        by=by.strip() if by and by.strip() else None,
        now=now,
    )


async def scorecard_audit(
    engine: AsyncEngine, month: str, agent: str | None = None
) -> list[dict[str, Any]]:
    """Bonus and adjustment changes of a month, oldest first."""
    query = (
        select(scorecard_events)
        .where(scorecard_events.c.month == str(Month.parse(month)))
        .order_by(scorecard_events.c.id)
    )
    if agent:
        query = query.where(scorecard_events.c.agent == agent)
    async with engine.connect() as conn:
        return [
            {
                "at": r.at.isoformat(),
                "agent": r.agent,
                "month": r.month,
                "entity": r.entity,
                "bonus_id": r.bonus_id,
                "action": r.action,
                "by": r.by,
                "reason": r.reason,
                "details": r.details,
            }
            for r in await conn.execute(query)
        ]


# ---- rendering: shopwatch scorecard --format table|csv|json ----

CSV_COLUMNS = (
    "agent",
    "name",
    "score",
    "grade",
    "points_deducted",
    "bonus",
    "adjustment",
    "pay_adjustment",
    "fines",
    "violations",
    "inquiries",
    "converted",
    "conversion_rate",
    "converted_sales",
    "commission",
    "top_award",
    "conversion_status",
    "flags",
)


def _flat(agent: Mapping[str, Any]) -> dict[str, Any]:
    conversion = agent.get("conversion") or {}
    return {
        **{key: agent.get(key) for key in CSV_COLUMNS[:10]},
        "name": agent.get("name") or "",
        "inquiries": conversion.get("inquiries", 0),
        "converted": conversion.get("converted", 0),
        "conversion_rate": "" if conversion.get("rate") is None else conversion["rate"],
        "converted_sales": conversion.get("converted_sales", 0),
        "commission": conversion.get("commission", 0),
        "top_award": conversion.get("top_award", 0),
        "conversion_status": conversion.get("status", ""),
        "flags": ";".join(agent.get("flags", [])),
    }


def _width(text: str) -> int:
    """Terminal columns: CJK names take two each."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(_pad(str(cell), widths[i], i in right) for i, cell in enumerate(row)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _signed(value: Any) -> str:
    return f"{value:+}" if value else "0"


def _render_table(card: Mapping[str, Any]) -> str:
    headers = ["agent", "name", "score", "grade", "−pts", "+bonus", "adj", "pay", "fines"]
    headers += ["conv", "commission", "top", "flags"]
    rows = []
    for a in card["agents"]:
        c = a.get("conversion") or {}
        rate = c.get("rate")
        conv = "–" if rate is None else f"{rate:.0%} ({c['converted']}/{c['inquiries']})"
        rows.append(
            [
                a["agent"],
                a.get("name") or "",
                str(a["score"]),
                a["grade"],
                str(a["points_deducted"]),
                str(a["bonus"]),
                _signed(a["adjustment"]),
                _signed(a["pay_adjustment"]),
                str(a["fines"]),
                conv,
                str(c.get("commission", 0)),
                str(c.get("top_award", 0)) if c.get("top_award") else "",
                ", ".join(a["flags"]),
            ]
        )
    title = f"Scorecard {card['month']}"
    if card.get("timezone"):
        title += f" ({card['timezone']})"
    if card.get("conversion_status") == "provisional":
        title += " — conversion provisional: not every payment window has closed"
    team = card.get("team") or {}
    footer = f"team level (no agent): {team.get('violations', 0)} violation(s), "
    footer += f"{team.get('points', 0)} point(s)"
    body = table(headers, rows, right={2, 4, 5, 6, 7, 8, 10, 11}) if rows else "(no agents)"
    return f"{title}\n\n{body}\n\n{footer}"


def _render_csv(card: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["month", *CSV_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for agent in card["agents"]:
        writer.writerow({"month": card["month"], **_flat(agent)})
    return out.getvalue()


def render(card: Mapping[str, Any], fmt: str) -> str:
    """The scorecard for the terminal (``table``), a spreadsheet (``csv``) or tools
    (``json``)."""
    if fmt == "json":
        return json.dumps(card, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _render_csv(card)
    if fmt == "table":
        return _render_table(card)
    raise ValueError(f"format must be table, csv or json, not {fmt!r}")
