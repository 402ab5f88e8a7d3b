"""Business time: shifts, holidays, days off, DST and business deadlines (SPEC §1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.business_time import (
    SEARCH_HORIZON_DAYS,
    BusinessCalendar,
    Holiday,
    Interval,
    Shift,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

MINUTE = timedelta(minutes=1)
TICK = timedelta(microseconds=1)

# 2024-06-03 is a Monday.
MONDAY = date(2024, 6, 3)
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def shift(name: str, start: str, end: str, *agents: str) -> Shift:
    return Shift(
        name=name, start=time.fromisoformat(start), end=time.fromisoformat(end), agents=agents
    )


DAY = shift("day", "08:30", "17:30", "alice", "bob")
NIGHT = shift("night", "17:30", "00:00", "carol")
LATE = shift("late", "16:00", "01:00", "dave")


def calendar(*shifts: Shift, **kwargs: object) -> BusinessCalendar:
    kwargs.setdefault("timezone", SHANGHAI)
    return BusinessCalendar(shifts=shifts, **kwargs)  # type: ignore[arg-type]


class TestBusinessDeadline:
    def test_crosses_shift_end_into_next_shift_after_a_gap(self) -> None:
        cal = calendar(
            shift("morning", "08:30", "12:00", "alice"),
            shift("afternoon", "13:30", "17:30", "alice"),
        )
        assert cal.business_deadline(at(MONDAY, 11, 50), 30 * MINUTE) == at(MONDAY, 13, 50)

    def test_crosses_into_the_next_day(self) -> None:
        cal = calendar(DAY)
        assert cal.business_deadline(at(MONDAY, 17, 0), 60 * MINUTE) == at(TUESDAY, 9, 0)

    def test_message_in_a_gap_starts_at_next_shift_start(self) -> None:
        cal = calendar(DAY)
        assert cal.business_deadline(at(MONDAY, 2, 0), 10 * MINUTE) == at(MONDAY, 8, 40)

    def test_consumed_exactly_at_shift_end_returns_the_end(self) -> None:
        cal = calendar(DAY)
        assert cal.business_deadline(at(MONDAY, 17, 20), 10 * MINUTE) == at(MONDAY, 17, 30)

    def test_zero_duration_returns_t0_even_in_a_gap(self) -> None:
        cal = calendar(DAY)
        t0 = at(MONDAY, 2, 0)
        assert cal.business_deadline(t0, timedelta(0)) == t0

    def test_negative_duration_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            calendar(DAY).business_deadline(at(MONDAY, 9), -MINUTE)

    def test_result_is_utc(self) -> None:
        deadline = calendar(DAY).business_deadline(at(MONDAY, 9), MINUTE)
        assert deadline.tzinfo is UTC
        assert deadline == datetime(2024, 6, 3, 1, 1, tzinfo=UTC)

    def test_shift_crossing_midnight_belongs_to_its_start_day(self) -> None:
        cal = calendar(LATE)
        assert cal.business_deadline(at(TUESDAY, 0, 50), 20 * MINUTE) == at(TUESDAY, 16, 10)
        assert [iv.day for iv in cal.intervals(at(TUESDAY, 0), at(TUESDAY, 1))] == [MONDAY]

    def test_several_days_of_business_time(self) -> None:
        cal = calendar(DAY)
        assert cal.business_deadline(at(MONDAY, 8, 30), timedelta(hours=9 * 5)) == at(
            MONDAY + timedelta(days=4), 17, 30
        )

    def test_no_coverage_within_horizon_raises(self) -> None:
        closed = [
            Holiday(day=MONDAY + timedelta(days=i), name=f"closed {i}")
            for i in range(-1, SEARCH_HORIZON_DAYS + 2)
        ]
        cal = calendar(DAY, holidays=closed)
        with pytest.raises(ValueError, match="no coverage"):
            cal.business_deadline(at(MONDAY, 9), MINUTE)
        assert cal.next_coverage_start(at(MONDAY, 9)) is None


class TestCoverage:
    def test_adjacent_shifts_merge_into_continuous_coverage(self) -> None:
        cal = calendar(DAY, NIGHT)
        assert cal.covered(at(MONDAY, 17, 30))
        assert cal.business_deadline(at(MONDAY, 17, 25), 10 * MINUTE) == at(MONDAY, 17, 35)
        assert cal.business_seconds(at(MONDAY, 0), at(TUESDAY, 0)) == 15.5 * 3600
        assert cal.business_deadline(at(MONDAY, 23, 55), 10 * MINUTE) == at(TUESDAY, 8, 35)

    def test_overlapping_shifts_are_counted_once(self) -> None:
        cal = calendar(shift("a", "08:00", "12:00", "x"), shift("b", "10:00", "14:00", "y"))
        assert cal.business_seconds(at(MONDAY, 0), at(TUESDAY, 0)) == 6 * 3600
        assert cal.business_deadline(at(MONDAY, 8), timedelta(hours=5)) == at(MONDAY, 13)

    def test_half_open_boundaries(self) -> None:
        cal = calendar(DAY)
        assert cal.covered(at(MONDAY, 8, 30))
        assert not cal.covered(at(MONDAY, 17, 30))
        assert cal.covered(at(MONDAY, 17, 30) - TICK)

    def test_business_seconds_is_zero_for_an_empty_or_reversed_range(self) -> None:
        cal = calendar(DAY)
        assert cal.business_seconds(at(MONDAY, 10), at(MONDAY, 10)) == 0
        assert cal.business_seconds(at(MONDAY, 11), at(MONDAY, 10)) == 0

    def test_full_day_shift(self) -> None:
        cal = calendar(shift("all day", "06:00", "06:00", "alice"))
        assert cal.shifts_on(MONDAY)[0].end - cal.shifts_on(MONDAY)[0].start == timedelta(days=1)
        assert cal.business_deadline(at(MONDAY, 5), timedelta(days=2)) == at(WEDNESDAY, 5)

    def test_intervals_are_ordered_and_in_utc(self) -> None:
        cal = calendar(DAY, NIGHT, LATE)
        found = list(cal.intervals(at(MONDAY, 0), at(WEDNESDAY, 0)))
        assert [iv.start for iv in found] == sorted(iv.start for iv in found)
        assert found[0] == Interval(
            start=datetime(2024, 6, 2, 8, 0, tzinfo=UTC),
            end=datetime(2024, 6, 2, 17, 0, tzinfo=UTC),
            shift="late",
            day=date(2024, 6, 2),
            agents=("dave",),
        )

    def test_next_coverage_start(self) -> None:
        cal = calendar(DAY)
        assert cal.next_coverage_start(at(MONDAY, 2)) == at(MONDAY, 8, 30)
        assert cal.next_coverage_start(at(MONDAY, 17, 30)) == at(TUESDAY, 8, 30)
        assert cal.next_coverage_start(at(MONDAY, 9)) == at(MONDAY, 9)


class TestOnDuty:
    def test_agents_of_the_running_shift(self) -> None:
        cal = calendar(DAY, NIGHT)
        assert cal.agents_on_duty(at(MONDAY, 9)) == ["alice", "bob"]
        assert cal.agents_on_duty(at(MONDAY, 17, 30)) == ["carol"]
        assert cal.agents_on_duty(at(MONDAY, 3)) == []

    def test_days_off(self) -> None:
        cal = calendar(DAY, days_off={"bob": frozenset({MONDAY.weekday()})})
        assert cal.agents_on_duty(at(MONDAY, 9)) == ["alice"]
        assert cal.agents_on_duty(at(TUESDAY, 9)) == ["alice", "bob"]

    def test_night_shift_day_off_follows_its_start_day(self) -> None:
        off_monday = calendar(LATE, days_off={"dave": frozenset({MONDAY.weekday()})})
        assert not off_monday.on_duty("dave", at(TUESDAY, 0, 30))
        assert off_monday.on_duty("dave", at(TUESDAY, 16, 0))
        off_tuesday = calendar(LATE, days_off={"dave": frozenset({TUESDAY.weekday()})})
        assert off_tuesday.on_duty("dave", at(TUESDAY, 0, 30))
        assert not off_tuesday.on_duty("dave", at(TUESDAY, 16, 0))

    def test_days_off_do_not_pause_coverage(self) -> None:
        cal = calendar(DAY, days_off={"alice": frozenset(range(7)), "bob": frozenset(range(7))})
        assert cal.covered(at(MONDAY, 9))
        assert cal.agents_on_duty(at(MONDAY, 9)) == []

    def test_unknown_weekday_is_rejected(self) -> None:
        with pytest.raises(ValueError, match=r"0\.\.6"):
            calendar(DAY, days_off={"alice": frozenset({7})})


class TestDeadlineInstantConvention:
    def test_shift_at_exact_end_is_the_shift_that_ended(self) -> None:
        cal = calendar(DAY, NIGHT)
        ended = cal.shift_at(at(MONDAY, 17, 30))
        assert ended is not None
        assert ended.shift == "day"
        assert ended.end == at(MONDAY, 17, 30)

    def test_shift_at_outside_coverage_is_none(self) -> None:
        cal = calendar(DAY)
        assert cal.shift_at(at(MONDAY, 8, 30)) is None
        assert cal.shift_at(at(MONDAY, 3)) is None
        assert cal.shift_at(at(MONDAY, 17, 30) + TICK) is None

    def test_shift_at_prefers_the_latest_end(self) -> None:
        cal = calendar(shift("a", "08:00", "12:00", "x"), shift("b", "10:00", "14:00", "y"))
        found = cal.shift_at(at(MONDAY, 11))
        assert found is not None
        assert found.shift == "b"

    def test_agent_whose_shift_just_ended_is_on_duty_at_the_deadline(self) -> None:
        cal = calendar(DAY, NIGHT)
        deadline = cal.business_deadline(at(MONDAY, 17, 20), 10 * MINUTE)
        assert cal.on_duty_at_deadline("alice", deadline)
        assert not cal.on_duty_at_deadline("carol", deadline)
        assert cal.agents_on_duty_at_deadline(deadline) == ["alice", "bob"]
        assert cal.agents_on_duty(deadline) == ["carol"]

    def test_day_off_applies_at_the_deadline_too(self) -> None:
        cal = calendar(DAY, days_off={"bob": frozenset({MONDAY.weekday()})})
        assert cal.agents_on_duty_at_deadline(at(MONDAY, 17, 30)) == ["alice"]


class TestHolidays:
    def test_holiday_without_hours_is_skipped_entirely(self) -> None:
        cal = calendar(DAY, holidays=[Holiday(day=TUESDAY, name="festival")])
        assert cal.shifts_on(TUESDAY) == []
        assert cal.business_deadline(at(MONDAY, 17, 20), 20 * MINUTE) == at(WEDNESDAY, 8, 40)
        assert not cal.covered(at(TUESDAY, 10))

    def test_holiday_with_special_hours(self) -> None:
        special = Holiday(
            day=TUESDAY, name="short day", start=time(10), end=time(14), agents=("alice",)
        )
        cal = calendar(DAY, holidays=[special])
        [interval] = cal.shifts_on(TUESDAY)
        assert (interval.shift, interval.agents) == ("short day", ("alice",))
        assert cal.business_deadline(at(MONDAY, 17, 20), 20 * MINUTE) == at(TUESDAY, 10, 10)
        assert cal.agents_on_duty(at(TUESDAY, 11)) == ["alice"]
        assert not cal.on_duty("bob", at(TUESDAY, 11))
        assert not cal.covered(at(TUESDAY, 9))

    def test_holiday_hours_default_to_every_regular_agent(self) -> None:
        special = Holiday(day=TUESDAY, name="short day", start=time(10), end=time(14))
        cal = calendar(DAY, NIGHT, holidays=[special])
        assert cal.agents_on_duty(at(TUESDAY, 11)) == ["alice", "bob", "carol"]

    def test_holiday_hours_may_cross_midnight(self) -> None:
        eve = Holiday(day=MONDAY, name="eve", start=time(20), end=time(2))
        cal = calendar(DAY, holidays=[eve])
        assert cal.covered(at(TUESDAY, 1))
        assert cal.business_seconds(at(MONDAY, 0), at(TUESDAY, 8, 30)) == 6 * 3600

    def test_shift_crossing_into_a_holiday_still_runs(self) -> None:
        cal = calendar(LATE, holidays=[Holiday(day=TUESDAY, name="festival")])
        assert cal.on_duty("dave", at(TUESDAY, 0, 30))
        assert not cal.covered(at(TUESDAY, 16, 30))

    def test_two_holidays_on_one_day_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="two holidays"):
            calendar(DAY, holidays=[Holiday(day=MONDAY, name="a"), Holiday(day=MONDAY, name="b")])

    def test_holiday_needs_both_start_and_end(self) -> None:
        with pytest.raises(ValueError, match="both start and end"):
            Holiday(day=MONDAY, name="half", start=time(10))


class TestRoundTheClock:
    def test_deadline_is_plain_addition(self) -> None:
        cal = calendar()
        assert cal.is_24_7
        t0 = at(MONDAY, 3, 7)
        assert cal.business_deadline(t0, timedelta(days=3, minutes=5)) == t0 + timedelta(
            days=3, minutes=5
        )

    def test_any_agent_is_on_duty_except_on_days_off(self) -> None:
        cal = calendar(days_off={"bob": frozenset({TUESDAY.weekday()})}, roster=["alice"])
        assert cal.on_duty("somebody-new", at(MONDAY, 3))
        assert cal.on_duty("bob", at(MONDAY, 23, 59))
        assert not cal.on_duty("bob", at(TUESDAY, 0))
        assert cal.agents_on_duty(at(MONDAY, 3)) == ["alice", "bob"]
        assert cal.agents_on_duty(at(TUESDAY, 3)) == ["alice"]

    def test_shift_at_is_the_local_calendar_day(self) -> None:
        cal = calendar()
        found = cal.shift_at(at(MONDAY, 12))
        assert found is not None
        assert (found.shift, found.day) == ("24/7", MONDAY)
        assert (found.start, found.end) == (at(MONDAY, 0), at(TUESDAY, 0))
        at_midnight = cal.shift_at(at(TUESDAY, 0))
        assert at_midnight is not None
        assert at_midnight.day == MONDAY

    def test_holidays_still_apply(self) -> None:
        closed = Holiday(day=TUESDAY, name="closed")
        short = Holiday(day=WEDNESDAY, name="short", start=time(9), end=time(12))
        cal = calendar(holidays=[closed, short])
        assert not cal.covered(at(TUESDAY, 12))
        assert cal.business_deadline(at(MONDAY, 23, 0), timedelta(hours=2)) == at(WEDNESDAY, 10)
        assert cal.on_duty("anyone", at(WEDNESDAY, 10))
        assert not cal.on_duty("anyone", at(WEDNESDAY, 13))


class TestDaylightSaving:
    def test_spring_forward_shift_has_two_real_hours(self) -> None:
        spring = date(2024, 3, 31)
        cal = calendar(shift("early", "01:00", "04:00", "alice"), timezone=BERLIN)
        [interval] = cal.shifts_on(spring)
        assert interval.end - interval.start == timedelta(hours=2)
        assert cal.business_seconds(at(spring, 0, tz=BERLIN), at(spring, 5, tz=BERLIN)) == 7200
        deadline = cal.business_deadline(at(spring, 1, 30, tz=BERLIN), timedelta(hours=1))
        assert deadline == at(spring, 3, 30, tz=BERLIN)

    def test_fall_back_shift_has_four_real_hours(self) -> None:
        autumn = date(2024, 10, 27)
        cal = calendar(shift("early", "01:00", "04:00", "alice"), timezone=BERLIN)
        [interval] = cal.shifts_on(autumn)
        assert interval.end - interval.start == timedelta(hours=4)

    def test_local_wall_times_hold_across_the_change(self) -> None:
        cal = calendar(DAY, timezone=BERLIN)
        before, after = cal.shifts_on(date(2024, 3, 30))[0], cal.shifts_on(date(2024, 4, 1))[0]
        assert before.start.hour == 7
        assert after.start.hour == 6


class TestValidation:
    @pytest.mark.parametrize(
        "call",
        [
            lambda cal: cal.business_deadline(datetime(2024, 6, 3, 9), MINUTE),
            lambda cal: cal.covered(datetime(2024, 6, 3, 9)),
            lambda cal: cal.on_duty("alice", datetime(2024, 6, 3, 9)),
            lambda cal: cal.agents_on_duty(datetime(2024, 6, 3, 9)),
            lambda cal: cal.shift_at(datetime(2024, 6, 3, 9)),
            lambda cal: cal.on_duty_at_deadline("alice", datetime(2024, 6, 3, 9)),
            lambda cal: cal.business_seconds(datetime(2024, 6, 3, 9), at(MONDAY, 10)),
            lambda cal: cal.intervals(at(MONDAY, 9), datetime(2024, 6, 3, 10)),
            lambda cal: cal.next_coverage_start(datetime(2024, 6, 3, 9)),
        ],
    )
    def test_naive_input_is_rejected(self, call: object) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            call(calendar(DAY))  # type: ignore[operator]

    def test_duplicate_shift_names_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="duplicate shift"):
            calendar(DAY, shift("day", "18:00", "20:00", "x"))

    def test_agents_must_be_a_tuple_of_ids(self) -> None:
        with pytest.raises(TypeError):
            Shift(name="day", start=time(8), end=time(17), agents="alice")  # type: ignore[arg-type]


ZONES = st.sampled_from([SHANGHAI, BERLIN, NEW_YORK])
WALL_TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Random shift sets (incl. crossing midnight, overlaps, 24/7) and holidays near 2024."""
    starts_and_ends = draw(st.lists(st.tuples(WALL_TIMES, WALL_TIMES), min_size=0, max_size=3))
    shifts = [
        Shift(name=f"s{i}", start=start, end=end, agents=(f"agent{i}",))
        for i, (start, end) in enumerate(starts_and_ends)
    ]
    holiday_days = draw(st.sets(st.integers(0, 370), max_size=40))
    holidays = []
    for offset in sorted(holiday_days):
        hours = draw(st.none() | st.tuples(WALL_TIMES, WALL_TIMES))
        start, end = hours if hours is not None else (None, None)
        holidays.append(
            Holiday(
                day=date(2024, 1, 1) + timedelta(days=offset),
                name=f"h{offset}",
                start=start,
                end=end,
            )
        )
    return BusinessCalendar(timezone=draw(ZONES), shifts=shifts, holidays=holidays)


INSTANTS = st.builds(
    lambda offset: YEAR_START + timedelta(microseconds=offset),
    st.integers(0, 366 * 24 * 3600 * 10**6),
)
DURATIONS = st.builds(
    lambda micros: timedelta(microseconds=micros), st.integers(1, 3 * 24 * 3600 * 10**6)
)

PROPERTY_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class TestDeadlineProperties:
    @PROPERTY_SETTINGS
    @given(cal=calendars(), t0=INSTANTS, d=DURATIONS)
    def test_never_earlier_than_wall_clock(
        self, cal: BusinessCalendar, t0: datetime, d: timedelta
    ) -> None:
        assert cal.business_deadline(t0, d) >= t0 + d

    @PROPERTY_SETTINGS
    @given(cal=calendars(), t0=INSTANTS, d=DURATIONS)
    def test_never_strictly_inside_a_gap(
        self, cal: BusinessCalendar, t0: datetime, d: timedelta
    ) -> None:
        deadline = cal.business_deadline(t0, d)
        assert cal.covered(deadline) or cal.covered(deadline - TICK)
        assert cal.shift_at(deadline) is not None

    @PROPERTY_SETTINGS
    @given(cal=calendars(), t0=INSTANTS, a=DURATIONS, b=DURATIONS)
    def test_deadlines_compose(
        self, cal: BusinessCalendar, t0: datetime, a: timedelta, b: timedelta
    ) -> None:
        assert cal.business_deadline(cal.business_deadline(t0, a), b) == cal.business_deadline(
            t0, a + b
        )

    @PROPERTY_SETTINGS
    @given(cal=calendars(), t0=INSTANTS, d=DURATIONS)
    def test_consumes_exactly_d_and_no_later_than_needed(
        self, cal: BusinessCalendar, t0: datetime, d: timedelta
    ) -> None:
        deadline = cal.business_deadline(t0, d)
        assert cal.business_duration(t0, deadline) == d
        assert cal.business_duration(t0, deadline - TICK) < d
        if cal.covered(t0):
            assert cal.business_seconds(t0, deadline) == pytest.approx(d.total_seconds(), abs=1e-6)

    @PROPERTY_SETTINGS
    @given(cal=calendars(), t0=INSTANTS)
    def test_covered_matches_the_listed_intervals(
        self, cal: BusinessCalendar, t0: datetime
    ) -> None:
        nearby = list(cal.intervals(t0 - timedelta(days=2), t0 + timedelta(days=2)))
        assert [iv.start for iv in nearby] == sorted(iv.start for iv in nearby)
        assert cal.covered(t0) == any(iv.start <= t0 < iv.end for iv in nearby)
        assert (cal.shift_at(t0) is not None) == any(iv.start < t0 <= iv.end for iv in nearby)
