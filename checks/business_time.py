"""Business time: shifts, coverage, who is on duty, and business deadlines (SPEC §1).

Every rule's deadline is a *business* deadline: the clock only runs while the shop is covered
by a shift, so a buyer who writes at 02:00 is owed an answer 10 minutes after the day shift
starts, not at 02:10. This module turns the configured shifts, holidays and days off into
concrete UTC intervals and answers the questions the rules and the attribution step ask.

It is pure (no I/O, no clock reads) so that re-evaluating the same data always gives the same
verdict, which the evidence principle (SPEC §2) depends on.

Conventions:

* Shifts are local wall times in the calendar's timezone; a shift whose end <= start crosses
  midnight and belongs to the local day it starts (``end == start`` is a 24 h shift). Wall
  times are resolved with zoneinfo (``fold=0``), so a shift spanning a DST change lasts its
  real length; a window that resolves to no real time at all is dropped.
* Coverage is the union of all shift intervals, half-open ``[start, end)``. With no shifts
  configured the shop is covered 24/7 except where a holiday says otherwise.
* "At t" (``covered``, ``on_duty``, ``agents_on_duty``) means ``start <= t < end``.
* "At deadline D" (``shift_at``, ``on_duty_at_deadline``, ``agents_on_duty_at_deadline``)
  means the instant just before D, ``start < D <= end``: a business deadline consumed exactly
  at the end of a shift belongs to that shift and its agents, not to whoever starts next.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

SEARCH_HORIZON_DAYS = 400
"""How many consecutive days without any coverage make a business deadline unreachable."""

ROUND_THE_CLOCK = "24/7"
"""Name of the synthetic daily interval used when no shifts are configured."""

_ONE_TICK = timedelta(microseconds=1)
_MIDNIGHT = time(0, 0)
_DAY_CACHE_SIZE = 4096
_NO_DAYS_OFF: Mapping[str, frozenset[int]] = MappingProxyType({})


def _require_wall_time(value: time, what: str) -> None:
    """Shift times are local wall times; an offset on them would silently fight the zone."""
    if value.tzinfo is not None:
        raise ValueError(f"{what} must be a naive wall time, read in the calendar's timezone")


def _require_agent_ids(agents: object, what: str) -> None:
    """A bare string would be iterated as one agent per character; refuse it early."""
    if not isinstance(agents, tuple) or not all(isinstance(a, str) for a in agents):
        raise TypeError(f"{what} must be a tuple of agent id strings")


def _require_aware(t: datetime, what: str = "instant") -> datetime:
    """Naive datetimes are ambiguous across the shop's and the server's zones; reject them."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {t!r}")
    return t.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Shift:
    """A named daily window of local wall time and the agents who work it.

    ``end <= start`` means the shift crosses midnight; it belongs to the day it starts, so
    that day's holiday and the agents' days off for that day decide whether it runs.
    """

    name: str
    start: time
    end: time
    agents: tuple[str, ...]
    handover: bool = True
    """Its agents write the handover book before they leave (CS108)."""
    handover_by: str | None = None
    """Who answers for a missing handover note, when on duty (else the only agent on duty)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a shift needs a name")
        _require_wall_time(self.start, f"shift {self.name!r} start")
        _require_wall_time(self.end, f"shift {self.name!r} end")
        _require_agent_ids(self.agents, f"shift {self.name!r} agents")


@dataclass(frozen=True, kw_only=True)
class Holiday:
    """A local date on which the regular shifts starting that day do not run.

    Without hours the day has no coverage at all; with ``start``/``end`` one special window
    (named after the holiday, possibly crossing midnight) runs instead, worked by ``agents``,
    or by every agent of the regular shifts when ``agents`` is None.
    """

    day: date
    name: str
    start: time | None = None
    end: time | None = None
    agents: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError(f"the holiday on {self.day} needs a name")
        if (self.start is None) != (self.end is None):
            raise ValueError(f"holiday {self.name!r}: give both start and end, or neither")
        if self.start is not None and self.end is not None:
            _require_wall_time(self.start, f"holiday {self.name!r} start")
            _require_wall_time(self.end, f"holiday {self.name!r} end")
        if self.agents is not None:
            _require_agent_ids(self.agents, f"holiday {self.name!r} agents")

    @property
    def has_hours(self) -> bool:
        """Whether the holiday keeps special hours rather than closing the whole day."""
        return self.start is not None


@dataclass(frozen=True, kw_only=True)
class Interval:
    """One concrete run of a shift: half-open ``[start, end)`` in aware UTC datetimes.

    ``day`` is the local date the shift started on; days off are judged against it, so a
    night shift's agent stays on (or off) duty past midnight as a whole.
    """

    start: datetime
    end: datetime
    shift: str
    day: date
    agents: tuple[str, ...]


@dataclass(frozen=True)
class _Window:
    """A shift rule for one day, before it is placed on the timeline."""

    name: str
    start: time
    end: time
    agents: tuple[str, ...]
    open_roster: bool


@dataclass(frozen=True)
class _Slot:
    """An interval plus whether any agent id at all may work it (24/7 mode)."""

    interval: Interval
    open_roster: bool


class BusinessCalendar:
    """The shop's business time, read in its configured timezone.

    Per-day intervals are computed once and cached, and deadlines consume whole intervals at
    a time, so a deadline several days out costs a handful of steps, not one per minute.
    """

    def __init__(
        self,
        *,
        timezone: ZoneInfo,
        shifts: Sequence[Shift],
        holidays: Sequence[Holiday] = (),
        days_off: Mapping[str, frozenset[int]] = _NO_DAYS_OFF,
        roster: Sequence[str] = (),
    ) -> None:
        """Build a calendar.

        ``days_off`` maps an agent id to the weekdays (0=Monday … 6=Sunday) they do not
        work. ``roster`` only matters in 24/7 mode, where any agent id is on duty: it names
        the agents ``agents_on_duty`` can enumerate besides those already known from
        ``days_off`` and holidays.
        """
        self._timezone = timezone
        self._shifts = tuple(shifts)
        self._holidays = _index_holidays(holidays)
        self._days_off = _validated_days_off(days_off)
        _reject_duplicate_shift_names(self._shifts)
        self._regular_agents = _sorted_union(s.agents for s in self._shifts)
        self._known_agents = _sorted_union(
            [
                tuple(roster),
                tuple(self._days_off),
                self._regular_agents,
                *(h.agents for h in self._holidays.values() if h.agents is not None),
            ]
        )
        self._regular_windows = self._build_regular_windows()
        self._day_slots = functools.lru_cache(maxsize=_DAY_CACHE_SIZE)(self._compute_day_slots)
        self._two_days = functools.lru_cache(maxsize=_DAY_CACHE_SIZE)(self._compute_two_days)
        self._working: dict[tuple[tuple[datetime, str], ...], list[str]] = {}
        """Who works a given set of slots: every breach asks at its own deadline, and the
        deadlines of one shift all land on the same slots."""

    @property
    def timezone(self) -> ZoneInfo:
        """The zone shifts, days and weekdays are read in."""
        return self._timezone

    @property
    def is_24_7(self) -> bool:
        """No shifts configured: the shop is covered around the clock (holidays aside)."""
        return not self._shifts

    def shifts_on(self, day: date) -> list[Interval]:
        """The intervals that start on local date ``day``, holiday rules applied, by start."""
        return [slot.interval for slot in self._day_slots(day)]

    def intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The shift intervals overlapping ``[start, end)``, ordered by start.

        Overlapping shifts are all reported; coverage questions take their union.
        """
        return (slot.interval for slot in self._slots_overlapping(start, end))

    def covered(self, t: datetime) -> bool:
        """Whether ``t`` lies inside coverage (``start <= t < end`` of some interval)."""
        t = _require_aware(t, "t")
        return any(s.interval.start <= t < s.interval.end for s in self._slots_near(t))

    def business_deadline(self, t0: datetime, d: timedelta) -> datetime:
        """The instant at which ``d`` of covered time has elapsed since ``t0`` (SPEC ``bdeadline``).

        The clock is paused outside coverage: from a gap it starts at the next coverage
        start. When ``d`` runs out exactly at the end of a covered stretch, that end is the
        deadline, not the next start, so the deadline belongs to the shift that owed the
        work. ``d == 0`` returns ``t0`` even in a gap.

        Raises ValueError for a negative ``d`` or when coverage stops for
        ``SEARCH_HORIZON_DAYS`` consecutive days before ``d`` is consumed.
        """
        start = _require_aware(t0, "t0")
        if d < timedelta(0):
            raise ValueError(f"a business duration cannot be negative, got {d}")
        if d == timedelta(0):
            return start
        if self.is_24_7 and not self._holidays:
            return start + d
        return self._consume(start, d)

    def business_duration(self, a: datetime, b: datetime) -> timedelta:
        """Covered time in ``[a, b)``, exact to the microsecond; zero when ``b <= a``."""
        start = _require_aware(a, "a")
        end = _require_aware(b, "b")
        return _union_length(
            (slot.interval for slot in self._slots_overlapping(start, end)), start, end
        )

    def business_seconds(self, a: datetime, b: datetime) -> float:
        """Covered seconds in ``[a, b)``; 0 when ``b <= a``."""
        return self.business_duration(a, b).total_seconds()

    def on_duty(self, agent: str, t: datetime) -> bool:
        """Whether ``agent`` works at ``t``: inside (``start <= t < end``) a shift listing
        them, and that shift's start day is not one of their days off."""
        return any(self._works(slot, agent) for slot in self._slots_containing(t))

    def works(self, agent: str, interval: Interval) -> bool:
        """Whether ``agent`` is on duty throughout ``interval`` (one of this calendar's):
        listed on it, and its start day is not one of the agent's days off."""
        listed = agent in interval.agents
        return listed and interval.day.weekday() not in self._days_off.get(agent, ())

    def agents_on_duty(self, t: datetime) -> list[str]:
        """The agents on duty at ``t`` (see ``on_duty``), sorted.

        In 24/7 mode any agent id is on duty, so only the agents this calendar knows of
        (roster, days off, holiday lists) can be enumerated.
        """
        return self._agents_working(self._slots_containing(t))

    def shift_at(self, t: datetime) -> Interval | None:
        """The interval a deadline at ``t`` belongs to: the one covering the instant just
        before ``t`` (``start < t <= end``).

        A deadline consumed exactly at a shift's end thus belongs to the shift that just
        ended. Among overlapping candidates the one ending latest wins (then the later
        start, then the name, for determinism). None when ``t`` is neither inside coverage
        nor at the end of a covered stretch. In 24/7 mode this is the synthetic ``"24/7"``
        interval of the local day.
        """
        slots = list(self._slots_ending_at_or_after(t))
        if not slots:
            return None
        return max((slot.interval for slot in slots), key=lambda iv: (iv.end, iv.start, iv.shift))

    def on_duty_at_deadline(self, agent: str, deadline: datetime) -> bool:
        """``on_duty`` read at the instant just before ``deadline`` (``start < D <= end``).

        The agent whose shift ends exactly at the deadline was the one expected to meet it,
        so they count as on duty at it; one whose shift starts exactly then does not.
        """
        return any(self._works(slot, agent) for slot in self._slots_ending_at_or_after(deadline))

    def agents_on_duty_at_deadline(self, deadline: datetime) -> list[str]:
        """The agents for whom ``on_duty_at_deadline`` holds, sorted."""
        return self._agents_working(self._slots_ending_at_or_after(deadline))

    def next_coverage_start(self, t: datetime) -> datetime | None:
        """The earliest covered instant at or after ``t``: ``t`` itself when covered, else
        the start of the next covered stretch; None when there is no coverage within
        ``SEARCH_HORIZON_DAYS`` days."""
        start = _require_aware(t, "t")
        for slot in self._slots_from(start):
            return max(start, slot.interval.start)
        return None

    def _build_regular_windows(self) -> tuple[_Window, ...]:
        """The windows of an ordinary day; 24/7 mode is one 24 h window anyone may work."""
        if self.is_24_7:
            return (_Window(ROUND_THE_CLOCK, _MIDNIGHT, _MIDNIGHT, self._known_agents, True),)
        return tuple(_Window(s.name, s.start, s.end, s.agents, False) for s in self._shifts)

    def _windows_for(self, day: date) -> tuple[_Window, ...]:
        """Holidays replace the windows that start that day; crossing ones from the day
        before are untouched because they belong to their own start day."""
        holiday = self._holidays.get(day)
        if holiday is None:
            return self._regular_windows
        if holiday.start is None or holiday.end is None:
            return ()
        if holiday.agents is not None:
            agents, open_roster = holiday.agents, False
        elif self.is_24_7:
            agents, open_roster = self._known_agents, True
        else:
            agents, open_roster = self._regular_agents, False
        return (_Window(holiday.name, holiday.start, holiday.end, agents, open_roster),)

    def _compute_day_slots(self, day: date) -> tuple[_Slot, ...]:
        """Place one local day's windows on the UTC timeline (cached per date)."""
        slots = []
        for window in self._windows_for(day):
            start = self._to_utc(day, window.start)
            end_day = day if window.end > window.start else day + timedelta(days=1)
            end = self._to_utc(end_day, window.end)
            if end > start:
                interval = Interval(
                    start=start, end=end, shift=window.name, day=day, agents=window.agents
                )
                slots.append(_Slot(interval, window.open_roster))
        slots.sort(key=lambda s: (s.interval.start, s.interval.end, s.interval.shift))
        return tuple(slots)

    def _to_utc(self, day: date, wall: time) -> datetime:
        return datetime.combine(day, wall, tzinfo=self._timezone).astimezone(UTC)

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self._timezone).date()

    def _slots_overlapping(self, start: datetime, end: datetime) -> Iterator[_Slot]:
        """Slots with ``slot.start < end`` and ``slot.end > start``, ordered by start.

        Scanning begins a day early because a shift that crosses midnight belongs to the
        day before. Days are visited in order and each day's slots start within that day,
        so the output is ordered without a global sort.
        """
        return self._scan_overlapping(_require_aware(start, "start"), _require_aware(end, "end"))

    def _scan_overlapping(self, start: datetime, end: datetime) -> Iterator[_Slot]:
        if end <= start:
            return
        day = self._local_date(start) - timedelta(days=1)
        last_day = self._local_date(end)
        while day <= last_day:
            for slot in self._day_slots(day):
                if slot.interval.start < end and slot.interval.end > start:
                    yield slot
            day += timedelta(days=1)

    def _slots_near(self, t: datetime) -> tuple[_Slot, ...]:
        """The slots that can contain ``t``: those of its local day and of the day before (a
        shift is shorter than a day, and one crossing midnight belongs to its start day),
        ordered by start. Every message and every deadline asks, so this is one cached
        lookup instead of a scan."""
        return self._two_days(self._local_date(t))

    def _compute_two_days(self, day: date) -> tuple[_Slot, ...]:
        return self._day_slots(day - timedelta(days=1)) + self._day_slots(day)

    def _slots_containing(self, t: datetime) -> list[_Slot]:
        """Slots with ``start <= t < end``."""
        t = _require_aware(t, "t")
        return [s for s in self._slots_near(t) if s.interval.start <= t < s.interval.end]

    def _slots_ending_at_or_after(self, t: datetime) -> list[_Slot]:
        """Slots with ``start < t <= end``: those covering the instant just before ``t``."""
        t = _require_aware(t, "t")
        near = self._slots_near(t - _ONE_TICK)
        return [s for s in near if s.interval.start < t <= s.interval.end]

    def _slots_from(self, t: datetime) -> Iterator[_Slot]:
        """Slots ending after ``t``, ordered by start, without an end date.

        Stops after ``SEARCH_HORIZON_DAYS`` consecutive days that contribute nothing, so a
        calendar closed for good cannot loop forever.
        """
        day = self._local_date(t) - timedelta(days=1)
        empty_days = 0
        while empty_days < SEARCH_HORIZON_DAYS:
            found = False
            for slot in self._day_slots(day):
                if slot.interval.end > t:
                    found = True
                    yield slot
            empty_days = 0 if found else empty_days + 1
            day += timedelta(days=1)

    def _consume(self, start: datetime, d: timedelta) -> datetime:
        """Walk the intervals from ``start``, spending ``d`` on covered time only.

        The cursor never moves backwards, so overlapping shifts are counted once.
        """
        remaining = d
        cursor = start
        for slot in self._slots_from(start):
            interval = slot.interval
            if interval.end <= cursor:
                continue
            cursor = max(cursor, interval.start)
            available = interval.end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = interval.end
        raise ValueError(
            f"no coverage for {SEARCH_HORIZON_DAYS} consecutive days after {cursor.isoformat()}; "
            f"{remaining} of business time could not be consumed (check shifts and holidays)"
        )

    def _works(self, slot: _Slot, agent: str) -> bool:
        """Listed on the slot (or anyone may work it) and not off on the slot's start day."""
        listed = slot.open_roster or agent in slot.interval.agents
        return listed and slot.interval.day.weekday() not in self._days_off.get(agent, ())

    def _agents_working(self, slots: Iterable[_Slot]) -> list[str]:
        chosen = tuple(slots)
        key = tuple((slot.interval.start, slot.interval.shift) for slot in chosen)
        known = self._working.get(key)
        if known is None:
            names: set[str] = set()
            for slot in chosen:
                candidates = self._known_agents if slot.open_roster else slot.interval.agents
                names.update(agent for agent in candidates if self._works(slot, agent))
            if len(self._working) >= _DAY_CACHE_SIZE:
                self._working.clear()
            known = self._working[key] = sorted(names)
        return list(known)


def _union_length(intervals: Iterable[Interval], start: datetime, end: datetime) -> timedelta:
    """Length of the union of start-ordered intervals, clipped to ``[start, end)``."""
    total = timedelta(0)
    cursor = start
    for interval in intervals:
        lo = max(interval.start, cursor)
        hi = min(interval.end, end)
        if hi > lo:
            total += hi - lo
            cursor = hi
    return total


def _sorted_union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(sorted({agent for group in groups for agent in group}))


def _index_holidays(holidays: Sequence[Holiday]) -> dict[date, Holiday]:
    """One holiday per date: two on the same day would leave its hours ambiguous."""
    index: dict[date, Holiday] = {}
    for holiday in holidays:
        if holiday.day in index:
            raise ValueError(
                f"two holidays on {holiday.day}: {index[holiday.day].name!r} and {holiday.name!r}"
            )
        index[holiday.day] = holiday
    return index


def _validated_days_off(days_off: Mapping[str, frozenset[int]]) -> dict[str, frozenset[int]]:
    """Weekdays follow ``date.weekday()``; anything else is a config typo, not a rule."""
    validated: dict[str, frozenset[int]] = {}
    for agent, weekdays in days_off.items():
        bad = sorted(w for w in weekdays if not 0 <= w <= 6)
        if bad:
            raise ValueError(f"days_off of {agent!r}: weekdays must be 0..6 (Monday=0), got {bad}")
        validated[agent] = frozenset(weekdays)
    return validated


def _reject_duplicate_shift_names(shifts: Sequence[Shift]) -> None:
    """Violations and handover notes are attributed by shift name, so names must be unique."""
    seen: set[str] = set()
    for shift in shifts:
        if shift.name in seen:
            raise ValueError(f"duplicate shift name {shift.name!r}")
        seen.add(shift.name)
