"""CS110 nobody reachable (客服挂起).

What:
    While the shop is open (inside coverage) some agent must be online: no stretch longer
    than ``max`` with nobody online. Each such stretch is recorded for a supervisor's
    review and raises a critical alert to the team lead at once.

Why:
    Policy 2: "putting the service line on hold during work so customers cannot get
    through: dismissal".

Reading:
    Subject: a maximal interval inside coverage in which no agent is ``online``; id its
    start (RFC 3339 UTC). ``D = start + max`` (wall clock). A violation if presence (of
    every agent) is known on ``[start, D]`` and nobody was online throughout, that is the
    stretch lasts beyond D; one that ends exactly at D, or earlier (somebody online, or
    coverage over), is none. Undecidable (``presence_unknown``) if presence is unknown
    anywhere in ``[start, D]``. Recorded **for review** with 0 points, attributed to the
    only agent on duty at D (not on leave), else to the team. Its alert is critical, sent
    at once (not batched) and resolved when an agent comes online (or coverage ends): the
    violation stays open (not final) while nobody is online and says when it ended once
    somebody is. Confirming it puts ``dismissal_review`` on that agent's scorecard.

Example timeline (day shift 08:30–17:30, alice alone, max = 5 min):
    14:00 alice goes offline, nobody else is online
    14:05 D passes, nobody online since 14:00 → CS110 violation 06:00:00Z (14:00 local),
          status review, critical alert to the team lead now
    14:20 alice online → the alert resolves; the violation records it ended at 14:20.

Options:
    max [5m], points [0], fine [0], warn_before [4m].
    within [0m] is unused: the deadline is the stretch's start plus ``max``.

Known limits:
    With an event stream an agent whose presence is unknown (no event since the history
    start) keeps "nobody online" unknown until that agent's first event. Sampled presence
    sees a stretch only at the poll that first shows it. A shop whose connector reports no
    presence is never judged (``no_presence``, counted once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from checks.evidence_record import Clock, Fact, instant
from checks.options import RuleOptions
from checks.presence import runs
from checks.rule import Rule, Scope, Severity, rule_doc
from checks.shop_evidence import (
    NO_PRESENCE,
    PRESENCE_UNKNOWN,
    ShopBreachEvidence,
    ShopEvidence,
    instant_id,
    shop_subject,
    without_presence,
)
from checks.subject import Breach, Outcome, Pending, Satisfied, Undecidable

CODE = "CS110"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    max: timedelta = timedelta(minutes=5)
    """The longest the shop may be open with nobody online."""
    points: int = 0
    fine: Decimal = Decimal(0)
    warn_before: timedelta = timedelta(minutes=4)


@dataclass(frozen=True, kw_only=True)
class NobodyOnlineEvidence(ShopBreachEvidence):
    """When nobody was online, who was on duty, and when somebody came back."""

    start: str | None = None
    deadline: str | None = None
    ended_at: str | None = None
    """When somebody came online (or coverage ended); None while nobody is."""
    on_duty: tuple[str, ...] = ()

    def facts(self, at: Clock) -> list[Fact]:
        if self.ended_at:
            end_zh, end_en = f"至 {at(self.ended_at)}", f"until {at(self.ended_at)}"
        else:
            end_zh, end_en = "至今", "still"
        return [
            (
                f"自 {at(self.start)} 起无客服在线，{end_zh}",
                f"nobody online from {at(self.start)}, {end_en}",
            ),
            (
                f"截止 {at(self.deadline)} 当班：{', '.join(self.on_duty) or '无'}",
                f"on duty at {at(self.deadline)}: {', '.join(self.on_duty) or 'nobody'}",
            ),
        ]


def _on_duty(evidence: ShopEvidence, deadline: datetime) -> tuple[str, ...]:
    agents = evidence.calendar.agents_on_duty_at_deadline(deadline)
    return tuple(a for a in agents if not evidence.on_leave(a, deadline))


def evaluate(evidence: ShopEvidence, options: Options) -> list[Outcome]:
    early = without_presence(CODE, "outage", evidence)
    if early is not None:
        return early
    presence = evidence.presence
    read_until = presence.read_until(evidence.now)
    if read_until is None:
        return []
    outcomes: list[Outcome] = []
    # from a day earlier, so a stretch of coverage running into ``since`` is seen whole
    for open_at, close_at in evidence.coverage(evidence.since - timedelta(days=1), read_until):
        if close_at <= evidence.since:
            continue
        lo, hi = max(open_at, evidence.since), min(close_at, read_until)
        segments = presence.team_segments(lo, hi)
        for start, end in runs(segments, lambda online: online is not True):
            if start == lo and open_at < evidence.since:
                continue  # begun before this evidence: judged by an earlier evaluation
            subject = shop_subject(CODE, "outage", instant_id(start))
            deadline = start + options.max
            ongoing = end == hi and hi < close_at
            if ongoing and end <= deadline:
                outcomes.append(Pending(subject=subject, deadline=deadline))
            elif end <= deadline:
                outcomes.append(Satisfied(subject=subject, deadline=deadline))
            elif not presence.known_throughout(None, start, deadline):
                outcomes.append(
                    Undecidable(subject=subject, deadline=deadline, reason=PRESENCE_UNKNOWN)
                )
            else:
                on_duty = _on_duty(evidence, deadline)
                shift = evidence.calendar.shift_at(deadline)
                outcomes.append(
                    Breach(
                        subject=subject,
                        deadline=deadline,
                        agent=on_duty[0] if len(on_duty) == 1 else None,
                        shift=shift.shift if shift is not None else None,
                        tier=None,
                        points=options.points,
                        fine=options.fine,
                        final=not ongoing,
                        ended_at=None if ongoing else end,
                        evidence=NobodyOnlineEvidence(
                            start=instant(start),
                            deadline=instant(deadline),
                            ended_at=None if ongoing else instant(end),
                            on_duty=on_duty,
                        ),
                    )
                )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="nobody-reachable",
    name_zh="客服挂起",
    name_en="Nobody reachable",
    subject_type="outage",
    options_type=Options,
    evidence_type=NobodyOnlineEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    scope=Scope.SHOP,
    severity=Severity.CRITICAL,
    review=True,
    lasting=True,
    scorecard_flags=("dismissal_review",),
    action=("请立即安排客服上线", "get an agent online now"),
    undecidable_reasons=(PRESENCE_UNKNOWN, NO_PRESENCE),
)
