"""Lateness that escalates in place: CS102 (offline messages) and CS104 (buyers kept waiting).

Both rules judge a run of a buyer's messages that an agent's answer ends: satisfied by an
answer by ``D = bdeadline(start, within)``; otherwise a violation once the watermarks pass
``D``, recorded at tier 1 and raised in place as lateness grows (policy 2's flow-control
tiers: late ≤ 10 min, ≤ 30 min, beyond or never answered), final once answered or at the top
tier. Lateness runs to the answer, or while unanswered to now — but no further than the
data is complete (SPEC §2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.attribution import attributed_breach
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence
from checks.options import RuleOptions
from checks.subject import Outcome, Pending, Satisfied, Subject, Undecidable
from checks.verdicts import HISTORY_INCOMPLETE


@dataclass(frozen=True, kw_only=True)
class TieredOptions(RuleOptions):
    """Options of a rule whose violations escalate by lateness."""

    tier_limits: tuple[timedelta, ...] = (timedelta(minutes=10), timedelta(minutes=30))
    """Upper bounds of lateness for tiers 1 and 2; beyond the last is the top tier."""
    tier_points: tuple[int, ...] = (5, 10, 20)
    """Points of tiers 1, 2, 3: one more entry than ``tier_limits``."""

    def __post_init__(self) -> None:
        if len(self.tier_points) != len(self.tier_limits) + 1:
            raise ValueError("tier_points needs exactly one more entry than tier_limits")
        if list(self.tier_limits) != sorted(self.tier_limits):
            raise ValueError("tier_limits must be in increasing order")

    def penalty(self) -> str:
        text = " / ".join(str(points) for points in self.tier_points) + " points by lateness"
        return f"{text}, {self.fine.normalize():f} CNY" if self.fine else text

    @property
    def top_tier(self) -> int:
        return len(self.tier_points)

    def tier_for(self, lateness: timedelta) -> int:
        for tier, limit in enumerate(self.tier_limits, start=1):
            if lateness <= limit:
                return tier
        return self.top_tier


RecordFactory = Callable[[bool, timedelta], BreachEvidence]
"""Builds the rule's evidence from whether the run has ended (by the data) and how late."""


def judge_lateness(
    subject: Subject,
    *,
    start: datetime,
    end: datetime | None,
    evidence: Evidence,
    options: TieredOptions,
    record: RecordFactory,
) -> Outcome:
    """The verdict on a run of buyer messages that began at ``start`` and that an answer (or
    whatever ends it for the rule) ended at ``end``, if it has."""
    deadline = evidence.calendar.business_deadline(start, options.within)
    if end is not None and end <= deadline:
        return Satisfied(subject=subject, deadline=deadline)
    complete = evidence.watermarks.complete_until
    if complete < deadline:
        return Pending(subject=subject, deadline=deadline)
    if start < evidence.watermarks.chat.history_start:
        return Undecidable(subject=subject, deadline=deadline, reason=HISTORY_INCOMPLETE)
    ended = end is not None and end <= complete
    late_until = end if end is not None and ended else min(evidence.now, complete)
    lateness = late_until - deadline
    tier = options.tier_for(lateness)
    final = ended or tier == options.top_tier
    recheck = None
    if not final:
        recheck = deadline + options.tier_limits[tier - 1] + timedelta(microseconds=1)
    return attributed_breach(
        subject,
        deadline,
        evidence,
        tier=tier,
        points=options.tier_points[tier - 1],
        fine=options.fine,
        final=final,
        recheck_at=recheck,
        record=record(ended, lateness),
    )
