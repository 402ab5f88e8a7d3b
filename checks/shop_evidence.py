"""The evidence a shop-level rule sees: the team at its posts, not one buyer (SPEC §3).

CS108–CS112 judge a shop (CS108 the whole team) once per evaluation: its business calendar
and the leaves supervisors approved, the agents' presence over time, the handover book, and
how far each of these is known. The daemon builds one :class:`ShopEvidence` per shop and
evaluation from its store; the rules never read the store themselves.

``since`` is where this evidence begins: what started before it was judged by an earlier
evaluation, and a rule does not judge it again from a truncated view (an absence cut at
``since`` would otherwise look like a new one starting there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from checks.business_time import BusinessCalendar, Interval, Shift
from checks.evidence import Watermarks
from checks.evidence_record import SUMMARY_LIMIT, BreachEvidence, local_clock
from checks.presence import PresenceTimeline
from checks.subject import Outcome, Subject, Undecidable


@dataclass(frozen=True, slots=True, kw_only=True)
class Leave:
    """A supervisor-approved absence of one agent over ``[start, end)`` (SPEC §3)."""

    agent: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverNote:
    """A note in the handover book for the occurrence of ``shift`` starting on ``day``."""

    id: int
    shift: str
    day: date
    by: str
    written_at: datetime


@dataclass(frozen=True, kw_only=True)
class ShopEvidence:
    shop: str
    """The shop judged; empty for the team (CS108 belongs to no shop)."""
    calendar: BusinessCalendar
    shifts: Sequence[Shift]
    presence: PresenceTimeline
    leaves: Sequence[Leave]
    handovers: Sequence[HandoverNote]
    watermarks: Watermarks | None
    """Both streams' bounds, or None before either was read."""
    history_start: datetime
    """Before this instant nothing was read (the daemon's first start minus the backfill)."""
    since: datetime
    now: datetime
    roster: frozenset[str] = frozenset()
    _leave_index: dict[str, list[Leave]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for leave in sorted(self.leaves, key=lambda x: x.start):
            self._leave_index.setdefault(leave.agent, []).append(leave)

    # ---- leaves ----

    def on_leave(self, agent: str, t: datetime) -> bool:
        return any(leave.start <= t < leave.end for leave in self._leave_index.get(agent, ()))

    def leave_ends(self, agent: str, t: datetime) -> datetime | None:
        """Where the agent's leave covering ``t`` (and any leave joining it) ends."""
        end: datetime | None = None
        for leave in self._leave_index.get(agent, ()):
            reach = end or t
            if leave.start <= reach < leave.end:
                end = leave.end
        return end

    def leave_starts(self, agent: str, start: datetime, end: datetime) -> list[datetime]:
        """The starts of the agent's leaves inside ``(start, end)``."""
        starts = sorted(x.start for x in self._leave_index.get(agent, ()) if start < x.start < end)
        return starts

    # ---- duty ----

    def duty(self, agent: str, start: datetime, end: datetime) -> Iterator[Interval]:
        """The shift occurrences overlapping ``[start, end)`` that ``agent`` works."""
        for interval in self.calendar.intervals(start, end):
            if self.calendar.works(agent, interval):
                yield interval

    def shift(self, name: str) -> Shift | None:
        return next((s for s in self.shifts if s.name == name), None)

    def coverage(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The covered stretches overlapping ``[start, end)``, merged (SPEC "coverage")."""
        merged: list[tuple[datetime, datetime]] = []
        for interval in self.calendar.intervals(start, end):
            if merged and interval.start <= merged[-1][1]:
                if interval.end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], interval.end)
                continue
            merged.append((interval.start, interval.end))
        return merged

    def notes_for(self, shift: str, day: date) -> list[HandoverNote]:
        return [n for n in self.handovers if n.shift == shift and n.day == day]


PRESENCE_UNKNOWN = "presence_unknown"
"""Presence is unknown (for good) somewhere the rule needs it: undecidable, never a breach."""
NO_PRESENCE = "no_presence"
"""The shop's chat connector reports no presence: counted once per shop and rule."""


def instant_id(t: datetime) -> str:
    """An instant as subject ids write it: RFC 3339 UTC with seconds (SPEC §3)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shop_subject(rule: str, subject_type: str, subject_id: str) -> Subject:
    """A subject about the team, not a buyer (``buyer_id`` empty, stored as null)."""
    return Subject(rule=rule, type=subject_type, id=subject_id, buyer_id="")


def without_presence(rule: str, subject_type: str, evidence: ShopEvidence) -> list[Outcome] | None:
    """What a rule that needs presence says when the shop cannot give it: nothing before
    the chat stream was first read; once, ``no_presence``, when it reports none."""
    reported = evidence.presence.reported
    if reported is None:
        return []
    if not reported:
        subject = shop_subject(rule, subject_type, NO_PRESENCE)
        return [Undecidable(subject=subject, deadline=evidence.history_start, reason=NO_PRESENCE)]
    return None


@dataclass(frozen=True, kw_only=True)
class ShopBreachEvidence(BreachEvidence):
    """A breach about people at their posts: no buyer, so no "last agent message" line."""

    def summarize(self, timezone: ZoneInfo, now: datetime | None = None) -> str:
        at = local_clock(timezone, now)
        facts = self.facts(at) or [("无更多细节", "no further detail")]
        text = "；".join(zh for zh, _ in facts) + "\n" + "; ".join(en for _, en in facts)
        return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"
