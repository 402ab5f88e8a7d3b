"""CS112 worked too long without a break (连续工作超时).

What:
    No agent should be online for more than ``max`` without a break of at least ``break``.
    This is the shop's duty towards the agent: it is recorded at team level, never against
    the agent, and warns the team lead.

Why:
    Policy 2 §1: "no employee works more than 8 hours in a row".

Reading:
    Subject: a *stint*, an agent's online time in which no gap (not ``online``) lasts
    ``break`` or longer; id ``"{agent}@{stint start}"`` (RFC 3339 UTC). ``D = stint start +
    max``. When the stint is still going at D (the agent is online at D or after it without a
    ``break`` in between) and presence is known on ``[start, D]``: recorded at team level
    (``agent`` null) with the agent named in the evidence, 0 points, no fine, and a warning
    alert to the team lead. It never lowers the agent's score. Satisfied when the stint ends
    (a gap of ``break``) by D; undecidable (``presence_unknown``) where presence is unknown
    in ``[start, D]``; pending until the connector has read far enough to tell.

Example timeline (max = 8 h, break = 30 min):
    08:00 alice online; 12:00–12:20 away (a 20-minute gap does not end the stint)
    16:00 D passes with alice online → CS112 (team level) alice@00:00:00Z, warning.
    bob online 08:00–12:00, away 12:00–12:30, online 12:30–20:00: two stints, none too long.

Options:
    max [8h], break [30m], points [0], fine [0], warn_before [30m].
    within [0m] is unused: the deadline is the stint's start plus ``max``.

Known limits:
    A stint is counted from where presence is first known to be online: one begun before
    shopwatch knew presence counts from there. Unknown stretches count as gaps for finding
    where a stint ends, and make a stint that reaches D undecidable. A shop whose connector
    reports no presence is never judged (``no_presence``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from checks.evidence_record import Clock, Fact, instant
from checks.options import RuleOptions
from checks.presence import runs
from checks.rule import Rule, Scope, rule_doc
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

CODE = "CS112"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    max: timedelta = timedelta(hours=8)
    """The longest stint online without a break."""
    break_: timedelta = field(default=timedelta(minutes=30), metadata={"key": "break"})
    """A gap this long (not online) ends a stint. Written ``break`` in the config."""
    points: int = 0
    fine: Decimal = Decimal(0)
    warn_before: timedelta = timedelta(minutes=30)


@dataclass(frozen=True, kw_only=True)
class StintEvidence(ShopBreachEvidence):
    """The agent, and the stint from its start to where it was when decided."""

    agent: str = ""
    start: str | None = None
    deadline: str | None = None
    online_until: str | None = None
    """The end of the stint's last online stretch seen when it was decided."""
    hours: float = 0

    def facts(self, at: Clock) -> list[Fact]:
        return [
            (
                f"{self.agent} 自 {at(self.start)} 起连续在线（中间休息不足），"
                f"至 {at(self.deadline)} 已满 {self.hours:g} 小时",
                f"{self.agent} online from {at(self.start)} without a break, "
                f"{self.hours:g} h by {at(self.deadline)}",
            ),
            ("店铺对员工的义务，不扣客服分数", "the shop's duty: no points for the agent"),
        ]


def evaluate(evidence: ShopEvidence, options: Options) -> list[Outcome]:
    early = without_presence(CODE, "stint", evidence)
    if early is not None:
        return early
    presence = evidence.presence
    read_until = presence.read_until(evidence.now)
    if read_until is None:
        return []
    outcomes: list[Outcome] = []
    rest = options.break_
    for agent in sorted(set(presence.agents) | set(evidence.roster)):
        segments = presence.segments(agent, evidence.since, read_until)
        online = runs(segments, lambda on: on is True)
        stints: list[list[tuple[datetime, datetime]]] = []
        for run in online:
            if stints and run[0] - stints[-1][-1][1] < rest:
                stints[-1].append(run)
            else:
                stints.append([run])
        for stint in stints:
            start, last_end = stint[0][0], stint[-1][1]
            if start - evidence.since < rest:
                continue  # its break before may lie before this evidence: judged earlier
            subject = shop_subject(CODE, "stint", f"{agent}@{instant_id(start)}")
            deadline = start + options.max
            if last_end > deadline:
                if not presence.known_throughout(agent, start, deadline):
                    outcomes.append(
                        Undecidable(subject=subject, deadline=deadline, reason=PRESENCE_UNKNOWN)
                    )
                    continue
                shift = evidence.calendar.shift_at(deadline)
                outcomes.append(
                    Breach(
                        subject=subject,
                        deadline=deadline,
                        agent=None,
                        shift=shift.shift if shift is not None else None,
                        tier=None,
                        points=options.points,
                        fine=options.fine,
                        final=True,
                        evidence=StintEvidence(
                            agent=agent,
                            start=instant(start),
                            deadline=instant(deadline),
                            online_until=instant(last_end),
                            hours=options.max.total_seconds() / 3600,
                        ),
                    )
                )
            elif read_until - last_end >= rest:
                outcomes.append(Satisfied(subject=subject, deadline=deadline))
            else:
                outcomes.append(Pending(subject=subject, deadline=deadline))
    return outcomes


RULE = Rule(
    code=CODE,
    slug="worked-too-long",
    name_zh="连续工作超时",
    name_en="Worked too long without a break",
    subject_type="stint",
    options_type=Options,
    evidence_type=StintEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    scope=Scope.SHOP,
    action=("请安排该客服休息", "give the agent a break"),
    undecidable_reasons=(PRESENCE_UNKNOWN, NO_PRESENCE),
)
