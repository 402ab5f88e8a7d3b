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
  on the step is the month's pay (fine 0, flag ``pay_withheld``, payroll decides).
- **Duty escalation** (M227, 当月未良好履行工作职责): distinct moderate catalogue codes ≥ 2 or
  distinct light codes ≥ 4 in the month add its points once (flag ``duty_escalation``).
- The score has no floor: a month of many violations can go below 0, as the sum says.

This module is the pure part: the records, :func:`compute_scorecard` and the typed
:class:`Scorecard` it returns, with the standard library only. Reading the records from the
store is :mod:`daemon.scoring.records`; writing bonuses, adjustments and manual entries is
:mod:`daemon.scoring.entries`; the JSON, CSV and table for people and tools are
:mod:`daemon.scoring.render`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from daemon.scoring.conversion import AgentConversion, MonthConversion
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy, ScorePolicy

COUNTED = ("open", "appealed", "confirmed")
"""Statuses that count (SPEC §4): an appealed violation counts until a supervisor decides;
one in review counts nowhere until confirmed; a waived one nowhere."""


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
    flags: tuple[str, ...] = ()
    """Flags its rule puts on the agent's scorecard while it counts (CS110, confirmed:
    ``dismissal_review``)."""
    count: int = 1
    """How many violations this record stands for: the store sums a month's violations of
    one agent, rule, status and fine in SQL (``points`` and ``fine`` are then their sums,
    ``deadline`` the earliest) instead of sending every row to be summed here. Nothing
    a score reads tells them apart: a fine ladder's steps depend on how many there are, not
    on which came first."""


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
        tally.violations += v.count
        tally.points += v.points
        tally.flags.update(v.flags)
        ladder = policy.ladder_for(v.rule)
        if ladder is None:
            tally.fines += v.fine
        else:
            for _ in range(v.count):
                occurrences[ladder.name] += 1
                step = ladder.step(occurrences[ladder.name])
                tally.fines += Decimal(0) if step.withhold_pay else step.fine
                if step.withhold_pay:
                    tally.flags.add("pay_withheld")
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
        if any(v.status == "appealed" for v in by_agent.get(agent.id, [])):
            tally.flags.add("appeal_pending")
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
        team_violations=sum(v.count for v in team),
        team_points=sum(v.points for v in team),
        conversion_final=conversion.final if conversion else None,
    )


def _last_below(agent: str, scores: Mapping[str, int], rule: ScorePolicy) -> bool:
    """The agent was the month's last (ties included) with a score below the line."""
    if agent not in scores or scores[agent] >= rule.last_place_below:
        return False
    return not rule.last_place_only or scores[agent] == min(scores.values())
