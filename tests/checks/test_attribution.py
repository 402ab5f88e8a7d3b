"""Attribution (SPEC §3): who answers for a violation whose deadline is D.

The last agent who wrote to the buyer before D, if on duty at D; else the only agent on duty
at D; else nobody (team level), recorded against the shift. "On duty at D" reads the instant
just before D, so a shift ending exactly at D still counts and one starting at D does not.
"""

from __future__ import annotations

from checks.attribution import attribute
from checks.cs101_unpaid_order_not_chased import Options, evaluate
from checks.subject import Breach
from tests.checks.timeline import (
    DAY,
    LATE,
    SECOND,
    SOLO_DAY,
    agent_says,
    at,
    buyer_says,
    calendar,
    evidence,
    only,
    order,
    shift,
)

D = at("2026-11-02 11:00")  # a Monday, inside the day shift
MONDAY, TUESDAY = 0, 1
EVENING = shift("evening", "17:30", "23:00", "carol")


class TestLastWriter:
    def test_last_agent_who_wrote_before_deadline_and_is_on_duty(self) -> None:
        messages = [
            agent_says("m1", "2026-11-02 09:00", agent="alice"),
            agent_says("m2", "2026-11-02 10:00", agent="bob"),
        ]
        who = attribute(messages, D, calendar(DAY))
        assert (who.agent, who.shift) == ("bob", "day")
        assert who.last_agent_message == messages[1]

    def test_message_exactly_at_deadline_is_not_before_it(self) -> None:
        messages = [
            agent_says("m1", "2026-11-02 09:00", agent="alice"),
            agent_says("m2", D, agent="bob"),
        ]
        assert attribute(messages, D, calendar(DAY)).agent == "alice"

    def test_message_one_second_before_deadline_is_before_it(self) -> None:
        messages = [
            agent_says("m1", "2026-11-02 09:00", agent="alice"),
            agent_says("m2", D - SECOND, agent="bob"),
        ]
        assert attribute(messages, D, calendar(DAY)).agent == "bob"

    def test_auto_reply_is_not_the_last_writer(self) -> None:
        messages = [
            agent_says("m1", "2026-11-02 09:00", agent="alice"),
            agent_says("m2", "2026-11-02 10:00", agent="bob", auto=True),
        ]
        assert attribute(messages, D, calendar(DAY)).agent == "alice"

    def test_buyer_messages_are_ignored(self) -> None:
        messages = [
            agent_says("m1", "2026-11-02 09:00", agent="alice"),
            buyer_says("m2", "2026-11-02 10:00"),
        ]
        assert attribute(messages, D, calendar(DAY)).agent == "alice"

    def test_last_writer_from_the_day_before_still_counts_if_on_duty(self) -> None:
        messages = [agent_says("m1", "2026-11-01 16:00", agent="bob")]
        assert attribute(messages, D, calendar(DAY)).agent == "bob"

    def test_last_writer_whose_shift_ended_exactly_at_deadline_is_on_duty(self) -> None:
        end = at("2026-11-02 17:30")
        messages = [agent_says("m1", "2026-11-02 12:00", agent="alice")]
        who = attribute(messages, end, calendar(DAY, EVENING))
        assert (who.agent, who.shift) == ("alice", "day")


class TestOnlyAgentOnDuty:
    def test_last_writer_off_duty_falls_back_to_the_only_agent_on_duty(self) -> None:
        messages = [agent_says("m1", "2026-11-01 19:00", agent="carol")]
        who = attribute(messages, D, calendar(SOLO_DAY, EVENING))
        assert (who.agent, who.shift) == ("alice", "day")
        assert who.last_agent_message == messages[0]

    def test_no_writer_and_a_single_agent_on_duty(self) -> None:
        who = attribute([], D, calendar(SOLO_DAY))
        assert (who.agent, who.shift, who.last_agent_message) == ("alice", "day", None)

    def test_agent_whose_shift_starts_exactly_at_deadline_is_not_on_duty(self) -> None:
        end = at("2026-11-02 17:30")
        messages = [agent_says("m1", "2026-11-02 17:00", agent="carol")]
        who = attribute(messages, end, calendar(SOLO_DAY, EVENING))
        assert (who.agent, who.shift) == ("alice", "day")

    def test_writer_on_a_day_off_falls_back_to_the_only_colleague(self) -> None:
        cal = calendar(DAY, days_off={"alice": frozenset({MONDAY})})
        messages = [agent_says("m1", "2026-11-02 10:00", agent="alice")]
        assert attribute(messages, D, cal).agent == "bob"


class TestTeamLevel:
    def test_two_agents_on_duty_and_no_writer_goes_to_the_shift(self) -> None:
        who = attribute([], D, calendar(DAY))
        assert (who.agent, who.shift) == (None, "day")

    def test_writer_off_duty_and_two_agents_on_duty_goes_to_the_shift(self) -> None:
        messages = [agent_says("m1", "2026-11-01 19:00", agent="carol")]
        who = attribute(messages, D, calendar(DAY, EVENING))
        assert (who.agent, who.shift) == (None, "day")

    def test_nobody_on_duty_goes_to_the_shift(self) -> None:
        cal = calendar(SOLO_DAY, days_off={"alice": frozenset({MONDAY})})
        who = attribute([], D, cal)
        assert (who.agent, who.shift) == (None, "day")

    def test_deadline_outside_coverage_has_no_shift(self) -> None:
        who = attribute([], at("2026-11-02 20:00"), calendar(SOLO_DAY))
        assert (who.agent, who.shift) == (None, None)


class TestShiftAcrossMidnight:
    def test_deadline_after_midnight_belongs_to_the_shift_started_the_day_before(self) -> None:
        who = attribute([], at("2026-11-03 00:40"), calendar(LATE))
        assert (who.agent, who.shift) == ("dave", "late")

    def test_day_off_on_the_next_calendar_day_does_not_matter(self) -> None:
        cal = calendar(LATE, days_off={"dave": frozenset({TUESDAY})})
        assert attribute([], at("2026-11-03 00:40"), cal).agent == "dave"

    def test_day_off_on_the_shift_start_day_takes_the_agent_off_duty(self) -> None:
        cal = calendar(LATE, days_off={"dave": frozenset({MONDAY})})
        who = attribute(
            [agent_says("m1", "2026-11-02 18:00", agent="dave")], at("2026-11-03 00:40"), cal
        )
        assert (who.agent, who.shift) == (None, "late")

    def test_shift_ending_exactly_at_deadline_after_midnight(self) -> None:
        who = attribute([], at("2026-11-03 01:00"), calendar(LATE))
        assert (who.agent, who.shift) == ("dave", "late")


class TestThroughARule:
    def test_rule_records_the_last_writer_of_this_buyer_only(self) -> None:
        ev = evidence(
            orders=[order("o1", created="2026-11-02 10:00")],
            messages=[
                agent_says("m1", "2026-11-02 09:00", agent="alice"),
                agent_says("m2", "2026-11-02 09:30", agent="bob", buyer="b2"),
            ],
        )
        outcome = only(evaluate(ev, Options()))
        assert isinstance(outcome, Breach)
        assert (outcome.agent, outcome.shift) == ("alice", "day")

    def test_rule_records_a_team_level_breach_with_null_agent(self) -> None:
        outcome = only(evaluate(evidence(orders=[order("o1")]), Options()))
        assert isinstance(outcome, Breach)
        assert outcome.agent is None
        assert outcome.shift == "day"
        assert outcome.evidence.last_agent_message is None

    def test_rule_deadline_at_shift_end_is_attributed_to_that_shift(self) -> None:
        # Created 16:30, D = 17:30 exactly at the end of alice's shift; carol starts then.
        ev = evidence(
            orders=[order("o1", created="2026-11-02 16:30")],
            messages=[agent_says("m1", "2026-11-02 16:00", agent="carol")],
            calendar=calendar(SOLO_DAY, EVENING),
        )
        outcome = only(evaluate(ev, Options()))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == at("2026-11-02 17:30")
        assert (outcome.agent, outcome.shift) == ("alice", "day")
