"""CS111 late for the shift (迟到).

What:
    An agent on duty must be online by the shift's start plus ``grace``. Later is late (2 or
    5 points by how late); never online before the shift ends is an absence (20 points).

Why:
    Policy 2: "arriving late or leaving early: 2–5 points each time"; "absence from work:
    20 points".

Reading:
    Subject: each (agent, shift occurrence) in which the agent is on duty and not on leave at
    the shift start; id ``"{agent}@{shift}@{YYYY-MM-DD}"``. ``first`` is the earliest instant
    of ``[start − early, end)`` at which the agent is ``online`` (an agent already online at
    ``start − early`` has ``first = start − early``). Satisfied if ``first ≤ start + grace``.
    Late: ``first − start ≤ late_tier`` is tier 1 [2 points], later tier 2 [5 points]; never
    online before the shift ends: absent, tier 3 [20 points]. Attributed to that agent;
    ``D = start + grace``. Decided once presence is known from ``start − early`` up to
    ``min(first, end)``; undecidable (``presence_unknown``) where it is not, pending while the
    connector has not read that far.

Example timeline (day shift 08:30–17:30, grace = 5 min):
    alice online 08:20 → on time (first = 08:20)
    bob online 08:35   → on time (exactly start + grace)
    carol online 08:44 → late 14 min: tier 1, 2 points
    dave online 09:10  → late 40 min: tier 2, 5 points
    erin never online before 17:30 → absent: tier 3, 20 points (decided at 17:30)

Options:
    grace [5m], early [30m], late_tier [15m], points [2], late_points [5],
    absent_points [20], fine [0], warn_before [5m].
    within [0m] is unused: the deadline is the shift's start plus ``grace``.

Known limits:
    Leaving early is not judged here (CS109 sees an absence at the end of a shift only until
    the shift ends). A leave that begins after the shift start does not excuse being late
    before it. A shop whose connector reports no presence is never judged (``no_presence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from checks.evidence_record import Clock, Fact, instant
from checks.options import RuleOptions
from checks.rule import Rule, Scope, rule_doc
from checks.shop_evidence import (
    NO_PRESENCE,
    PRESENCE_UNKNOWN,
    ShopBreachEvidence,
    ShopEvidence,
    shop_subject,
    without_presence,
)
from checks.subject import Breach, Outcome, Pending, Satisfied, Undecidable

CODE = "CS111"
ON_TIME, LATE, VERY_LATE, ABSENT = 0, 1, 2, 3


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    grace: timedelta = timedelta(minutes=5)
    """How long after the shift's start an agent may come online."""
    early: timedelta = timedelta(minutes=30)
    """How long before the start being online counts (logging in early is fine)."""
    late_tier: timedelta = timedelta(minutes=15)
    """Up to this late after the start: tier 1 (``points``); later: tier 2."""
    points: int = 2
    late_points: int = 5
    absent_points: int = 20
    warn_before: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.late_tier < self.grace:
            raise ValueError("late_tier must not be shorter than grace")

    def penalty(self) -> str:
        return f"{self.points} / {self.late_points} points late, {self.absent_points} absent"


@dataclass(frozen=True, kw_only=True)
class LateEvidence(ShopBreachEvidence):
    """The shift occurrence and when the agent was first online in it, if at all."""

    agent: str = ""
    shift: str = ""
    day: str = ""
    shift_start: str | None = None
    shift_end: str | None = None
    first_online: str | None = None
    late_seconds: float | None = None

    def facts(self, at: Clock) -> list[Fact]:
        head = (
            f"{self.agent} 班次 {self.shift}（{self.day}）{at(self.shift_start)} 上班",
            f"{self.agent}'s shift {self.shift} of {self.day} began {at(self.shift_start)}",
        )
        if self.first_online is None:
            return [
                head,
                (
                    f"至 {at(self.shift_end)} 下班一直未上线（旷工）",
                    f"never online before it ended at {at(self.shift_end)} (absent)",
                ),
            ]
        minutes = round((self.late_seconds or 0) / 60)
        return [
            head,
            (
                f"{at(self.first_online)} 才上线，迟到 {minutes} 分钟",
                f"first online {at(self.first_online)}, {minutes} min late",
            ),
        ]


def evaluate(evidence: ShopEvidence, options: Options) -> list[Outcome]:
    early = without_presence(CODE, "attendance", evidence)
    if early is not None:
        return early
    presence = evidence.presence
    read_until = presence.read_until(evidence.now)
    if read_until is None:
        return []
    outcomes: list[Outcome] = []
    for interval in evidence.calendar.intervals(evidence.since, read_until):
        look_from = interval.start - options.early
        if look_from < evidence.since:
            continue  # begun before this evidence: judged by an earlier evaluation
        for agent in interval.agents:
            if not evidence.calendar.works(agent, interval):
                continue
            if evidence.on_leave(agent, interval.start):
                continue
            subject = shop_subject(
                CODE, "attendance", f"{agent}@{interval.shift}@{interval.day.isoformat()}"
            )
            deadline = interval.start + options.grace
            limit = min(interval.end, read_until)
            first = presence.first_online(agent, look_from, limit)
            if first is not None and first <= deadline:
                outcomes.append(Satisfied(subject=subject, deadline=deadline))
                continue
            if first is None and limit < interval.end:
                outcomes.append(Pending(subject=subject, deadline=deadline))
                continue
            known_until = first if first is not None else interval.end - timedelta.resolution
            if not presence.known_throughout(agent, look_from, known_until):
                outcomes.append(
                    Undecidable(subject=subject, deadline=deadline, reason=PRESENCE_UNKNOWN)
                )
                continue
            if first is None:
                tier, points, late = ABSENT, options.absent_points, None
            elif first - interval.start <= options.late_tier:
                tier, points, late = LATE, options.points, first - interval.start
            else:
                tier, points, late = VERY_LATE, options.late_points, first - interval.start
            outcomes.append(
                Breach(
                    subject=subject,
                    deadline=deadline,
                    agent=agent,
                    shift=interval.shift,
                    tier=tier,
                    points=points,
                    fine=options.fine,
                    final=True,
                    evidence=LateEvidence(
                        agent=agent,
                        shift=interval.shift,
                        day=interval.day.isoformat(),
                        shift_start=instant(interval.start),
                        shift_end=instant(interval.end),
                        first_online=instant(first),
                        late_seconds=late.total_seconds() if late is not None else None,
                    ),
                )
            )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="late-for-shift",
    name_zh="迟到",
    name_en="Late for the shift",
    subject_type="attendance",
    options_type=Options,
    evidence_type=LateEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    scope=Scope.SHOP,
    action=("请客服立即上线", "the agent should be online now"),
    undecidable_reasons=(PRESENCE_UNKNOWN, NO_PRESENCE),
)
