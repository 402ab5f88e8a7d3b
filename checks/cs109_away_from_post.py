"""CS109 away from the post (脱岗).

What:
    An agent on duty who has been online in the shift must not be away (not ``online``)
    for more than ``max`` at a stretch, unless on an approved leave.

Why:
    Policy 2: "leaving the post for over 5 minutes during the shift without telling the
    superior: 5 points". A leave (``POST /api/leaves``) is "telling the supervisor".

Reading:
    Subject: an *absence*, a maximal interval inside one of the agent's on-duty intervals,
    after the agent was first online in that shift occurrence, in which the agent's presence
    is not ``online`` and the agent is not on leave; id ``"{agent}@{start}"`` (RFC 3339
    UTC). An absence ends where the agent is online again, where a leave begins, or where
    the on-duty interval ends. ``D = start + max`` (wall clock). A violation if the absence
    lasts beyond D and presence is known on all of ``[start, D]`` (the agent is then not
    online at any instant of it), attributed to that agent; an absence of exactly ``max``
    is none. Undecidable (``presence_unknown``) if presence is unknown anywhere in
    ``[start, D]``; pending while the connector has not read up to D.

Example timeline (day shift 08:30–17:30, max = 5 min):
    08:31 alice online            (first online in the occurrence)
    10:00 alice away; 10:05 online again → an absence of exactly 5 min: no violation
    11:00 alice offline; 11:06 online  → CS109 violation alice@03:00:00Z (11:00 local),
          D = 11:05, 5 points to alice.
    13:00–15:00 alice on leave: offline then is no absence.

Options:
    max [5m], points [5], fine [0], warn_before [2m].
    within [0m] is unused: the deadline is the absence's start plus ``max``.

Known limits:
    Presence sampled on each chat poll is only as fine as the poll: a short absence between
    two samples is not seen, and one is seen to start at the sample that first shows it.
    An agent on two overlapping shifts is judged once per absence. A shop whose connector
    reports no presence has no absences (``no_presence``, counted once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.evidence_record import Clock, Fact, instant
from checks.options import RuleOptions
from checks.presence import Segment, runs
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

CODE = "CS109"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    max: timedelta = timedelta(minutes=5)
    """The longest an agent may be away at a stretch."""
    points: int = 5
    warn_before: timedelta = timedelta(minutes=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRecord:
    start: str | None
    end: str | None
    status: str | None
    """online, away, offline, or None where presence is unknown."""


@dataclass(frozen=True, kw_only=True)
class AbsenceEvidence(ShopBreachEvidence):
    """The absence, its shift, and the agent's status over it."""

    agent: str = ""
    shift: str | None = None
    start: str | None = None
    deadline: str | None = None
    ended_at: str | None = None
    """Where the absence ended (online again, a leave, the shift's end); None if it lasted
    past what had been read when it was decided."""
    statuses: tuple[StatusRecord, ...] = ()

    def facts(self, at: Clock) -> list[Fact]:
        end_zh = f"至 {at(self.ended_at)}" if self.ended_at else "仍未回到在线"
        end_en = f"until {at(self.ended_at)}" if self.ended_at else "not back online yet"
        found: list[Fact] = [
            (
                f"{self.agent} 自 {at(self.start)} 起不在线，{end_zh}（班次 {self.shift}）",
                f"{self.agent} not online from {at(self.start)}, {end_en} (shift {self.shift})",
            )
        ]
        for record in self.statuses[:6]:
            found.append(
                (
                    f"{at(record.start)}–{at(record.end)} {record.status or '未知'}",
                    f"{at(record.start)}–{at(record.end)} {record.status or 'unknown'}",
                )
            )
        return found


def _absences(
    evidence: ShopEvidence, agent: str, first: datetime, limit: datetime
) -> list[tuple[datetime, datetime]]:
    """Stretches of ``[first, limit)`` where the agent is not online and not on leave."""
    segments = evidence.presence.segments(agent, first, limit)
    away = runs(segments, lambda online: online is not True)
    found: list[tuple[datetime, datetime]] = []
    for start, end in away:
        cursor = start
        while cursor < end:
            leave_end = evidence.leave_ends(agent, cursor)
            if leave_end is not None:
                cursor = leave_end
                continue
            cut = min((s for s in evidence.leave_starts(agent, cursor, end)), default=end)
            found.append((cursor, cut))
            cursor = cut
    return found


def _records(segments: list[Segment]) -> tuple[StatusRecord, ...]:
    return tuple(
        StatusRecord(
            start=instant(s.start),
            end=instant(s.end),
            status=s.status.value if s.status is not None else None,
        )
        for s in segments
    )


def evaluate(evidence: ShopEvidence, options: Options) -> list[Outcome]:
    early = without_presence(CODE, "absence", evidence)
    if early is not None:
        return early
    presence = evidence.presence
    limit_all = presence.read_until(evidence.now)
    if limit_all is None:
        return []
    found: dict[str, Outcome] = {}
    agents = sorted({a for s in evidence.shifts for a in s.agents} | set(evidence.roster))
    for agent in agents:
        for interval in evidence.duty(agent, evidence.since, limit_all):
            if interval.start <= evidence.since:
                continue  # begun before this evidence: judged by an earlier evaluation
            limit = min(interval.end, limit_all)
            first = presence.first_online(agent, interval.start, limit)
            if first is None:
                continue
            for start, end in _absences(evidence, agent, first, limit):
                subject = shop_subject(CODE, "absence", f"{agent}@{instant_id(start)}")
                if subject.id in found:
                    continue
                deadline = start + options.max
                ongoing = end == limit and limit < interval.end
                if ongoing and end <= deadline:
                    found[subject.id] = Pending(subject=subject, deadline=deadline)
                elif end <= deadline:
                    found[subject.id] = Satisfied(subject=subject, deadline=deadline)
                elif not presence.known_throughout(agent, start, deadline):
                    found[subject.id] = Undecidable(
                        subject=subject, deadline=deadline, reason=PRESENCE_UNKNOWN
                    )
                else:
                    shown = presence.segments(agent, start, min(end, deadline + options.max))
                    found[subject.id] = Breach(
                        subject=subject,
                        deadline=deadline,
                        agent=agent,
                        shift=interval.shift,
                        tier=None,
                        points=options.points,
                        fine=options.fine,
                        final=True,
                        evidence=AbsenceEvidence(
                            agent=agent,
                            shift=interval.shift,
                            start=instant(start),
                            deadline=instant(deadline),
                            ended_at=None if ongoing else instant(end),
                            statuses=_records(shown),
                        ),
                    )
    return list(found.values())


RULE = Rule(
    code=CODE,
    slug="away-from-post",
    name_zh="脱岗",
    name_en="Away from the post",
    subject_type="absence",
    options_type=Options,
    evidence_type=AbsenceEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    scope=Scope.SHOP,
    action=("请回到岗位（上线），或向主管请假", "get back online, or ask the supervisor for leave"),
    undecidable_reasons=(PRESENCE_UNKNOWN, NO_PRESENCE),
)
