"""CS108 handover not written (未写交接).

What:
    Each shift that hands over must leave a note in the handover book (``POST
    /api/handovers``) for its occurrence, at the latest ``grace`` after the shift ends.

Why:
    Policy 1: "the night shift writes the handover items in the handover book before
    leaving"; policy 2: "not filling the handover record: 5 points"; policy 4 §1: "not
    entered once: 30 yuan fine, twice 50, three times 80, four times one month's pay
    withheld, five times dismissal".

Reading:
    Subject: each occurrence of a shift with ``handover = true`` on a day on which at least
    one of its agents is on duty (listed on the shift, not a day off); id
    ``"{shift}@{YYYY-MM-DD}"``, the day it starts. ``D = shift end + grace``, wall clock.
    Satisfied by a note for that shift and day written at or before D. The notes live in
    shopwatch, so no watermark is waited for: decided when the clock passes D. Occurrences
    that ended before the history start are not judged. The violation belongs to the team,
    not to a shop (``shop`` null in the ledger, the metric label empty). It is attributed to
    the shift's ``handover_by`` if that agent is on duty in the occurrence, else to the only
    agent on duty in it, else to the shift (team level, no fine). Each violation carries
    ``fine`` (the first step); the scorecard fines an agent's n-th CS108 of a calendar month
    (in deadline order) by the policy file's handover ladder: 30, 50, 80 CNY, the 4th adds
    the flag ``pay_withheld``, the 5th ``dismissal_review``.

Example timeline (night shift 17:30–24:00, a3 alone, grace = 15 min):
    Mon 23:50 a3 writes the note for night@Mon → satisfied.
    Tue 24:00 the shift ends without a note; D = Wed 00:15.
    Wed 00:14 still nothing; 00:15 passes → CS108 violation night@Tue, attributed to a3,
          5 points. A note written at 00:16 is too late (it is shown in the evidence).

Options:
    grace [15m], points [5], fine [30 CNY], warn_before [15m].
    within [0m] is unused: the deadline is the shift's end plus ``grace``.

Known limits:
    A note is for an occurrence as a whole: who wrote it is not checked against the shift.
    A holiday's special hours are not a shift occurrence, so they have no handover to write.
    With several shops the team's occurrences are judged once, by the first shop's
    evaluation, against the earliest history start among its streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from checks.evidence_record import Clock, Fact, instant
from checks.options import RuleOptions
from checks.rule import Rule, Scope, rule_doc
from checks.shop_evidence import ShopBreachEvidence, ShopEvidence, shop_subject
from checks.subject import Breach, Outcome, Pending, Satisfied

CODE = "CS108"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    grace: timedelta = timedelta(minutes=15)
    """How long after the shift's end the note may still be written."""
    points: int = 5
    fine: Decimal = Decimal(30)
    """The fine recorded on each violation (the ladder's first step; see the scorecard)."""

    def penalty(self) -> str:
        return f"{self.points} points, {self.fine.normalize():f} / 50 / 80 CNY by the month's count"


@dataclass(frozen=True, slots=True, kw_only=True)
class LateNote:
    id: int
    by: str
    written_at: str | None


@dataclass(frozen=True, kw_only=True)
class MissingHandoverEvidence(ShopBreachEvidence):
    """The occurrence, who was on duty in it, and any note written too late."""

    shift: str = ""
    day: str = ""
    shift_end: str | None = None
    deadline: str | None = None
    on_duty: tuple[str, ...] = ()
    handover_by: str | None = None
    late_notes: tuple[LateNote, ...] = ()

    def facts(self, at: Clock) -> list[Fact]:
        found: list[Fact] = [
            (
                f"班次 {self.shift}（{self.day}）{at(self.shift_end)} 下班，"
                f"截止 {at(self.deadline)} 无交接记录",
                f"shift {self.shift} of {self.day} ended {at(self.shift_end)}; "
                f"no handover note by {at(self.deadline)}",
            ),
            (
                f"当班：{', '.join(self.on_duty) or '无'}",
                f"on duty: {', '.join(self.on_duty) or 'nobody'}",
            ),
        ]
        for note in self.late_notes:
            found.append(
                (
                    f"{note.by} 于 {at(note.written_at)} 补写（已超时）",
                    f"note by {note.by} written late at {at(note.written_at)}",
                )
            )
        return found


def evaluate(evidence: ShopEvidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    calendar = evidence.calendar
    start = max(evidence.since - options.grace, evidence.history_start - options.grace)
    for interval in calendar.intervals(start, evidence.now + timedelta(microseconds=1)):
        shift = evidence.shift(interval.shift)
        if shift is None or not shift.handover or interval.end <= evidence.history_start:
            continue
        on_duty = tuple(a for a in interval.agents if calendar.works(a, interval))
        if not on_duty:
            continue
        day = interval.day
        subject = shop_subject(CODE, "shift", f"{shift.name}@{day.isoformat()}")
        deadline = interval.end + options.grace
        notes = evidence.notes_for(shift.name, day)
        if any(note.written_at <= deadline for note in notes):
            outcomes.append(Satisfied(subject=subject, deadline=deadline))
            continue
        if evidence.now <= deadline:  # a note may still be written at D itself
            outcomes.append(Pending(subject=subject, deadline=deadline))
            continue
        if shift.handover_by is not None and shift.handover_by in on_duty:
            agent: str | None = shift.handover_by
        elif len(on_duty) == 1:
            agent = on_duty[0]
        else:
            agent = None
        outcomes.append(
            Breach(
                subject=subject,
                deadline=deadline,
                agent=agent,
                shift=shift.name,
                tier=None,
                points=options.points,
                fine=options.fine if agent is not None else Decimal(0),
                final=True,
                evidence=MissingHandoverEvidence(
                    shift=shift.name,
                    day=day.isoformat(),
                    shift_end=instant(interval.end),
                    deadline=instant(deadline),
                    on_duty=on_duty,
                    handover_by=shift.handover_by,
                    late_notes=tuple(
                        LateNote(id=n.id, by=n.by, written_at=instant(n.written_at))
                        for n in sorted(notes, key=lambda n: n.written_at)
                    ),
                ),
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="handover-not-written",
    name_zh="未写交接",
    name_en="Handover not written",
    subject_type="shift",
    options_type=Options,
    evidence_type=MissingHandoverEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    scope=Scope.TEAM,
    action=("请在交接本写下本班交接事项", "write the shift's handover note"),
)
