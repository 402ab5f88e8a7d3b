"""Leaves and the handover book in the store (SPEC §6), on SQLite and PostgreSQL.

Every write is audited with who made it; every refusal is a BadInput naming the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.business_time import BusinessCalendar, Holiday, Shift
from daemon.errors import BadInput
from daemon.store.people import PeopleBook, parse_since
from tests.checks.timeline import shift

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
ROSTER = frozenset({"a1", "a2", "a3"})
SHIFTS: tuple[Shift, ...] = (
    shift("day", "08:30", "17:30", "a1", "a2"),
    shift("night", "17:30", "00:00", "a3"),
)
CALENDAR = BusinessCalendar(
    timezone=TZ,
    shifts=SHIFTS,
    holidays=[Holiday(day=date(2026, 11, 4), name="closed")],
)
NAMES = [s.name for s in SHIFTS]


async def test_a_leave_is_stored_listed_and_audited(engine: AsyncEngine) -> None:
    book = PeopleBook(engine)
    leave = await book.add_leave(
        agent="a1",
        start="2026-11-02T13:00:00+08:00",
        end="2026-11-02T15:00:00+08:00",
        by="Chen",
        reason="dentist",
        now=NOW,
        roster=ROSTER,
    )
    assert leave.to_json() == {
        "id": leave.id,
        "agent": "a1",
        "from": "2026-11-02T05:00:00+00:00",
        "until": "2026-11-02T07:00:00+00:00",
        "by": "Chen",
        "reason": "dentist",
        "created_at": NOW.isoformat(),
    }
    assert [x.id for x in await book.leaves()] == [leave.id]
    assert [x.id for x in await book.leaves(agent="a1")] == [leave.id]
    assert await book.leaves(agent="a2") == []
    # since: leaves not over by then (the end is exclusive)
    end = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert [x.id for x in await book.leaves(since=end - timedelta(microseconds=1))] == [leave.id]
    assert await book.leaves(since=end) == []
    assert [x.id for x in await book.leaves(until=leave.start + timedelta(seconds=1))] == [leave.id]
    assert await book.leaves(until=leave.start) == []
    trail = await book.audit("leave", leave.id)
    assert [(e["action"], e["by"]) for e in trail] == [("recorded", "Chen")]
    assert trail[0]["details"]["reason"] == "dentist"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agent": "zz"}, "agent"),
        ({"agent": ""}, "agent"),
        ({"start": "2026-11-02 13:00"}, "from"),  # no offset
        ({"start": "yesterday"}, "from"),
        ({"end": "2026-11-02T13:00:00+08:00"}, "until"),  # until = from
        ({"end": "2026-11-02T12:59:59+08:00"}, "until"),  # until < from
        ({"end": None}, "until"),
        ({"by": " "}, "by"),
        ({"reason": 7}, "reason"),
    ],
)
async def test_a_bad_leave_is_refused_naming_the_field(
    engine: AsyncEngine, changes: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "agent": "a1",
        "start": "2026-11-02T13:00:00+08:00",
        "end": "2026-11-02T15:00:00+08:00",
        "by": "Chen",
        "reason": "r",
    }
    values.update(changes)
    book = PeopleBook(engine)
    with pytest.raises(BadInput) as refused:
        await book.add_leave(**values, now=NOW, roster=ROSTER)
    assert refused.value.field == field
    assert await book.leaves() == []


async def test_a_leave_one_microsecond_long_is_accepted(engine: AsyncEngine) -> None:
    book = PeopleBook(engine)
    leave = await book.add_leave(
        agent="a2",
        start="2026-11-02T13:00:00+08:00",
        end="2026-11-02T13:00:00.000001+08:00",
        by="Chen",
        reason=None,
        now=NOW,
        roster=ROSTER,
    )
    assert leave.reason == "" and leave.end - leave.start == timedelta(microseconds=1)


async def test_a_handover_note_is_stored_listed_and_audited(engine: AsyncEngine) -> None:
    book = PeopleBook(engine)
    note = await book.add_handover(
        shift="night",
        day="2026-11-02",
        by="a3",
        text="buyer b-7 waits for a refund",
        now=NOW,
        shifts=NAMES,
        calendar=CALENDAR,
    )
    assert note.to_json() == {
        "id": note.id,
        "shift": "night",
        "day": "2026-11-02",
        "by": "a3",
        "text": "buyer b-7 waits for a refund",
        "written_at": NOW.isoformat(),
    }
    later = await book.add_handover(
        shift="day", day="2026-11-03", by="a1", text="x", now=NOW, shifts=NAMES, calendar=CALENDAR
    )
    assert [n.id for n in await book.handovers()] == [note.id, later.id]
    assert [n.id for n in await book.handovers(shift="day")] == [later.id]
    assert [n.id for n in await book.handovers(since_day=date(2026, 11, 3))] == [later.id]
    assert await book.handovers(written_since=NOW + timedelta(seconds=1)) == []
    assert [(e["action"], e["by"]) for e in await book.audit("handover", note.id)] == [
        ("recorded", "a3")
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"shift": "evening"}, "shift"),
        ({"shift": ""}, "shift"),
        ({"day": "2026-11-4"}, "day"),
        ({"day": "20261102"}, "day"),
        ({"day": "2026-02-30"}, "day"),
        ({"day": "2026-11-04"}, "day"),  # the holiday: no occurrence of the shift that day
        ({"by": ""}, "by"),
        ({"text": "   "}, "text"),
        ({"text": None}, "text"),
    ],
)
async def test_a_bad_handover_note_is_refused_naming_the_field(
    engine: AsyncEngine, changes: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {"shift": "night", "day": "2026-11-02", "by": "a3", "text": "t"}
    values.update(changes)
    book = PeopleBook(engine)
    with pytest.raises(BadInput) as refused:
        await book.add_handover(**values, now=NOW, shifts=NAMES, calendar=CALENDAR)
    assert refused.value.field == field
    assert await book.handovers() == []


def test_since_is_a_time_with_offset_or_a_local_day() -> None:
    assert parse_since("2026-11-02", TZ) == datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    assert parse_since("2026-11-02T10:00:00+08:00", TZ) == NOW
    with pytest.raises(BadInput) as refused:
        parse_since("2026-11-02T10:00", TZ)
    assert refused.value.field == "since"
