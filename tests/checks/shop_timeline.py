"""Terse builders for shop-level rule timelines (CS108–CS112), in shop time.

    p = sampled(("alice", "08:31", ONLINE), ("alice", "11:00", OFFLINE), known=("08:00", "18:00"))
    ev = shop(p, now="2026-11-02 18:00")

Presence is sampled (known on closed spans, settled up to the last sample) or an event
stream (known from the history start below the watermark). Every instant is local wall time
on Monday 2026-11-02 unless it names its day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from checks.business_time import BusinessCalendar, Shift
from checks.evidence import StreamBounds, Watermarks
from checks.presence import KnownSpan, PresenceSource, PresenceTimeline
from checks.shop_evidence import HandoverNote, Leave, ShopEvidence
from checks.subject import Outcome
from connectors.model import AgentPresence, PresenceStatus

from .timeline import TZ, at

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def when(text: str) -> datetime:
    """``"10:00"`` on Monday 2026-11-02, or a full ``"2026-11-03 10:00"``, in shop time."""
    return at(text if " " in text else f"2026-11-02 {text}")


def shift(
    name: str,
    start: str,
    end: str,
    *agents: str,
    handover: bool = True,
    handover_by: str | None = None,
) -> Shift:
    return Shift(
        name=name,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
        agents=agents,
        handover=handover,
        handover_by=handover_by,
    )


DAY = shift("day", "08:30", "17:30", "alice", "bob")
SOLO = shift("day", "08:30", "17:30", "alice")
NIGHT = shift("night", "17:30", "00:00", "carol")


Change = tuple[str, str, PresenceStatus]


def _rows(changes: Sequence[Change]) -> list[AgentPresence]:
    return [AgentPresence(agent_id=a, status=s, since=when(t)) for a, t, s in changes]


def sampled(
    *changes: Change,
    known: Sequence[tuple[str, str]] = (("00:00", "23:59"),),
    roster: Sequence[str] = ("alice", "bob", "carol"),
) -> PresenceTimeline:
    spans = [KnownSpan(start=when(a), end=when(b), end_included=True) for a, b in known]
    return PresenceTimeline(
        source=PresenceSource.SAMPLES,
        statuses=_rows(changes),
        spans=spans,
        settled_until=max(span.end for span in spans),
        roster=roster,
    )


def streamed(
    *changes: Change,
    start: str = "00:00",
    watermark: str = "23:59",
    roster: Sequence[str] = ("alice", "bob"),
) -> PresenceTimeline:
    return PresenceTimeline(
        source=PresenceSource.EVENTS,
        statuses=_rows(changes),
        spans=[KnownSpan(start=when(start), end=when(watermark))],
        settled_until=when(watermark),
        roster=roster,
    )


def shop(
    presence: PresenceTimeline,
    *,
    now: str,
    shifts: Sequence[Shift] = (DAY,),
    leaves: Sequence[tuple[str, str, str]] = (),
    notes: Sequence[tuple[str, str, str]] = (),
    since: str = "2026-11-01 00:00",
    history_start: str = "2026-11-01 00:00",
    days_off: dict[str, frozenset[int]] | None = None,
    team: bool = False,
) -> ShopEvidence:
    """``leaves``: (agent, from, until); ``notes``: (shift, day, written_at)."""
    calendar = BusinessCalendar(timezone=TZ, shifts=shifts, days_off=days_off or {})
    bounds = StreamBounds(history_start=when(history_start), watermark=when(now))
    return ShopEvidence(
        shop="" if team else "s",
        calendar=calendar,
        shifts=shifts,
        presence=presence,
        leaves=[Leave(agent=a, start=when(f), end=when(u)) for a, f, u in leaves],
        handovers=[
            HandoverNote(
                id=i,
                shift=name,
                day=when(f"{day} 00:00").date(),
                by="someone",
                written_at=when(written),
            )
            for i, (name, day, written) in enumerate(notes, start=1)
        ],
        watermarks=Watermarks(orders=bounds, chat=bounds),
        history_start=when(history_start),
        since=when(since),
        now=when(now),
        roster=frozenset(a for s in shifts for a in s.agents),
    )


def by_id(outcomes: Sequence[Outcome]) -> dict[str, Outcome]:
    return {o.subject.id: o for o in outcomes}


def kinds(outcomes: Sequence[Outcome]) -> dict[str, str]:
    return {o.subject.id: type(o).__name__ for o in outcomes}
