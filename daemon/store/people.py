"""People on shift: supervisor-approved leaves and the handover book (SPEC §6).

Shopwatch's own data, written through ``POST /api/leaves`` and ``POST /api/handovers`` (or
``shopwatch leave add`` / ``shopwatch handover add``) and read by the rules about people at
their posts: CS108 reads the handover book, CS109 and CS111 read the leaves. Every write
lands in ``people_events`` with who wrote it.

Input is checked here, once, for the API and the CLI alike: a refusal is a
:class:`~daemon.errors.BadInput` naming the field to fix (``agent``, ``from``, ``until``,
``shift``, ``day``, ``by``, ``text``). The roster and the calendar live in the config, which
the store does not read: the caller says who is on the roster and on which days a shift runs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from daemon.errors import BadInput
from daemon.store.tables import handovers, leaves, people_events

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Occurrence(Protocol):
    @property
    def shift(self) -> str: ...


class ShiftCalendar(Protocol):
    """What the book asks the business calendar: the shift occurrences starting on a day
    (holidays and their special hours applied)."""

    def shifts_on(self, day: date) -> Sequence[_Occurrence]: ...


def parse_instant(value: Any, field: str) -> datetime:
    """An RFC 3339 time with its offset, as UTC; anything else names ``field``."""
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInput(
            f"expected an RFC 3339 time with offset, e.g. 2026-11-02T09:00:00+08:00, not {value!r}",
            field=field,
        )
    return moment.astimezone(UTC)


def parse_day(value: Any, field: str = "day") -> date:
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BadInput(f"expected a day as YYYY-MM-DD, e.g. 2026-11-02, not {value!r}", field=field)


def parse_since(value: Any, timezone: ZoneInfo, field: str = "since") -> datetime:
    """``since`` of a list: an RFC 3339 time, or a day (its local midnight)."""
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        day = parse_day(value, field)
        return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)
    return parse_instant(value, field)


TEXT_MAX = 4000
"""A reason or a note longer than this is refused."""


def _checked(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise BadInput(f"at most {limit} characters", field=field)
    if "\x00" in value:
        raise BadInput("must not contain NUL characters", field=field)
    return value


def checked_reason(reason: str | None) -> str:
    """A reason as it is kept in a trail: trimmed, at most :data:`TEXT_MAX` characters, no
    NUL (which PostgreSQL cannot store); a refusal names ``reason``."""
    return _checked((reason or "").strip(), "reason", TEXT_MAX)


def _required_text(value: Any, field: str, what: str, limit: int = TEXT_MAX) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"required: {what}", field=field)
    return _checked(value.strip(), field, limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaveRecord:
    """An approved absence of one agent over ``[start, end)``."""

    id: int
    agent: str
    start: datetime
    end: datetime
    by: str
    reason: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": self.agent,
            "from": self.start.isoformat(),
            "until": self.end.isoformat(),
            "by": self.by,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverRecord:
    """A note in the handover book for the occurrence of ``shift`` that starts on ``day``."""

    id: int
    shift: str
    day: date
    by: str
    text: str
    written_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shift": self.shift,
            "day": self.day.isoformat(),
            "by": self.by,
            "text": self.text,
            "written_at": self.written_at.isoformat(),
        }


def _leave(row: Any) -> LeaveRecord:
    return LeaveRecord(
        id=row.id,
        agent=row.agent,
        start=row.starts_at,
        end=row.ends_at,
        by=row.by,
        reason=row.reason,
        created_at=row.created_at,
    )


def _handover(row: Any) -> HandoverRecord:
    return HandoverRecord(
        id=row.id,
        shift=row.shift,
        day=date.fromisoformat(row.day),
        by=row.by,
        text=row.text,
        written_at=row.written_at,
    )


class PeopleBook:
    """Leaves and handover notes, with their audit trail."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ---- leaves ----

    async def add_leave(
        self,
        *,
        agent: Any,
        start: Any,
        end: Any,
        by: Any,
        reason: Any,
        now: datetime,
        roster: Collection[str],
    ) -> LeaveRecord:
        """Record an approved leave; ``start`` and ``end`` are RFC 3339 texts or aware times."""
        agent_id = _required_text(agent, "agent", "the agent's roster id", 128)
        if agent_id not in roster:
            raise BadInput(f"{agent_id!r} is not on the roster ([[agents]])", field="agent")
        starts = start if isinstance(start, datetime) else parse_instant(start, "from")
        ends = end if isinstance(end, datetime) else parse_instant(end, "until")
        if starts.tzinfo is None or ends.tzinfo is None:
            raise BadInput("expected a time with offset", field="from")
        if ends <= starts:
            raise BadInput("must be later than from", field="until")
        who = _required_text(by, "by", "the supervisor who approved it", 128)
        if reason is not None and not isinstance(reason, str):
            raise BadInput("expected a string", field="reason")
        why = checked_reason(reason)
        async with self.engine.begin() as conn:
            new_id = (
                await conn.execute(
                    leaves.insert()
                    .values(
                        agent=agent_id,
                        starts_at=starts,
                        ends_at=ends,
                        by=who,
                        reason=why,
                        created_at=now,
                    )
                    .returning(leaves.c.id)
                )
            ).scalar_one()
            details = {"agent": agent_id, "from": starts.isoformat(), "until": ends.isoformat()}
            await _audit(conn, now, "leave", new_id, who, {**details, "reason": why})
        return LeaveRecord(
            id=new_id,
            agent=agent_id,
            start=starts.astimezone(UTC),
            end=ends.astimezone(UTC),
            by=who,
            reason=why,
            created_at=now,
        )

    async def leaves(
        self,
        *,
        agent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LeaveRecord]:
        """Leaves overlapping ``[since, until)`` (either bound may be open), by start."""
        query = select(leaves).order_by(leaves.c.starts_at, leaves.c.id)
        if agent:
            query = query.where(leaves.c.agent == agent)
        if since is not None:
            query = query.where(leaves.c.ends_at > since)
        if until is not None:
            query = query.where(leaves.c.starts_at < until)
        async with self.engine.connect() as conn:
            return [_leave(row) for row in await conn.execute(query)]

    # ---- the handover book ----

    async def add_handover(
        self,
        *,
        shift: Any,
        day: Any,
        by: Any,
        text: Any,
        now: datetime,
        shifts: Collection[str],
        calendar: ShiftCalendar,
    ) -> HandoverRecord:
        """Write a note for the occurrence of ``shift`` starting on ``day``, at ``now``."""
        name = _required_text(shift, "shift", "the shift's name", 64)
        if name not in shifts:
            known = ", ".join(sorted(shifts)) or "none configured"
            raise BadInput(f"no shift named {name!r} (shifts: {known})", field="shift")
        on = day if isinstance(day, date) else parse_day(day)
        if not any(occurrence.shift == name for occurrence in calendar.shifts_on(on)):
            raise BadInput(
                f"shift {name!r} does not run on {on.isoformat()} (a holiday, or nobody's "
                "shift that day)",
                field="day",
            )
        who = _required_text(by, "by", "who wrote the note", 128)
        note = _required_text(text, "text", "what is handed over")
        async with self.engine.begin() as conn:
            new_id = (
                await conn.execute(
                    handovers.insert()
                    .values(shift=name, day=on.isoformat(), by=who, text=note, written_at=now)
                    .returning(handovers.c.id)
                )
            ).scalar_one()
            await _audit(conn, now, "handover", new_id, who, {"shift": name, "day": on.isoformat()})
        return HandoverRecord(id=new_id, shift=name, day=on, by=who, text=note, written_at=now)

    async def handovers(
        self,
        *,
        shift: str | None = None,
        since_day: date | None = None,
        written_since: datetime | None = None,
    ) -> list[HandoverRecord]:
        """Notes for occurrences from ``since_day`` on and/or written from ``written_since``
        on, by day, shift and time written."""
        query = select(handovers).order_by(
            handovers.c.day, handovers.c.shift, handovers.c.written_at, handovers.c.id
        )
        if shift:
            query = query.where(handovers.c.shift == shift)
        if since_day is not None:
            query = query.where(handovers.c.day >= since_day.isoformat())
        if written_since is not None:
            query = query.where(handovers.c.written_at >= written_since)
        async with self.engine.connect() as conn:
            return [_handover(row) for row in await conn.execute(query)]

    async def audit(self, entity: str, entity_id: int) -> list[dict[str, Any]]:
        """The trail of one leave or note: who wrote it, when."""
        query = (
            select(people_events)
            .where(people_events.c.entity == entity, people_events.c.entity_id == entity_id)
            .order_by(people_events.c.id)
        )
        async with self.engine.connect() as conn:
            return [
                {"at": r.at.isoformat(), "action": r.action, "by": r.by, "details": r.details}
                for r in await conn.execute(query)
            ]


async def _audit(
    conn: AsyncConnection,
    at: datetime,
    entity: str,
    entity_id: int,
    by: str,
    details: dict[str, Any],
) -> None:
    await conn.execute(
        people_events.insert().values(
            at=at, entity=entity, entity_id=entity_id, action="recorded", by=by, details=details
        )
    )
